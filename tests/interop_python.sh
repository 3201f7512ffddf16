#!/bin/bash
# Interoperability with python3-websockets (Debian), an independent RFC 6455
# implementation, in both directions:
#   - our client (tests/peers/ws_client) against its echo server;
#   - its client against our echo server (tests/peers/ws_echo_server);
# with every frame length encoding (0 .. 1 MiB and 16 MiB), text and binary,
# messages fragmented by the peer (async iterator), pings from the peer
# between messages and between fragments, close codes both ways (4000 'bye'
# from the peer, 1001 from us), and a raw-socket peer sending text that is
# not valid UTF-8, to which our side must answer with Close 1007, and other
# protocol violations (bad Close frames, bad control frames, reserved opcode
# and bits, broken fragmentation, wrong masking), answered with 1002.
# Then permessage-deflate both ways, with every memory tier.
set -euo pipefail
. "$(dirname "$0")/interop/lib.sh"

need_peers
[ -x "$PY" ] || skip "$PY is not installed"
"$PY" -c 'import websockets' 2>/dev/null \
    || skip "python3-websockets is not installed"
echo "$name: python3-websockets $("$PY" -c \
    'import websockets; print(websockets.__version__)')"

# --- Our client against the python echo server. -------------------------
start_server pyserver "$PY" "$idir/py_echo_server.py" -n 5 -t 55
url=ws://127.0.0.1:$PORT
run c-sizes 30 "${client[@]}" "$url/echo"
expect_pass c-sizes '^OK b1M$' '^PEER_CLOSE 1000 done$'
run c-frag-ping 30 "${client[@]}" -c 1001 -r "going away" "$url/frag/ping"
expect_pass c-frag-ping '^OK t65536$' '^PEER_CLOSE 1001 going away$'
run c-peer-close 30 "${client[@]}" -s t5,b3 -W "$url/close/4000/2"
expect_pass c-peer-close '^PEER_CLOSE 4000 bye$'
# The Close frame may arrive in the same read as the 101 answer.
run c-close-at-once 30 "${client[@]}" -s "" -W "$url/close/4000/0"
expect_pass c-close-at-once '^PEER_CLOSE 4000 bye$'
run c-large 40 "${client[@]}" -s t0 -L "$url/frag"
expect_pass c-large '^OK t16M$' '^OK b16M$'
stop_server pyserver
expect_log pyserver \
    '^CONN path=/frag/ping msgs=14 pings=42 pongs=42 close_code=1001 '\
'close_reason=going_away$' \
    "python server: 42 pongs from us, our close 1001 received"
expect_log pyserver '^CONN path=/close/4000/2 msgs=2 .* close_code=4000 ' \
    "python server: our answer to its close 4000 echoes the code"
expect_log pyserver '^CONN path=/echo msgs=14 .* close_code=1000 ' \
    "python server: normal close"

# --- The python client against our echo server. -------------------------
ncases=$("$PY" "$idir/py_raw.py" cases)
start_server ours "${server[@]}" -n $((24 + ncases)) -t 55
url=ws://127.0.0.1:$PORT
run p-sizes 30 "$PY" "$idir/py_client.py" --burst 300 "$url/echo"
expect_pass p-sizes '^OK b1048576$' '^BURST 300$' '^PEER_CLOSE 1000 '
run p-frag-ping 30 "$PY" "$idir/py_client.py" --frag --ping --close 4000 \
    --reason bye "$url/echo"
expect_pass p-frag-ping '^PONGS 42/42$' '^PEER_CLOSE 4000 '
run p-our-close 30 "$PY" "$idir/py_client.py" --script t5,b6 --wait-close \
    "$url/close/1001/2"
expect_pass p-our-close '^PEER_CLOSE 1001 going_away$'
run p-large 40 "$PY" "$idir/py_client.py" --script t0 --large --frag "$url/echo"
expect_pass p-large '^OK t16777216$' '^OK b16777216$'
run p-parallel 30 "$PY" "$idir/py_client.py" --parallel 20 --ping \
    --script t0,b1,t125,b126,t65536,b65536 "$url/echo"
expect_pass p-parallel '^PARALLEL 20$'
run p-raw 30 "$PY" "$idir/py_raw.py" client "$PORT"
expect_pass p-raw '^CASE invalid-byte close=1007 PASS' \
    '^CASE wrong-masking close=1002 PASS'
stop_server ours
expect_log ours \
    '^CONN [0-9]+ path=/echo msgs=14 .* end=peer-close status=4000 '\
'reason=bye$' \
    "our server reports the python client's close 4000 bye"
