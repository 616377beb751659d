#!/usr/bin/env bash
# The client against the C load generator, both driving websocket-echo (server on CPU 0, the
# generator on CPU 1), alternating three times per row: echo 100 x 16 B and 10 x 64 KiB.
#
#   Benchmarks/client-bench.sh [SECONDS]
#
# Needs the Peers package's loadgen (Benchmarks/run.sh builds it). Prints loadgen's line and
# websocket-client-bench's line for each run; compare msgs_per_s and the client's CPU per message.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-4}
swift build -c release --product websocket-echo >/dev/null
swift build -c release --product websocket-client-bench >/dev/null
(cd Benchmarks/Peers && swift build -c release --product loadgen >/dev/null)
loadgen=Benchmarks/Peers/.build/release/loadgen
taskset -c 0 .build/release/websocket-echo --port 19600 --loops 1 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.5
for row in "-c 100 -s 16" "-c 10 -s 65536"; do
    for _ in 1 2 3; do
        # shellcheck disable=SC2086
        echo "C      $(taskset -c 1 $loadgen echo --port 19600 $row -d 1 -t "$seconds" --server-pid $server)"
        # shellcheck disable=SC2086
        echo "client $(taskset -c 1 .build/release/websocket-client-bench --port 19600 $row -d 1 -t "$seconds" --server-pid $server)"
    done
done
