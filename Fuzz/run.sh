#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for a bounded time; exits non-zero on a crash.
#   Fuzz/run.sh [seconds-per-target] [target...]      (default 60 s; targets: FrameDecoderFuzz HandshakeFuzz RESPFuzz)
# Crashing inputs land in Fuzz/artifacts/, corpora in Fuzz/corpus-*/ (both ignored by git).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(FrameDecoderFuzz HandshakeFuzz RESPFuzz)
out=.build-fuzz
mkdir -p "$out" Fuzz/artifacts
status=0
for target in "${targets[@]}"; do
    echo "== building $target"
    # Each target is compiled with the sources it tests, as one module.
    case "$target" in
        RESPFuzz) module=WebSocketRedis; sources=(Sources/WebSocketRedis/RESP.swift) ;;
        *) module=WebSocketCore; sources=($(find Sources/WebSocketCore -name "*.swift")) ;;
    esac
    swiftc -parse-as-library -suppress-warnings -O -sanitize=fuzzer,address -module-name "$module" \
        -I Sources/CZlib -lz \
        "${sources[@]}" "Fuzz/$target.swift" -o "$out/$target" 2>&1 | grep -v "ld.gold: warning" || true
    [ -x "$out/$target" ] || { echo "build of $target failed"; exit 1; }
    mkdir -p "Fuzz/corpus-$target"
    echo "== running $target for ${seconds}s"
    "$out/$target" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix=Fuzz/artifacts/ "Fuzz/corpus-$target" Fuzz/seeds > "$out/$target.log" 2>&1
    code=$?
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|Test unit written|Fatal error" "$out/$target.log"
    if [ $code -ne 0 ]; then
        echo "== $target FAILED (exit $code); see $out/$target.log"
        status=1
    fi
done
exit $status
