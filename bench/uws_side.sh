#!/bin/bash
# Issue 16's figures next to uWebSockets, under uWebSockets' own C load
# generator (benchmarks/load_test.c): server CPU per echoed message and the
# server's memory, for our `dillws --listen --echo --threads 1` (io_uring,
# and epoll only with DILL_URING=0) and uWebSockets' examples/EchoServer.
# The servers take turns within each round (the order rotates by round);
# medians over the rounds and the median of the per-round ratios
# dill / uWebSockets are printed at the end.
#
# Usage: bench/uws_side.sh DILLWS UWS_ECHOSERVER LOAD_TEST [rounds] [shapes]
#   shapes: space-separated CONNSxBYTES (1k = 1024, 16k = 16384),
#           default "100x20 1000x20 100x1k 1000x1k 100x16k".
#   UWS_ECHOSERVER may be "" (only our rows); without LOAD_TEST the script
#   says so and exits 0 (nothing to measure with).  The EchoServer is run as
#   `ECHOSERVER 0` and its port read from "Listening on port N" (the stock
#   example ignores the argument and listens on 9001; RESULTS.md gives the
#   one-line change that takes the port from argv[1]).
#   Environment: IDLE=S   after the window, stop load_test (SIGSTOP: the
#                         connections stay open, no traffic) and read the
#                         server's memory again after S seconds (default 2;
#                         0: not);
#                SC=1     after the rounds, one more run per server and
#                         shape under `perf stat -e raw_syscalls:sys_enter`
#                         (its own runs: perf's cost stays out of the CPU
#                         figures);
#                SERVERS  which of "uring epoll uws" to run (default all);
#                         uring/N and epoll/N run ours with N shared
#                         stacks (DILL_STACKSHARE=N, stackshare(3)).
#
# How a run measures: load_test prints "Msg/sec" every 4 s (uSockets'
# LIBUS_TIMEOUT_GRANULARITY) counting the echoes since its previous line.
# The window is from its first such line (connections all open) to the
# second: the server's utime + stime (/proc/PID/stat) over the window,
# divided by the echoes the second line reports (its rate x 4), is the CPU
# per message; VmRSS, RssAnon and RssFile (/proc/PID/status) are read at
# the end of the window ("active") and, with IDLE, after the pause ("idle").
set -u
DILLWS=${1:-}
UWS=${2:-}
LT=${3:-}
ROUNDS=${4:-3}
SHAPES=${5:-"100x20 1000x20 100x1k 1000x1k 100x16k"}
IDLE=${IDLE:-2}
SERVERS=${SERVERS:-"uring epoll uws"}
if [ -z "$LT" ] || [ ! -x "$LT" ]; then
    echo "uws_side: skipped: no uWebSockets load_test given" \
        "(usage: $0 DILLWS UWS_ECHOSERVER LOAD_TEST [rounds] [shapes])"
    exit 0
fi
[ -x "$DILLWS" ] || { echo "uws_side: no dillws at '$DILLWS'" >&2; exit 1; }
if [ -z "$UWS" ] || [ ! -x "$UWS" ]; then
    echo "uws_side: no uWebSockets EchoServer given: our rows only"
    SERVERS=$(echo " $SERVERS " | sed 's/ uws / /')
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
TCK=$(getconf CLK_TCK)
WIN=4   # load_test's report interval, seconds

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Packets the kernel dropped from its per-CPU input queues (all CPUs,
# since boot): loopback traffic goes through them, and on this shared
# machine a burst from 1,000 connections sometimes overflows them; a drop
# costs the closed loop a retransmission timeout (200 ms or more).
drops() {
    local n=0 a b r
    while read -r a b r; do n=$((n + 16#$b)); done </proc/net/softnet_stat
    echo $n
}
mem() { awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s ", $2}' "/proc/$1/status"; }
bytes() { case $1 in *k) echo $((${1%k} * 1024));; *) echo "$1";; esac; }

start_server() {   # start_server NAME; sets SPID and PORT
    local ss=""
    case $1 in */*) ss=${1#*/};; esac
    case $1 in
    uws) "$UWS" 0 >"$T/srv.log" 2>&1 & ;;
    uring*) DILL_URING=1 DILL_STACKSHARE=$ss "$DILLWS" --listen 127.0.0.1:0 \
        --echo --threads 1 --timeout 300 >"$T/srv.log" 2>&1 & ;;
    epoll*) DILL_URING=0 DILL_STACKSHARE=$ss "$DILLWS" --listen 127.0.0.1:0 \
        --echo --threads 1 --timeout 300 >"$T/srv.log" 2>&1 & ;;
    esac
    SPID=$!
    PORT=""
    for _ in $(seq 200); do
        PORT=$(sed -n -e 's/^Listening on port \([0-9]*\).*/\1/p' \
            -e 's/.*listening on ws:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$T/srv.log")
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    return 1
}

