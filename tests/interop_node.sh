#!/bin/bash
# Interoperability with node-ws (Debian), an independent RFC 6455
# implementation, in both directions:
#   - our client (tests/peers/ws_client) against its echo server;
#   - its client against our echo server (tests/peers/ws_echo_server);
# with every frame length encoding (0 .. 1 MiB and 16 MiB), text and binary,
# messages fragmented by the peer (send with fin: false, cut inside UTF-8
# characters), pings from the peer between messages and between fragments,
# and close codes both ways (4000 'bye' from the peer, 1001 from us).  The
# node client offers permessage-deflate, which our server must decline.
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

finish
