#!/bin/bash
# wss echo next to ws echo, for one or more builds alternated:
# dillws --listen 127.0.0.1:0 --echo --threads 1 [--tls-cert --tls-key]
# against dillws bench -c C -s S -d SECS (both sides the same build),
# for C x S in 100 x 20 and 100 x 1024, ws and wss, over several rounds.
# Prints one line per run (msg/s, server and client CPU per message, the
# client's including its connection setup) and, at the end, the median of
# msg/s and server CPU per build with the wss/ws ratio.
# Usage: bench/wss.sh [rounds] [seconds] build-dir...
# (an ECDSA P-256 certificate is made with openssl in a temporary directory)
set -u
. "$(dirname "$0")/serve.sh"
ROUNDS=${1:-3}
SECS=${2:-4}
shift 2 || true
[ $# -gt 0 ] || set -- build
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
TCK=$(getconf CLK_TCK)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/k.pem" -out "$T/c.pem" -days 1 -subj /CN=localhost \
    2>/dev/null || { echo "openssl req failed" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {   # run BUILD PROTO CONNS SIZE
    local D=$1/dillws tls=() scheme=ws
    if [ "$2" = wss ]; then
        tls=(--tls-cert "$T/c.pem" --tls-key "$T/k.pem"); scheme=wss
    fi
    dillws_serve "$T/srv.log" "$D" --echo --threads 1 --timeout 120 "${tls[@]}"
    local pid=$SRV_PID port=$SRV_PORT
    local c0; c0=$(cpu_ticks $pid)
    /usr/bin/time -f "%U %S" -o "$T/time" "$D" bench --insecure -c "$3" \
        -s "$4" -d "$SECS" "$scheme://127.0.0.1:$port/" >"$T/out" 2>&1
    local c1; c1=$(cpu_ticks $pid)
    kill $pid; wait $pid 2>/dev/null
    local msgs; msgs=$(sed -n 's/^messages: *\([0-9]*\) echoed.*/\1/p' "$T/out")
    local errs; errs=$(sed -n 's/^errors: *\([0-9]*\).*/\1/p' "$T/out")
    [ -n "$msgs" ] || { echo "$1 $2 $3 x $4: failed:" >&2; tail -n 3 "$T/out" >&2; }
    awk -v b="$1" -v p="$2" -v c="$3" -v sz="$4" -v m="${msgs:-0}" -v s="$SECS" \
        -v sc=$((c1 - c0)) -v tck="$TCK" -v e="${errs:-?}" \
        -v lg="$(cat "$T/time")" 'BEGIN {
        split(lg, a, " ");
        printf "%s %s %d x %d: %.0f msg/s, server CPU %.2f us/msg, " \
            "client %.2f us/msg, errors %s\n", b, p, c, sz, m / s,
            m ? sc / tck / m * 1e6 : 0, m ? (a[1] + a[2]) / m * 1e6 : 0, e }' \
        | tee -a "$T/all"
}

for r in $(seq "$ROUNDS"); do
    for sz in 20 1024; do
        for b in "$@"; do
            for p in ws wss; do run "$b" $p 100 $sz; done
        done
    done
done

echo "medians over $ROUNDS rounds:"
for b in "$@"; do
    for sz in 20 1024; do
        for p in ws wss; do
            grep "^$b $p 100 x $sz:" "$T/all" | awk '{print $6, $10}' \
                | sort -n -k1 | awk -v n="$ROUNDS" '{r[NR]=$1} END {
                    print r[int((NR + 1) / 2)]}' >"$T/m.$p"
            grep "^$b $p 100 x $sz:" "$T/all" | awk '{print $10}' \
                | sort -n | awk '{r[NR]=$1} END {print r[int((NR + 1) / 2)]}' \
                >"$T/c.$p"
        done
        awk -v b="$b" -v sz="$sz" -v ws="$(cat "$T/m.ws")" \
            -v wss="$(cat "$T/m.wss")" -v cws="$(cat "$T/c.ws")" \
            -v cwss="$(cat "$T/c.wss")" 'BEGIN {
            printf "%s 100 x %d: ws %.0f msg/s (%.2f us), wss %.0f msg/s " \
                "(%.2f us), wss/ws %.2f\n", b, sz, ws, cws, wss, cwss,
                ws ? wss / ws : 0 }'
    done
done