run() {   # run ROUND NAME CONNS BYTES [perf]: prints one RUN or FAILED line
    local r=$1 name=$2 c=$3 s=$4 perf=${5:-}
    if ! start_server "$name"; then
        echo "FAILED $r $name ${c}x$s: no port: $(head -c 200 "$T/srv.log")"
        kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
        return
    fi
    local fd lt n=0 t0="" t1="" c0="" c1="" d0="" d1="" rate="" act="" idle=""
    local why="" ppid="" up=0 lines=0 est
    exec {fd}< <(exec stdbuf -oL "$LT" "$c" 127.0.0.1 "$PORT" 0 0 "$s" 2>&1)
    lt=$!
    while read -r -t 60 -u "$fd" line; do
        lines=$((lines + 1))
        case $line in
        Response:*) up=$((up + 1)) ;;
        Msg/sec:*)
            n=$((n + 1))
            if [ $n = 1 ]; then
                c0=$(ticks "$SPID"); t0=$(date +%s%N); d0=$(drops)
                if [ -n "$perf" ]; then
                    perf stat -x, -e raw_syscalls:sys_enter -p "$SPID" \
                        -o "$T/perf" -- sleep $WIN &
                    ppid=$!
                fi
            else
                c1=$(ticks "$SPID"); t1=$(date +%s%N); d1=$(drops)
                act=$(mem "$SPID")
                rate=${line#Msg/sec: }
                break
            fi ;;
        Closed!*|ERROR*) why=$line; break ;;
        esac
    done
    [ -n "$ppid" ] && wait "$ppid"
    # For a failed run: the server's side of its connections, its state.
    est=$(ss -Htn state established "( sport = :$PORT )" 2>/dev/null | wc -l)
    est="$est established, server $(awk '{print $3}' "/proc/$SPID/stat")"
    est="$est in $(cat "/proc/$SPID/wchan" 2>/dev/null)"
    if [ -n "$rate" ] && [ "$IDLE" != 0 ]; then
        kill -STOP "$lt"; sleep "$IDLE"; idle=$(mem "$SPID")
    fi
    kill -KILL "$lt" 2>/dev/null
    exec {fd}<&-
    kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
    if [ -z "$rate" ]; then
        echo "FAILED $r $name ${c}x$s: ${why:-no second report within 60 s}" \
            "($up of $c connections upgraded, $n reports, $lines lines;" \
            "$est)"
        return 1
    fi
    local calls=""
    [ -n "$perf" ] && calls=$(awk -F, '/raw_syscalls/ {print $1}' "$T/perf")
    awk -v r="$r" -v l="$name" -v c="$c" -v s="$s" -v rate="$rate" -v w=$WIN \
        -v dt=$(((t1 - t0) / 1000)) -v tk=$((c1 - c0)) -v tck="$TCK" \
        -v act="$act" -v idle="${idle:-- - -}" -v calls="$calls" \
        -v drops=$((d1 - d0)) 'BEGIN {
        m = rate * w
        printf "%s %s %s %sx%s %.0f msg/s %.2f us/msg active %s idle %s" \
            " drops %d", drops ? "DROPS" : "RUN", r, l, c, s, m / (dt / 1e6),
            m ? tk / tck / m * 1e6 : 0, act, idle, drops
        if(calls != "") printf " syscalls/msg %.3f", calls / m
        printf "\n" }'
    [ $((d1 - d0)) = 0 ]
}

