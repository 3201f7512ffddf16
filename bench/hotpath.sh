#!/bin/bash
# Server CPU per echoed WebSocket message, two dillws builds alternated:
# dillws --listen --echo --threads 1 (ST=N: N threads; without --threads
# the server runs one thread per core) against one load generator
# (dillws bench -c C -s S, always the first build's), for each of
# io_uring and DILL_URING=0, the message shapes below, and optionally
# busy-polling in the server (DILL_BUSYPOLL=us, busypoll(3)).
# Prints one line per run, then medians per row.
# Usage: bench/hotpath.sh OLD_BUILD NEW_BUILD [rounds] [seconds] [shapes]
#   shapes: space-separated CONNSxSIZE, default "1x20 100x20 100x1k 1000x20 1000x1k"
#   BP="0 50" runs the new build once per busy-poll budget (us);
#   LG=new uses the new build as load generator, with DILL_BUSYPOLL=$CBP.
#   SC=1 also counts the server's system calls per echoed message (perf
#   stat -e raw_syscalls:sys_enter on the server for the whole load).
set -u
OLD=$1/dillws
NEW=$2/dillws
ROUNDS=${3:-3}
SECS=${4:-4}
SHAPES=${5:-"1x20 100x20 100x1k 1000x20 1000x1k"}
BP=${BP:-0}
LGB=$OLD; [ "${LG:-old}" = new ] && LGB=$NEW
CBP=${CBP:-0}
for d in "$OLD" "$NEW"; do [ -x "$d" ] || { echo "no $d" >&2; exit 1; }; done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
TCK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {   # run LABEL BINARY URING BUSYPOLL CONNS SIZE
    DILL_URING=$3 DILL_BUSYPOLL=$4 "$2" --listen 127.0.0.1:0 --echo \
        --threads "${ST:-1}" --timeout 120 2>"$T/srv.log" &
    local pid=$! port=""
    for _ in $(seq 400); do
        port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$T/srv.log" 2>/dev/null)
        [ -n "$port" ] && break
        sleep 0.05
    done
    local c0; c0=$(cpu_ticks $pid)
    local perf=""
    if [ "${SC:-0}" = 1 ]; then
        perf stat -x, -e raw_syscalls:sys_enter -p $pid -o "$T/perf" &
        perf=$!
    fi
    DILL_URING=$3 DILL_BUSYPOLL=$CBP "$LGB" bench -c "$5" -s "$6" -d "$SECS" \
        "ws://127.0.0.1:$port/" >"$T/out" 2>&1
    local c1; c1=$(cpu_ticks $pid)
    local sc=""
    if [ -n "$perf" ]; then
        kill -INT $perf; wait $perf 2>/dev/null
        sc=$(awk -F, '/raw_syscalls/ {print $1}' "$T/perf")
    fi
    kill $pid; wait $pid 2>/dev/null
    local msgs; msgs=$(sed -n 's/^messages: *\([0-9]*\) echoed.*/\1/p' "$T/out")
    local errs; errs=$(sed -n 's/^errors: *\([0-9]*\).*/\1/p' "$T/out")
    if [ -z "$msgs" ]; then   # a failed run: say why, keep it out of medians
        echo "FAILED $1 uring=$3 bp=$4 ${5}x$6: $(tail -2 "$T/out" | tr '\n' ' ')"
        return
    fi
    awk -v l="$1" -v u="$3" -v bp="$4" -v c="$5" -v s="$6" -v m="${msgs:-0}" \
        -v d="$SECS" -v sc=$((c1 - c0)) -v tck="$TCK" -v e="${errs:-?}" \
        -v calls="$sc" 'BEGIN {
        printf "RUN %s uring=%s bp=%s %sx%s %.0f msg/s %.2f us/msg errors %s",
            l, u, bp, c, s, m / d, m ? sc / tck / m * 1e6 : 0, e
        if(calls != "") printf " %.2f syscalls/msg", m ? calls / m : 0
        printf "\n" }'
}

for r in $(seq "$ROUNDS"); do
    for u in 1 0; do
        for sh in $SHAPES; do
            c=${sh%x*}; s=${sh#*x}
            # Rotate the order each round.
            if [ $((r % 2)) = 1 ]; then
                run old "$OLD" $u 0 $c $s
                for b in $BP; do run new "$NEW" $u $b $c $s; done
            else
                for b in $BP; do run new "$NEW" $u $b $c $s; done
                run old "$OLD" $u 0 $c $s
            fi
        done
    done
done | tee "$T/all"
echo "medians (msg/s, server us/msg[, syscalls/msg]):"
awk '/^RUN/ {k = $2 " " $3 " " $4 " " $5; r[k] = r[k] " " $6; c[k] = c[k] " " $8; if(NF >= 13) y[k] = y[k] " " $12; if(!(k in o)) {o[k] = n++; keys[n - 1] = k}}
    function med(s,   a, n, i, j, t) { n = split(s, a, " ");
        for(i = 1; i <= n; i++) for(j = i + 1; j <= n; j++) if(a[j] + 0 < a[i] + 0) {t = a[i]; a[i] = a[j]; a[j] = t}
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { for(i = 0; i < n; i++) { printf "%-32s %9.0f %6.2f", keys[i], med(r[keys[i]]), med(c[keys[i]])
        if(keys[i] in y) printf " %6.2f", med(y[keys[i]]); printf "\n" } }' "$T/all"
