#!/bin/sh
# Idle WebSocket connections beyond one process's fd limit (issue 16): runs
# PROCS instances of bench_idlemem at once, TOTAL connections in all (each
# its own server process and port, its clients from their own 127.0.0.x
# addresses), and while they hold their connections reads the kernel's
# memory: Slab + PageTables + KernelStack from /proc/meminfo and the TCP
# buffer pages of /proc/net/sockstat, before and after, system-wide (so it
# counts both ends of every loopback connection, and whatever else the
# machine does meanwhile).  Prints each instance's line, then the totals
# per connection and their extrapolation to 1,000,000 connections.
#
# Usage: bench/idlemem_multi.sh BIN TOTAL PROCS [bench_idlemem options]
#   e.g. DILL_HIBERNATE=200 bench/idlemem_multi.sh build/bench_idlemem \
#            100000 6 -s 3000
# HOLD (ms, default 40000) is how long each instance keeps its connections
# after printing; it must exceed the time the last instance needs to open
# its share.
set -eu
bin=$1 total=$2 procs=$3
shift 3
hold=${HOLD:-40000}
per=$((total / procs))
tmp=$(mktemp -d /tmp/idlemem_multi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

kernel_kib() {
    awk '/^(Slab|PageTables|KernelStack):/ {s += $2} END {print s}' \
        /proc/meminfo
}
tcp_pages() {
    awk '/^TCP:/ {for(i = 2; i < NF; i++) if($i == "mem") print $(i + 1)}' \
        /proc/net/sockstat
}
tcp_inuse() {
    awk '/^TCP:/ {print $3}' /proc/net/sockstat
}

k0=$(kernel_kib) p0=$(tcp_pages) u0=$(tcp_inuse)
i=0
while [ $i -lt $procs ]; do
    # 127.0.0.(1 + 5i)...: each instance's clients have addresses of their
    # own (one per 20,000 connections).
    "$bin" -n $per -b $((i * 5)) -w $hold "$@" > "$tmp/out.$i" 2>&1 &
    i=$((i + 1))
done
# Wait (at most the hold time) until every instance has printed its figures.
waited=0
while [ "$(cat "$tmp"/out.* | grep -c '^idle ')" -lt $procs ]; do
    sleep 1
    waited=$((waited + 1000))
    if [ $waited -ge $hold ]; then
        echo "idlemem_multi: instances too slow (raise HOLD)" >&2
        cat "$tmp"/out.* >&2
        exit 1
    fi
done
k1=$(kernel_kib) p1=$(tcp_pages) u1=$(tcp_inuse)
wait
cat "$tmp"/out.*
# "server RssAnon A -> B KiB" of each instance.
user=$(sed -n 's/.*server RssAnon \([0-9]*\) -> \([0-9]*\) KiB.*/\1 \2/p' \
    "$tmp"/out.* | awk '{s += $2 - $1} END {print s}')
awk -v n=$((per * procs)) -v user="$user" -v k=$((k1 - k0)) \
    -v tp=$((p1 - p0)) -v sk=$((u1 - u0)) 'BEGIN {
    printf("total: %d connections in %d processes; server user space " \
        "(RssAnon) %.2f KiB per connection; kernel, both ends: slab + page " \
        "tables + kernel stacks %.2f KiB, TCP buffers %.2f KiB per " \
        "connection (%d more TCP sockets in use)\n", n, '"$procs"', user / n,
        k / n, tp * 4 / n, sk);
    printf("1,000,000 connections: server user space %.2f GiB; kernel %.2f " \
        "GiB for both ends (about half of it the server side)\n",
        user / n * 1e6 / 1048576, (k + tp * 4) / n * 1e6 / 1048576);
}'
