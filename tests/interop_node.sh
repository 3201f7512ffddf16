#!/bin/bash
# Interoperability with node-ws (Debian), an independent RFC 6455
# implementation, in both directions:
#   - our client (tests/peers/ws_client) against its echo server;
#   - its client against our echo server (tests/peers/ws_echo_server);
# with every frame length encoding (0 .. 1 MiB and 16 MiB), text and binary,
# messages fragmented by the peer (send with fin: false, cut inside UTF-8
# characters), pings from the peer between messages and between fragments,
# and close codes both ways (4000 'bye' from the peer, 1001 from us).  The
# node client offers permessage-deflate, which our server must decline
# unless it runs with -z; then permessage-deflate both ways.
set -euo pipefail
. "$(dirname "$0")/interop/lib.sh"

need_peers
need node
node -e "require('ws')" 2>/dev/null || skip "node-ws is not installed"
echo "$name: node $(node --version), ws $(node -p \
    "require('ws/package.json').version")"

# --- Our client against the node echo server. ----------------------------
start_server nodeserver node "$idir/node_echo_server.js" -n 5 -t 55
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
run c-large 40 "${client[@]}" -s t0 -L "$url/frag/ping"
expect_pass c-large '^OK t16M$' '^OK b16M$'
stop_server nodeserver
expect_log nodeserver \
    '^CONN path=/frag/ping msgs=14 pings=42 pongs=42 close_code=1001 '\
'close_reason=going_away$' \
    "node server: 42 pongs from us, our close 1001 received"
expect_log nodeserver '^CONN path=/close/4000/2 msgs=2 .* close_code=4000 ' \
    "node server: our answer to its close 4000 echoes the code"
expect_log nodeserver '^CONN path=/echo msgs=14 .* close_code=1000 ' \
    "node server: normal close"

# --- The node client against our echo server. ----------------------------
start_server ours "${server[@]}" -n 4 -t 55
url=ws://127.0.0.1:$PORT
run n-sizes 30 node "$idir/node_client.js" --burst 300 "$url/echo"
expect_pass n-sizes '^OK b1048576$' '^BURST 300$' '^PEER_CLOSE 1000 '
run n-frag-ping 30 node "$idir/node_client.js" --frag --ping --close 4000 \
    --reason bye "$url/echo"
expect_pass n-frag-ping '^PONGS 42/42$' '^PEER_CLOSE 4000 '
run n-our-close 30 node "$idir/node_client.js" --script t5,b6 --wait-close \
    "$url/close/1001/2"
expect_pass n-our-close '^PEER_CLOSE 1001 going_away$'
run n-large 40 node "$idir/node_client.js" --script t0 --large --frag \
    "$url/echo"
expect_pass n-large '^OK t16777216$' '^OK b16777216$'
stop_server ours
expect_log ours \
    '^CONN [0-9]+ path=/echo msgs=14 .* end=peer-close status=4000 '\
'reason=bye$' \
    "our server reports the node client's close 4000 bye"
expect_log ours \
    '^CONN [0-9]+ path=/close/1001/2 msgs=2 .* end=closed status=1001 ' \
    "our close 1001 answered by the node client"
expect_log ours \
    '^CONN [0-9]+ path=/echo msgs=3 .* end=peer-close status=1000 ' \
    "16 MiB messages from the node client"

# --- permessage-deflate both ways. -----------------------------------------
# node-ws perMessageDeflate with its default windows, without context
# takeover, with windows 8 (node compresses with 9 there: we inflate with
# 9 and compress only what a 256-byte window allows) and with different
# windows each way; threshold 0 so that every message is compressed.
# Each node setting meets our client with every memory tier.
specs=('{"threshold":0}'
  '{"threshold":0,"serverNoContextTakeover":true,"clientNoContextTakeover":true}'
  '{"threshold":0,"serverMaxWindowBits":8,"clientMaxWindowBits":8}'
  '{"threshold":0,"serverMaxWindowBits":9,"clientMaxWindowBits":10}')
wants=('server_window=(9|15) client_window=(9|15)' 'snct=1 cnct=1'
  'server_window=8 client_window=8' 'server_window=9 client_window=10')
for k in 0 1 2 3; do
    start_server "nodez$k" node "$idir/node_echo_server.js" -n 3 -t 55 \
        --deflate "${specs[$k]}"
    url=ws://127.0.0.1:$PORT
    for z in 0 20000 400000; do
        run "cz$k-$z" 30 "${client[@]}" -z "$z" \
            -s t0,t10,t256,t300,b3000,t70000,b1M "$url/frag/ping"
        expect_pass "cz$k-$z" "^DEFLATE .*${wants[$k]}" '^OK b1M$' \
            '^PEER_CLOSE 1000 done$'
    done
    stop_server "nodez$k"
    n=$(grep -Ec '^CONN path=/frag/ping msgs=7 pings=21 pongs=21 ' \
        "$work/nodez$k.log" || true)
    [ "$n" -eq 3 ] && echo "ok   node server ${specs[$k]}: 3 connections" \
        || fail "node server ${specs[$k]}: $n of 3 connections complete"
    has "$work/nodez$k.log" '^EXT path=/frag/ping permessage-deflate$' \
        || fail "node server ${specs[$k]}: deflate not agreed"
done

for z in 0 20000 400000; do
    start_server "oursz$z" "${server[@]}" -z "$z" -n 4 -t 55
    url=ws://127.0.0.1:$PORT
    for k in 0 1 2 3; do
        # 16 MiB once per tier.
        big=; pongs=21
        [ "$k" -eq 0 ] && big=,t16M pongs=24
        run "nz$z-$k" 40 node "$idir/node_client.js" --deflate "${specs[$k]}" \
            --frag --ping --script "t0,t10,t256,t300,b3000,t70000,b1M$big" \
            "$url/echo"
        expect_pass "nz$z-$k" '^EXT permessage-deflate$' '^OK b1048576$' \
            "^PONGS $pongs/$pongs\$"
    done
    stop_server "oursz$z"
    n=$(grep -Ec '^DEFLATE [0-9]+ server_window' "$work/oursz$z.log" || true)
    [ "$n" -eq 4 ] && echo "ok   our server -z $z agreed deflate 4 times" \
        || fail "our server -z $z agreed deflate $n times of 4"
done

finish
