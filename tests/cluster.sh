#!/bin/bash
# Several dill servers linked through Redis, behind HAProxy (issue 17):
# redis-server, three `dillws --listen --broadcast --redis` nodes and
# haproxy (docs/haproxy.cfg's settings, ports filled in) on free ports of
# 127.0.0.1 (tests/cluster.lib).  Checks: a message sent to one node
# reaches the clients of the others; every node answers GET /health
# (dillws --health); HAProxy spreads clients over the nodes and checks
# them with that GET (a killed node is marked down, a restarted one up);
# when a node is killed its clients (examples/reconnect_client --listen)
# come back through HAProxy to the others and get the next broadcast; the
# killed node, restarted, is taken back.  Then the same behind nginx
# (docs/nginx.conf), and two examples/ws_chat --redis servers sharing one
# room.  Skipped (77) without redis-server, haproxy or hiredis in the
# build (nginx and ws_chat parts: when they are there).  1,000 clients
# with churn: tests/cluster_churn.sh.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cluster.lib"
RC=$B/reconnect_client
[ -x "$RC" ] || { echo "skipped: no $RC (examples not built)"; exit 77; }

"$D" --listen 127.0.0.1:0 --broadcast --redis http://127.0.0.1/ --timeout 1 2>"$T/bad.err"
check "dillws --redis with a bad URL: status 2" \
    "[ \$? = 2 ] && grep -q 'redis http://127.0.0.1/' $T/bad.err"
"$D" --listen 127.0.0.1:0 --echo --redis redis://127.0.0.1/ --timeout 1 2>"$T/bad.err"
check "dillws --redis without --broadcast: status 2" "[ \$? = 2 ]"

redis_start
node 1; node 2; node 3 --threads 2

# crosses FROM TO TEXT OUT: a listening client of URL TO (output in OUT)
# gets TEXT sent to URL FROM; retried, since the receiving server
# subscribes to Redis in the background.
crosses() {
    "$RC" "$2" 30 --listen >"$4" 2>&1 &
    PIDS="$PIDS $!"
    for i in $(seq 50); do
        echo "$3 $i" | timeout 5 "$D" --linger 0.1 "$1" >/dev/null 2>&1
        grep -q "^msg: .*$3" "$4" && return 0
        sleep 0.1
    done
    return 1
}

# Messages cross nodes: a client of node 2 gets what is sent to node 1.
crosses "ws://127.0.0.1:${NPORT[1]}/direct" \
    "ws://127.0.0.1:${NPORT[2]}/direct" direct "$T/direct.out"
check "a message sent to node 1 reaches a client of node 2" \
    "grep -q '^msg: direct' $T/direct.out"

check "every node answers GET /health with 200" nodes_healthy

haproxy_start

# clients PREFIX N: N listening clients through the balancer on FPORT,
# output in $T/PREFIX1.out...; waits until they are connected.
clients() {
    for c in $(seq "$2"); do
        "$RC" "ws://127.0.0.1:$FPORT/" 60 --listen --hello "hello $c" \
            >"$T/$1$c.out" 2>&1 &
        PIDS="$PIDS $!"
    done
    CPFX=$1
    NC=$2
    for _ in $(seq 100); do
        [ "$(cat "$T/$CPFX"*.out | grep -c '^connected')" -ge "$NC" ] && return 0
        sleep 0.1
    done
}
count() { cat "$T/$CPFX"*.out | grep -c "$1"; }

# broadcast TEXT: sends TEXT through the balancer until every client got
# it (subscriptions to Redis of a node that just got its first client are
# confirmed in the background).  Returns 1 if some client never got it.
broadcast() {
    for _ in $(seq 40); do
        echo "$1" | timeout 5 "$D" --linger 0.1 "ws://127.0.0.1:$FPORT/" >/dev/null 2>&1
        local got=0
        for c in $(seq "$NC"); do grep -q "^msg: $1\$" "$T/$CPFX$c.out" && got=$((got + 1)); done
        [ "$got" = "$NC" ] && return 0
        sleep 0.25
    done
    return 1
}

# kill_node N WHO: kills node N; its clients must come back through the
# balancer WHO to the other nodes and get the next broadcast.
kill_node() {
    local before lost now start end
    before=$(count '^connected')
    start=$(date +%s.%N)
    { kill -9 "${NPID[$1]}"; wait "${NPID[$1]}"; } 2>/dev/null
    for _ in $(seq 200); do
        lost=$(count 'connection lost')
        now=$(count '^connected')
        [ "$lost" -ge 1 ] && [ $((now - before)) -ge "$lost" ] && break
        sleep 0.05
    done
    end=$(date +%s.%N)
    check "$2: the clients of the killed node $1 lost their connection" "[ $lost -ge 1 ]"
    check "$2: they reconnected through it" "[ $((now - before)) -ge $lost ]"
    echo "figure: $2: $lost clients of the killed node reconnected in $($PY -c "print(round($end - $start, 3))") s"
    check "$2: and get the next broadcast, like everyone" "broadcast after$1"
}

