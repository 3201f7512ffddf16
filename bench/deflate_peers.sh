#!/bin/bash
# permessage-deflate echo, side by side: our server (dillws --listen --echo
# --deflate), node-ws (perMessageDeflate, threshold 0) and python3-websockets
# (compression on by default), each loaded by the same client, `dillws bench
# --deflate` (1 KiB JSON-like text messages, C connections), alternated for R
# rounds.  Per run it prints the round trips per second and the server's CPU
# time per round trip (utime + stime from /proc/PID/stat), then the median
# of each.  The client offers no context takeover (deflate_memory 0) unless
# MEM is given (e.g. MEM=64k: context takeover with 12-bit windows).
#
# Usage: bench/deflate_peers.sh [build dir] (env: C=100 D=3 R=3 MEM=0)
set -u
B=${1:-build}
C=${C:-100} D=${D:-3} R=${R:-3} MEM=${MEM:-0}
here=$(cd "$(dirname "$0")/.." && pwd)
i=$here/tests/interop
export NODE_PATH=/usr/share/nodejs
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
tick=$(getconf CLK_TCK)

# start NAME COMMAND...: runs a server, sets PORT and PID.
start() {
    local name=$1; shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's/^PORT \([0-9]*\)$/\1/p; s/.*listening on ws:\/\/127.0.0.1:\([0-9]*\).*/\1/p' \
            "$work/$name.out" "$work/$name.err" 2>/dev/null | head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "deflate_peers: $name did not start" >&2
    exit 1
}

cpu() { awk -v t="$tick" '{print ($14 + $15) / t}' "/proc/$1/stat"; }

run() {
    local name=$1 c0 c1 out rate
    c0=$(cpu "$PID")
    out=$("$B/dillws" bench --deflate --deflate-memory "$MEM" -c "$C" \
        -s 1024 -d "$D" "ws://127.0.0.1:$PORT/echo" 2>/dev/null)
    c1=$(cpu "$PID")
    rate=$(echo "$out" | sed -n 's/^messages: *\([0-9]*\) echoed (\([0-9]*\) msg\/s)/\1 \2/p')
    set -- $rate
    local n=$1 r=$2
    local us
    us=$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 1e6 / n}')
    echo "$name round $k: $r msg/s, server $us us CPU per message" \
        "($(echo "$out" | grep '^deflate:' | sed 's/^deflate: *//'))"
    echo "$r $us" >>"$work/$name.runs"
}

start ours "$B/dillws" --listen 127.0.0.1:0 --echo --deflate \
    --deflate-memory "$MEM" --timeout 600
ours=$PID oport=$PORT
start node node "$i/node_echo_server.js" -t 600 --deflate '{"threshold":0}'
node=$PID nport=$PORT
start python /usr/bin/python3 "$i/py_echo_server.py" -t 600
python=$PID pport=$PORT
echo "deflate_peers: $C connections, 1 KiB JSON-like text, $D s per run," \
    "$R rounds, client deflate_memory $MEM; $(nproc) cores, shared"
for k in $(seq "$R"); do
    PID=$ours PORT=$oport run ours
    PID=$node PORT=$nport run node
    PID=$python PORT=$pport run python
done
for name in ours node python; do
    sort -n "$work/$name.runs" | awk -v n="$name" '{r[NR]=$1} END {
        printf "%s median: %d msg/s", n, r[int((NR + 1) / 2)]}'
    sort -n -k2 "$work/$name.runs" | awk '{u[NR]=$2} END {
        printf ", %.1f us server CPU per message\n", u[int((NR + 1) / 2)]}'
done
