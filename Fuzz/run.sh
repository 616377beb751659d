#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for a bounded time.
#   Fuzz/run.sh [seconds-per-target]      (default 60)
# Artifacts (crashing inputs) land in Fuzz/artifacts/, corpora in Fuzz/corpus-*/ (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=.build-fuzz
mkdir -p "$out" Fuzz/artifacts
for target in FrameDecoderFuzz HandshakeFuzz; do
    echo "== building $target"
    swiftc -parse-as-library -suppress-warnings -O -sanitize=fuzzer,address -module-name WebSocketCore \
        -I Sources/CZlib -lz \
        Sources/WebSocketCore/*.swift "Fuzz/$target.swift" -o "$out/$target"
    mkdir -p "Fuzz/corpus-$target"
    echo "== running $target for ${seconds}s"
    "$out/$target" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix=Fuzz/artifacts/ "Fuzz/corpus-$target" Fuzz/seeds 2>&1 | grep -E "^(Done|stat::|==[0-9]+==|SUMMARY|INFO: Seed|artifact_prefix|Test unit written)|Fatal error|precondition" || true
done