# Six listening clients through HAProxy (least connections: two per node).
FPORT=$HPORT
clients c 6
check "every client connected through haproxy" "[ \$(count '^connected') = 6 ]"
per_node() { grep -c '\] open: /$' "$T/node$1.log"; }
check "haproxy spread them over the three nodes" \
    "[ \$(per_node 1) -ge 1 ] && [ \$(per_node 2) -ge 1 ] && [ \$(per_node 3) -ge 1 ]"
check "a message through haproxy reaches the clients of all three nodes" \
    "broadcast before"
kill_node 1 haproxy
# haproxy -db logs the state changes its checks decide on stderr.
for _ in $(seq 100); do grep -q 'nodes/n1 is DOWN' "$T/haproxy.log" && break; sleep 0.1; done
check "haproxy's GET /health check marked the killed node down" \
    "grep -q 'nodes/n1 is DOWN' $T/haproxy.log"
check "and only that one" "! grep -q 'nodes/n[23] is DOWN' $T/haproxy.log"

# The node, back on its port, gets new clients again once its health
# check passes.
node 1 "${NPORT[1]}"
for _ in $(seq 100); do
    for i in 1 2 3; do
        echo "probe" | timeout 2 "$D" -1 --timeout 1 "ws://127.0.0.1:$HPORT/" >/dev/null 2>&1
    done
    [ "$(per_node 1)" -ge 1 ] && break
    sleep 0.2
done
check "the restarted node is back in rotation" "[ \$(per_node 1) -ge 1 ]"
check "haproxy's check marked it up" "grep -q 'nodes/n1 is UP' $T/haproxy.log"

# The same behind nginx (docs/nginx.conf): three clients, node 2 killed.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -x "$NGINX" ]; then
    mkdir -p "$T/ng"
    for _ in 1 2 3; do
        NGPORT=$(free_port)
        sed -e "s/@PORT@/$NGPORT/" -e "s/@N1@/${NPORT[1]}/" \
            -e "s/@N2@/${NPORT[2]}/" -e "s/@N3@/${NPORT[3]}/" \
            -e "s|@DIR@|$T/ng|" "$SRC/docs/nginx.conf" >"$T/ng/nginx.conf"
        "$NGINX" -e "$T/ng/error.log" -p "$T/ng" -c "$T/ng/nginx.conf" \
            >"$T/ng/stdout" 2>&1 &
        NGPID=$!
        PIDS="$PIDS $NGPID"
        for _ in $(seq 100); do
            (exec 3<>"/dev/tcp/127.0.0.1/$NGPORT") 2>/dev/null && break
            kill -0 $NGPID 2>/dev/null || break
            sleep 0.05
        done
        kill -0 $NGPID 2>/dev/null && break
    done
    FPORT=$NGPORT
    clients n 3
    check "every client connected through nginx" "[ \$(count '^connected') = 3 ]"
    check "a message through nginx reaches them all" "broadcast nginx-before"
    kill_node 2 nginx
fi

# examples/ws_chat --redis: two chat servers, one room.
CHAT=$B/ws_chat
if [ -x "$CHAT" ]; then
    for i in 1 2; do
        "$CHAT" --port 0 --seconds 60 --redis "$URL" >"$T/chat$i.out" 2>&1 &
        PIDS="$PIDS $!"
    done
    for _ in $(seq 100); do
        grep -q 'open http' "$T/chat1.out" && grep -q 'open http' "$T/chat2.out" && break
        sleep 0.05
    done
    CP1=$(sed -n 's/.*127.0.0.1:\([0-9]*\)\/ in two.*/\1/p' "$T/chat1.out")
    CP2=$(sed -n 's/.*127.0.0.1:\([0-9]*\)\/ in two.*/\1/p' "$T/chat2.out")
    crosses "ws://127.0.0.1:$CP1/ws?name=bob" \
        "ws://127.0.0.1:$CP2/ws?name=carol" "hi there" "$T/carol.out"
    check "ws_chat --redis: what bob says on one server reaches carol on the other" \
        "grep -q '^msg: bob: hi there' $T/carol.out && grep -q '^msg: \* bob joined' $T/carol.out"
fi

echo "cluster: $PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
