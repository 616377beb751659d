#!/usr/bin/env bash
# The benchmark matrix in one command: our websocket-echo against SwiftNIO's NIOWebSocket,
# Hummingbird, Node's ws and Python's websockets, on this machine, in one run; then the wss://
# rows, ours against NIO over swift-nio-ssl (the others have no TLS here and are skipped).
#
#   Benchmarks/run.sh [--quick] [--servers "ours nio hummingbird node python"] [--baseline PATH]
#                     [--uws PATH [--uws-tls PATH]] [--rows "plain tls"] [--out NAME]
#
# --uws PATH adds uWebSockets: an echo server built from uWebSockets' public source, outside this
# repository, taking `PORT [--compression]` (with SHARED_COMPRESSOR | SHARED_DECOMPRESSOR for the
# deflate row); every row then shows each server's ratio to it too. --uws-tls PATH adds it to the
# wss rows: a uWebSockets SSLApp echo server (uSockets built with LIBUS_USE_OPENSSL), taking
# `PORT CERT KEY`.
# --baseline PATH adds "baseline", another build of websocket-echo (say, of the commit before a
# change), measured in the same run as "ours" so that the two can be compared by ratio.
#
# Server pinned to CPU 0, load generator to CPU 1 (taskset); each figure is the median of 3
# runs (1 with --quick). Writes Benchmarks/results/<date>/raw.txt, RESULTS.md and chart.svg (or
# into Benchmarks/results/NAME with --out; an existing folder is never written over).
# Needs: the Peers package's dependencies (SwiftPM), nodejs + node-ws (apt), websockets (pip).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3; seconds=5; idle=10000; tls_idle=5000; baseline=
servers="ours nio hummingbird node python"
uws=
uws_tls=
rows="plain tls"
out="Benchmarks/results/$(date +%Y-%m-%d)"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) reps=1; seconds=2; idle=2000; tls_idle=1000 ;;
        --rows) rows="$2"; shift ;;
        --out) out="Benchmarks/results/$2"; shift ;;
        --servers) servers="$2"; shift ;;
        --baseline) baseline="$2"; servers="$servers baseline"; shift ;;
        --uws) uws="$2"; servers="$servers uws"; shift ;;
        --uws-tls) uws_tls="$2"; shift ;;
        *) echo "unknown argument $1"; exit 2 ;;
    esac
    shift
done

echo "== building (release)"
swift build -c release --product websocket-echo 2>&1 | tail -1
(cd Benchmarks/Peers && swift build -c release 2>&1 | tail -1)
peers=Benchmarks/Peers/.build/release
loadgen="taskset -c 1 $peers/loadgen"
ulimit -n 65536 || true
if [ -e "$out" ]; then echo "$out exists; choose another with --out NAME"; exit 2; fi
mkdir -p "$out"
raw="$out/raw.txt"
: > "$raw"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)" >> "$raw"

