#!/bin/bash
# Broadcast against peers (issue 11): the same load generator
# (bench_chatload) drives, in turn within each round, dill's hub
# (dillws --listen --broadcast --threads 1), a Node ws server looping over
# wss.clients (bench/chat_node.js, Debian node-ws) and, when UWS_CHAT names
# its binary, a uWebSockets server that publishes to a topic every client
# subscribed to (built outside the repository: see bench/RESULTS.md).
# Workloads: an all-to-all chat of CLIENTS clients x ROUNDS messages each,
# and 1 publisher to SUBS subscribers x PUBS messages (window 64); 20 B.
# Prints every run, then the medians per server and workload.
# Usage: bench/chat_peers.sh [build dir] [rounds] [clients] [chat msgs]
#                            [subscribers] [fan msgs]
set -u
B=${1:-build}
ROUNDS=${2:-5}
CLIENTS=${3:-100}
CHAT=${4:-100}
SUBS=${5:-1000}
PUBS=${6:-1000}
L=$B/bench_chatload
[ -x "$L" ] && [ -x "$B/dillws" ] || { echo "build $L and dillws" >&2; exit 1; }
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

NAMES=() PORTS=() SPIDS=()
start() {   # start NAME COMMAND...: waits for the port in its output
    local name=$1; shift
    "$@" >"$T/$name.log" 2>&1 &
    local pid=$! port=""
    PIDS+=("$pid")
    for _ in $(seq 200); do
        port=$(sed -n 's/.*listening\( on ws:\/\/127.0.0.1:\| \)\([0-9]*\).*/\2/p' \
            "$T/$name.log" | head -1)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { echo "$name did not start:" >&2; cat "$T/$name.log" >&2; exit 1; }
    NAMES+=("$name") PORTS+=("$port") SPIDS+=("$pid")
}

free_port() {   # a port nobody listens on now (for servers that need one)
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start dill "$B/dillws" --listen 127.0.0.1:0 --broadcast --threads 1
if node -e "require('ws')" 2>/dev/null; then
    start node node "$(dirname "$0")/chat_node.js" 0
else
    echo "node-ws missing: no Node row" >&2
fi
if [ -n "${UWS_CHAT:-}" ]; then start uws "$UWS_CHAT" "$(free_port)"; fi

for r in $(seq "$ROUNDS"); do
    for i in "${!NAMES[@]}"; do
        "$L" "${PORTS[$i]}" "${SPIDS[$i]}" "${NAMES[$i]}" chat "$CLIENTS" "$CHAT" \
            | tee -a "$T/all" || exit 1
    done
    [ "$SUBS" -gt 0 ] || continue
    for i in "${!NAMES[@]}"; do
        "$L" "${PORTS[$i]}" "${SPIDS[$i]}" "${NAMES[$i]}" fan "$SUBS" "$PUBS" 64 \
            | tee -a "$T/all" || exit 1
    done
done

echo "medians of $ROUNDS rounds:"
for w in chat fan; do
    for n in "${NAMES[@]}"; do
        awk -v n="$n" -v w="$w" '$1 == n && $2 == w' "$T/all" >"$T/sel"
        [ -s "$T/sel" ] || continue
        rate=$(awk '{print $5}' "$T/sel" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        cpu=$(awk '{print $7}' "$T/sel" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        printf "%-5s %-4s %9s deliveries/s  %s us server CPU per delivery\n" \
            "$n" "$w" "$rate" "$cpu"
    done
done
