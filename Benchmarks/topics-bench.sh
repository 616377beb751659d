#!/usr/bin/env bash
# Topics: fan-out in one process, and delivery across three processes through Redis, with
# websocket-topics-bench (server and load modes) and a redis-benchmark PUBLISH baseline from the
# same run. Servers on CPU 0, the load (and Redis) on CPU 1.
#
#   Benchmarks/topics-bench.sh [SECONDS]
#
# Needs redis-server and redis-benchmark (Debian's redis-server package).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3}
swift build -c release --product websocket-topics-bench >/dev/null
bench=.build/release/websocket-topics-bench
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; pids=(); }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

echo "== fan-out in one process (one loop)"
taskset -c 0 $bench server --port 19700 >/dev/null 2>&1 & server=$!; pids+=($server)
wait_port 19700
for row in "--topics 1 --subscribers 1000 --size 16 --rate 200" "--topics 1 --subscribers 1000 --size 1024 --rate 200" \
           "--topics 100 --subscribers 10000 --size 16 --rate 20" "--topics 100 --subscribers 10000 --size 1024 --rate 20"; do
    # shellcheck disable=SC2086
    taskset -c 1 $bench load --ports 19700 $row --seconds "$seconds" --server-pids $server
done
cleanup

echo "== across three processes through Redis"
taskset -c 1 redis-server --port 19710 --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & pids+=($!)
wait_port 19710
servers=()
for port in 19711 19712 19713; do
    taskset -c 0 $bench server --port $port --redis redis://127.0.0.1:19710 >/dev/null 2>&1 & pids+=($!); servers+=($!)
    wait_port $port
done
all=$(IFS=,; echo "${servers[*]}")
echo "-- one hop: the publisher on the first node, one subscriber on the second"
taskset -c 1 $bench load --ports 19712 --publish-port 19711 --topics 1 --subscribers 1 --size 64 --rate 200 --seconds "$seconds" --server-pids "$all"
echo "-- 3 x 100 subscribers on one topic, 200 msg/s"
taskset -c 1 $bench load --ports 19711,19712,19713 --topics 1 --subscribers 300 --size 64 --rate 200 --seconds "$seconds" --server-pids "$all"
echo "-- as fast as the publisher can, 3 x 10 subscribers"
taskset -c 1 $bench load --ports 19711,19712,19713 --topics 1 --subscribers 30 --size 64 --seconds "$seconds" --server-pids "$all"
echo "-- redis-benchmark PUBLISH on the same Redis, pipelined 16 deep and not"
taskset -c 1 redis-benchmark -p 19710 -q -n 200000 -P 16 publish ws:bench x 2>/dev/null | tr '\r' '\n' | tail -1
taskset -c 1 redis-benchmark -p 19710 -q -n 100000 publish ws:bench x 2>/dev/null | tr '\r' '\n' | tail -1