# The test-only certificate the TLS tests use (localhost); the load generator does not check it.
fixtures=Tests/WebSocketServerTests/TLSFixtures
server_pid=
start_server() {  # name, port, mode ("", "deflate", "deflate-shared", "tls" or "fanout")
    local name=$1 port=$2 mode=$3 flag=
    [ "$mode" = deflate ] && flag=--compression
    # No context takeover both ways: shared zlib streams. uWebSockets' --compression is that already.
    if [ "$mode" = deflate-shared ]; then
        case "$name" in ours|baseline) flag="--compression --no-context-takeover" ;; uws) flag=--compression ;; *) return 1 ;; esac
    fi
    [ "$mode" = fanout ] && flag=--fanout
    [ "$mode" = tls ] && flag="--tls-cert $fixtures/server.pem --tls-key $fixtures/server-key.pem"
    case "$name" in
        ours) taskset -c 0 .build/release/websocket-echo --port "$port" --loops 1 $flag > /tmp/bench-server.log 2>&1 & ;;
        baseline) taskset -c 0 "$baseline" --port "$port" --loops 1 $flag > /tmp/bench-server.log 2>&1 & ;;
        nio) [ "$mode" = deflate ] || [ "$mode" = fanout ] && return 1; taskset -c 0 "$peers/nio-echo" --port "$port" --threads 1 $flag > /tmp/bench-server.log 2>&1 & ;;
        hummingbird) [ "$mode" = tls ] || [ "$mode" = fanout ] && return 1; taskset -c 0 "$peers/hummingbird-echo" --port "$port" $flag > /tmp/bench-server.log 2>&1 & ;;
        node) [ "$mode" = tls ] || [ "$mode" = fanout ] && return 1; NODE_PATH=/usr/share/nodejs taskset -c 0 node Benchmarks/Peers/node-echo.js "$port" $flag > /tmp/bench-server.log 2>&1 & ;;
        python) [ "$mode" = tls ] || [ "$mode" = fanout ] && return 1; taskset -c 0 python3 Benchmarks/Peers/python-echo.py "$port" $flag > /tmp/bench-server.log 2>&1 & ;;
        uws)
            if [ "$mode" = tls ]; then
                [ -n "$uws_tls" ] || return 1
                taskset -c 0 "$uws_tls" "$port" "$fixtures/server.pem" "$fixtures/server-key.pem" > /tmp/bench-server.log 2>&1 &
            else
                taskset -c 0 "$uws" "$port" $flag > /tmp/bench-server.log 2>&1 &
            fi ;;
    esac
    server_pid=$!
    # Ready when the port accepts a connection.
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$name did not start"; cat /tmp/bench-server.log; return 1
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; sleep 0.3; }

port=19300
run() {  # label, mode ("", "deflate" or "tls"), loadgen arguments...
    local label=$1 mode=$2; shift 2
    for name in $servers; do
        port=$((port + 1))
        start_server "$name" "$port" "$mode" || { echo "server=$name scenario=$label skipped=1" >> "$raw"; continue; }
        for rep in $(seq "$reps"); do
            line=$($loadgen "$@" --port "$port" --server-pid "$server_pid" 2>&1 | tail -1 || true)
            echo "server=$name scenario=$label rep=$rep $line" | tee -a "$raw"
        done
        stop_server
    done
}

if [[ " $rows " == *" plain "* ]]; then
    run "echo 100x16B" "" echo -c 100 -s 16 -d 1 -t "$seconds"
    run "echo 100x1KiB" "" echo -c 100 -s 1024 -d 1 -t "$seconds"
    run "echo 10x64KiB" "" echo -c 10 -s 65536 -d 1 -t "$seconds"
    run "echo 1x1MiB" "" echo -c 1 -s 1048576 -d 1 -t "$seconds"
    run "echo 100x16B, 16 in flight" "" echo -c 100 -s 16 -d 16 -t "$seconds"
    run "deflate 100x1KiB text" deflate echo -c 100 -s 1024 -d 1 -t "$seconds" --text --deflate
    run "deflate 100x1KiB text, no context takeover" deflate-shared echo -c 100 -s 1024 -d 1 -t "$seconds" --text --deflate
    run "connect" "" connect -c 64 -t "$seconds"
    reps_saved=$reps; reps=1
    run "idle $idle" "" idle -c "$idle"
    reps=$reps_saved
    # Many connections, few busy: 1 % of them send a message every 100 ms; the echo latency.
    run "mostly idle $idle, 1 % sending every 100 ms" "" paced -c "$idle" --active 1 --interval 100 -t "$seconds"
    # One message of 1 KiB published to a topic every connection has joined (ours and uWS only).
    run "fanout 1 KiB to $idle" fanout fanout -c "$idle" -s 1024 -t "$seconds"
fi
if [[ " $rows " == *" tls "* ]]; then
    run "wss echo 100x1KiB" tls echo -c 100 -s 1024 -d 1 -t "$seconds" --tls
    run "wss echo 10x64KiB" tls echo -c 10 -s 65536 -d 1 -t "$seconds" --tls
    run "wss echo 100x16B, 16 in flight" tls echo -c 100 -s 16 -d 16 -t "$seconds" --tls
    run "wss connect" tls connect -c 64 -t "$seconds" --tls
    reps_saved=$reps; reps=1
    run "wss idle $tls_idle" tls idle -c "$tls_idle" --tls
    reps=$reps_saved
fi

python3 Benchmarks/report.py "$raw" "$out"
echo "== wrote $out/RESULTS.md and $out/chart.svg"