expect_log ours \
    '^CONN [0-9]+ path=/close/1001/2 msgs=2 .* end=closed status=1001 ' \
    "our close 1001 answered by the python client"
n=$(grep -Ec '^CONN [0-9]+ path=/echo msgs=1 bytes=[0-9]+ end=EPROTO ' \
    "$work/ours.log" || true)
[ "$n" -eq "$ncases" ] && echo "ok   our server failed $n bad connections" \
    || fail "our server ended $n of $ncases bad connections with EPROTO"

# --- Raw python server sending bad UTF-8 to our client. ------------------
start_server raw "$PY" "$idir/py_raw.py" server
for i in $(seq "$ncases"); do
    run "c-raw-$i" 20 "${client[@]}" -s t5 "ws://127.0.0.1:$PORT/"
    if [ "$RC" -eq 1 ] && has "$work/c-raw-$i.out" '^ERROR recv t5: EPROTO$'
    then
        echo "ok   c-raw-$i: our client failed with EPROTO"
    else
        fail "c-raw-$i: wanted ERROR recv t5: EPROTO"
        cat "$work/c-raw-$i.out"
    fi
done
stop_server raw
cat "$work/raw.log"
has "$work/raw.log" '^RESULT PASS$' || fail "raw server: our client's closes"

# --- permessage-deflate (python3-websockets compresses by default). -------
# Our client, with each memory tier, against the python echo server; the
# python client against our server with -z; fragmented compressed
# messages with pings between fragments, and 16 MiB messages.
start_server pyz "$PY" "$idir/py_echo_server.py" -n 5 -t 55
url=ws://127.0.0.1:$PORT
run cz-notakeover 30 "${client[@]}" -z 0 "$url/echo"
expect_pass cz-notakeover '^DEFLATE server_window=[0-9]+ client_window=[0-9]+ '\
'snct=1 cnct=1$' '^OK b1M$' '^PEER_CLOSE 1000 done$'
run cz-w9 30 "${client[@]}" -z 20000 "$url/frag/ping"
expect_pass cz-w9 '^DEFLATE server_window=9 client_window=9 snct=0 cnct=0$' \
    '^OK t65536$'
run cz-w12 30 "${client[@]}" -z 42000 -s t5,b70000,t1M "$url/frag"
expect_pass cz-w12 '^DEFLATE server_window=12 client_window=12 snct=0 '\
'cnct=0$' '^OK t1M$'
run cz-w15 30 "${client[@]}" -z 400000 "$url/echo"
expect_pass cz-w15 '^DEFLATE .* snct=0 cnct=0$' '^OK b1M$'
run cz-large 40 "${client[@]}" -z 0 -s t0 -L "$url/frag"
expect_pass cz-large '^OK t16M$' '^OK b16M$'
stop_server pyz
n=$(grep -c '^EXT path=.* permessage-deflate' "$work/pyz.log" || true)
[ "$n" -eq 5 ] && echo "ok   python server agreed deflate 5 times" \
    || fail "python server agreed deflate $n times of 5"

for z in 0 20000 400000; do
    start_server "oursz$z" "${server[@]}" -z "$z" -n 8 -t 55
    url=ws://127.0.0.1:$PORT
    run "pz$z-sizes" 30 "$PY" "$idir/py_client.py" --burst 300 "$url/echo"
    expect_pass "pz$z-sizes" '^EXT permessage-deflate' '^OK b1048576$' \
        '^BURST 300$'
    run "pz$z-frag" 30 "$PY" "$idir/py_client.py" --frag --ping "$url/echo"
    expect_pass "pz$z-frag" '^EXT permessage-deflate' '^PONGS 42/42$'
    run "pz$z-large" 40 "$PY" "$idir/py_client.py" --script t0 --large \
        --frag "$url/echo"
    expect_pass "pz$z-large" '^OK t16777216$' '^OK b16777216$'
    run "pz$z-parallel" 30 "$PY" "$idir/py_client.py" --parallel 5 \
        --script t0,b1,t125,b126,t65536,b65536 "$url/echo"
    expect_pass "pz$z-parallel" '^PARALLEL 5$'
    stop_server "oursz$z"
done
n=$(grep -Ec '^DEFLATE [0-9]+ server_window' "$work/oursz0.log" || true)
[ "$n" -eq 8 ] && echo "ok   our server agreed deflate 8 times" \
    || fail "our server agreed deflate $n times of 8"
has "$work/oursz20000.log" '^DEFLATE [0-9]+ server_window=9 client_window=9 ' \
    && echo "ok   our server: the 9-bit tier was agreed" \
    || fail "our server: the 9-bit tier was not agreed"

finish