# A run that failed or lost packets in its window is repeated once (the
# first attempt's line stays in the output, out of the medians).
run1() { run "$@" || run "$@"; }

echo "# $(date -u '+%F %H:%M') uws_side: rounds $ROUNDS, shapes $SHAPES," \
    "servers $SERVERS; $(uptime | sed 's/.*load/load/')"
set -- $SERVERS
NS=$#
for r in $(seq "$ROUNDS"); do
    for sh in $SHAPES; do
        c=${sh%x*}; s=$(bytes "${sh#*x}")
        # Rotate the servers' order by round.
        for i in $(seq 0 $((NS - 1))); do
            k=$(((i + r) % NS + 1))
            run1 "$r" "${!k}" "$c" "$s"
        done
    done
    echo "# round $r done, $(uptime | sed 's/.*load/load/')"
done | tee "$T/all"
if [ "${SC:-0}" = 1 ]; then
    for sh in $SHAPES; do
        c=${sh%x*}; s=$(bytes "${sh#*x}")
        for name in $SERVERS; do run1 sc "$name" "$c" "$s" perf; done
    done | tee -a "$T/all"
fi

# Fields of a RUN line: 2 round, 3 server, 4 shape, 5 msg/s, 7 us/msg,
# 10-12 active VmRSS RssAnon RssFile (KiB), 14-16 idle, 18 drops in the
# window, 20 syscalls/msg.  DROPS and FAILED lines are left out.
echo
echo "medians over the rounds (msg/s; server CPU us/msg; active and idle" \
    "VmRSS/RssAnon/RssFile KiB; syscalls/msg) and the median of the" \
    "per-round ratios of our CPU per message to uWebSockets':"
awk '
function med(s,   a, n, i, j, t) {
    n = split(s, a, " "); if(!n) return "-"
    for(i = 1; i <= n; i++) for(j = i + 1; j <= n; j++)
        if(a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
/^RUN/ {
    k = $4 " " $3
    if(!(k in seen)) { seen[k] = 1; keys[nk++] = k }
    if(!($4 in sseen)) { sseen[$4] = 1; shapes[ns++] = $4 }
    if($2 == "sc") { sc[k] = sc[k] " " $20; next }
    rate[k] = rate[k] " " $5; cpu[k] = cpu[k] " " $7
    cpur[$4, $3, $2] = $7; rounds[$2] = 1
    for(f = 10; f <= 12; f++) act[k, f] = act[k, f] " " $f
    if($14 != "-") for(f = 14; f <= 16; f++) idl[k, f] = idl[k, f] " " $f
}
END {
    printf "%-16s %-6s %8s %7s %7s %-22s %-22s %s\n", "shape", "server",
        "msg/s", "us/msg", "x uWS", "active RSS/anon/file", "idle RSS/anon/file",
        "syscalls/msg"
    for(i = 0; i < nk; i++) {
        k = keys[i]; split(k, p, " ")
        ratios = ""
        if(p[2] != "uws") for(rr in rounds)
            if(((p[1], p[2], rr) in cpur) && ((p[1], "uws", rr) in cpur) &&
               cpur[p[1], "uws", rr] > 0)
                ratios = ratios " " cpur[p[1], p[2], rr] / cpur[p[1], "uws", rr]
        rt = ratios == "" ? "-" : sprintf("%.2f", med(ratios))
        printf "%-16s %-6s %8.0f %7.2f %7s %-22s %-22s %s\n", p[1], p[2],
            med(rate[k]), med(cpu[k]), rt,
            med(act[k, 10]) "/" med(act[k, 11]) "/" med(act[k, 12]),
            med(idl[k, 14]) "/" med(idl[k, 15]) "/" med(idl[k, 16]),
            (k in sc) ? med(sc[k]) : "-"
    }
}' "$T/all"
