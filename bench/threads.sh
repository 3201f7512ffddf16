#!/bin/bash
# Echo thread scaling: dillws --listen --echo --threads T against
# dillws bench -c C -s 20, for T in 1 2 and C in 100 1000, alternated over
# several rounds.  Prints per run: server msg/s, server CPU (user+sys) per
# message, and the load generator's own CPU.
# Usage: bench/threads.sh [build dir] [rounds] [seconds]
set -u
. "$(dirname "$0")/serve.sh"
B=${1:-build}
ROUNDS=${2:-3}
SECS=${3:-4}
D=$B/dillws
[ -x "$D" ] || { echo "no $D" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
TCK=$(getconf CLK_TCK)

cpu_ticks() {   # utime + stime of a process, in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}

run() {   # run THREADS CONNS
    dillws_serve "$T/srv.log" "$D" --echo --threads "$1" --timeout 120
    local pid=$SRV_PID port=$SRV_PORT
    local c0; c0=$(cpu_ticks $pid)
    /usr/bin/time -f "%U %S" -o "$T/time" "$D" bench -c "$2" -s 20 \
        -d "$SECS" "ws://127.0.0.1:$port/" >"$T/out" 2>&1
    local c1; c1=$(cpu_ticks $pid)
    kill $pid; wait $pid 2>/dev/null
    local msgs; msgs=$(sed -n 's/^messages: *\([0-9]*\) echoed.*/\1/p' "$T/out")
    local errs; errs=$(sed -n 's/^errors: *\([0-9]*\).*/\1/p' "$T/out")
    awk -v t="$1" -v c="$2" -v m="$msgs" -v s="$SECS" -v sc=$((c1 - c0)) \
        -v tck="$TCK" -v e="$errs" -v lg="$(cat "$T/time")" 'BEGIN {
        split(lg, a, " ");
        printf "threads %d conns %4d: %7.0f msg/s  server CPU %5.2f s " \
               "(%.2f us/msg)  loadgen CPU %5.2f s  errors %s\n",
               t, c, m / s, sc / tck, sc / tck / m * 1e6, a[1] + a[2], e }'
}

for r in $(seq "$ROUNDS"); do
    for c in 100 1000; do
        for t in 1 2; do run $t $c; done
    done
done
