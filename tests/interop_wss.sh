#!/bin/bash
# wss:// interoperability: WebSocket over TLS with independent
# implementations, certificates made at test time by the openssl CLI (a CA
# and a server certificate for DNS:localhost and IP:127.0.0.1):
#   - python3-websockets (ssl.SSLContext) and node-ws (https server, ca
#     option), both directions: our client (dill_ws_connect with ca_file)
#     against their wss echo servers, their clients against our wss echo
#     server (dill_tls_server_ctx_new + dill_ws_listen / dill_ws_accept);
#     sizes 0 .. 1 MiB in every frame length encoding, text and binary,
#     fragments and pings from the peer, close codes both ways;
#   - certificate checks: no CA or a wrong name fails with EACCES on our
#     side and with a verification error on theirs, and a plain-TCP client
#     cannot break our wss listener; TLS clients ending without a Close
#     frame (mid-frame or not, with or without close_notify) make our
#     server fail the connection with ECONNRESET;
#   - nginx as a TLS-terminating WebSocket reverse proxy in front of our
#     plain ws echo server, with our wss client and the python and node
#     clients going through it (16 MiB messages too).
# Skipped (77) when nginx, openssl, python3-websockets or node-ws is missing.
# About 10 s (20 s with ASan-built peers).
set -euo pipefail
. "$(dirname "$0")/interop/lib.sh"

need_peers
need openssl node
# DILL_NGINX: another nginx binary (Debian's is in /usr/sbin, often not on
# a user's PATH).
NGINX=${DILL_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || skip "nginx is not installed"
[ -x "$PY" ] || skip "$PY is not installed"
"$PY" -c 'import websockets' 2>/dev/null \
    || skip "python3-websockets is not installed"
node -e "require('ws')" 2>/dev/null || skip "node-ws is not installed"
echo "$name: python3-websockets $("$PY" -c \
    'import websockets; print(websockets.__version__)'), node-ws $(node -p \
    "require('ws/package.json').version"), $("$NGINX" -v 2>&1 | tail -n1)"

# --- Certificates. -------------------------------------------------------
certs=$work/certs
mkdir "$certs"
(
    cd "$certs"
    K=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${K[@]}" -keyout ca.key -out ca.crt \
        -subj /CN=dill-wss-ca -days 2 \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign
    openssl req "${K[@]}" -keyout srv.key -out srv.csr -subj /CN=localhost
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >srv.ext
    openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -set_serial 7 \
        -days 2 -extfile srv.ext -out srv.crt
) >"$work/certs.log" 2>&1 || { cat "$work/certs.log"; exit 1; }
ca=$certs/ca.crt
tlsopts=(--tls-cert "$certs/srv.crt" --tls-key "$certs/srv.key")

# expect_fail LOGNAME REGEX: the client failed (status 1) and printed REGEX.
expect_fail() {
    if [ "$RC" -eq 1 ] && has "$work/$1.out" "$2"; then
        echo "ok   $1: failed as expected ($ELAPSED)"
    else
        fail "$1 (exit $RC; wanted failure /$2/)"
        tail -n 20 "$work/$1.out"
    fi
}

# --- Our client against the python wss echo server. ----------------------
start_server pyserver "$PY" "$idir/py_echo_server.py" -n 3 -t 50 \
    "${tlsopts[@]}"
url=wss://localhost:$PORT
# Verification failures: these never reach the python handler
# (nor count as connections: first, while the server still runs).
run c-py-no-ca 20 "${client[@]}" -s t5 "$url/echo"
expect_fail c-py-no-ca '^ERROR connect: EACCES$'
run c-py-bad-name 20 "${client[@]}" --ca "$ca" --server-name example.com \
    -s t5 "$url/echo"
expect_fail c-py-bad-name '^ERROR connect: EACCES$'
run c-py-sizes 30 "${client[@]}" --ca "$ca" "$url/echo"
expect_pass c-py-sizes '^OK t0$' '^OK b126$' '^OK b1M$' \
    '^PEER_CLOSE 1000 done$'
# An IP address URL: the certificate's IP:127.0.0.1 entry.
run c-py-frag-ping 30 "${client[@]}" --ca "$ca" -c 1001 -r "going away" \
    "wss://127.0.0.1:$PORT/frag/ping"
expect_pass c-py-frag-ping '^OK t65536$' '^PEER_CLOSE 1001 going away$'
run c-py-peer-close 30 "${client[@]}" --ca "$ca" -s t5,b3 -W \
    "$url/close/4000/2"
expect_pass c-py-peer-close '^PEER_CLOSE 4000 bye$'
stop_server pyserver
expect_log pyserver \
    '^CONN path=/frag/ping msgs=14 pings=42 pongs=42 close_code=1001 '\
'close_reason=going_away$' \
    "python wss server: 42 pongs from us, our close 1001 received"
expect_log pyserver '^CONN path=/close/4000/2 msgs=2 .* close_code=4000 ' \
    "python wss server: our answer to its close 4000 echoes the code"
expect_log pyserver '^CONN path=/echo msgs=14 .* close_code=1000 ' \
    "python wss server: normal close"

# --- The python client against our wss echo server. ----------------------
start_server ours-py "${server[@]}" -n 17 -t 50 "${tlsopts[@]}"
url=wss://localhost:$PORT
run p-sizes 30 "$PY" "$idir/py_client.py" --ca "$ca" --burst 300 "$url/echo"
expect_pass p-sizes '^OK t0$' '^OK b126$' '^OK b1048576$' '^BURST 300$' \
    '^PEER_CLOSE 1000 '
run p-frag-ping 30 "$PY" "$idir/py_client.py" --ca "$ca" --frag --ping \
    --close 4000 --reason bye "wss://127.0.0.1:$PORT/echo"
expect_pass p-frag-ping '^PONGS 42/42$' '^PEER_CLOSE 4000 '
run p-our-close 30 "$PY" "$idir/py_client.py" --ca "$ca" --script t5,b6 \
    --wait-close "$url/close/1001/2"
expect_pass p-our-close '^PEER_CLOSE 1001 going_away$'
# Failed handshakes are the listener's business: the server goes on.
run p-no-ca 20 "$PY" "$idir/py_client.py" --script t5 "$url/echo"
expect_fail p-no-ca 'CERTIFICATE_VERIFY_FAILED'
run c-plain-to-tls 20 "${client[@]}" -s t5 "ws://127.0.0.1:$PORT/echo"
expect_fail c-plain-to-tls '^ERROR handshake: '
run p-parallel 30 "$PY" "$idir/py_client.py" --ca "$ca" --parallel 10 \
    --ping --script t0,b1,t125,b126,t65536,b65536 "$url/echo"
expect_pass p-parallel '^PARALLEL 10$'
# TLS clients vanishing mid-frame or after a message, with and without
# close_notify: 4 connections that must end with ECONNRESET.
run p-abrupt 20 "$PY" "$idir/py_tls_abrupt.py" "$PORT" "$ca"
expect_pass p-abrupt '^CASE whole-notify PASS$'
stop_server ours-py
n=$(grep -Ec '^CONN [0-9]+ path=/echo msgs=[01] .* end=ECONNRESET ' \
    "$work/ours-py.log" || true)
[ "$n" -eq 4 ] && echo "ok   our wss server: 4 abnormal TLS endings" \
    || fail "our wss server ended $n of 4 abnormal TLS endings with ECONNRESET"
expect_log ours-py \
    '^CONN [0-9]+ path=/echo msgs=14 .* end=peer-close status=4000 '\
'reason=bye$' \
    "our wss server reports the python client's close 4000 bye"
expect_log ours-py \
    '^CONN [0-9]+ path=/close/1001/2 msgs=2 .* end=closed status=1001 ' \
    "our close 1001 answered by the python client over TLS"
n=$(grep -Ec '^CONN [0-9]+ path=/echo msgs=6 .* end=peer-close ' \
    "$work/ours-py.log" || true)
[ "$n" -eq 10 ] && echo "ok   our wss server: 10 parallel python clients" \
    || fail "our wss server finished $n of 10 parallel python clients"

# --- Our client against the node wss echo server. ------------------------
start_server nodeserver node "$idir/node_echo_server.js" -n 3 -t 50 \
    "${tlsopts[@]}"
url=wss://localhost:$PORT
run c-node-no-ca 20 "${client[@]}" -s t5 "$url/echo"
expect_fail c-node-no-ca '^ERROR connect: EACCES$'
run c-node-sizes 30 "${client[@]}" --ca "$ca" "$url/echo"
expect_pass c-node-sizes '^OK t0$' '^OK b126$' '^OK b1M$' \
    '^PEER_CLOSE 1000 done$'
run c-node-frag-ping 30 "${client[@]}" --ca "$ca" -c 1001 -r "going away" \
    "wss://127.0.0.1:$PORT/frag/ping"
expect_pass c-node-frag-ping '^OK t65536$' '^PEER_CLOSE 1001 going away$'
run c-node-peer-close 30 "${client[@]}" --ca "$ca" -s t5,b3 -W \
    "$url/close/4000/2"
expect_pass c-node-peer-close '^PEER_CLOSE 4000 bye$'
stop_server nodeserver
expect_log nodeserver \
    '^CONN path=/frag/ping msgs=14 pings=42 pongs=42 close_code=1001 '\
'close_reason=going_away$' \
    "node wss server: 42 pongs from us, our close 1001 received"
expect_log nodeserver '^CONN path=/close/4000/2 msgs=2 .* close_code=4000 ' \
    "node wss server: our answer to its close 4000 echoes the code"

# --- The node client against our wss echo server. ------------------------
start_server ours-node "${server[@]}" -n 3 -t 50 "${tlsopts[@]}"
url=wss://localhost:$PORT
run n-sizes 30 node "$idir/node_client.js" --ca "$ca" --burst 300 \
    "$url/echo"
expect_pass n-sizes '^OK t0$' '^OK b126$' '^OK b1048576$' '^BURST 300$' \
    '^PEER_CLOSE 1000 '
run n-frag-ping 30 node "$idir/node_client.js" --ca "$ca" --frag --ping \
    --close 4000 --reason bye "wss://127.0.0.1:$PORT/echo"
expect_pass n-frag-ping '^PONGS 42/42$' '^PEER_CLOSE 4000 '
run n-no-ca 20 node "$idir/node_client.js" --script t5 "$url/echo"
expect_fail n-no-ca '^ERROR .*(self-signed|unable to verify|certificate)'
run n-our-close 30 node "$idir/node_client.js" --ca "$ca" --script t5,b6 \
    --wait-close "$url/close/1001/2"
expect_pass n-our-close '^PEER_CLOSE 1001 going_away$'
stop_server ours-node
expect_log ours-node \
    '^CONN [0-9]+ path=/echo msgs=14 .* end=peer-close status=4000 '\
'reason=bye$' \
    "our wss server reports the node client's close 4000 bye"
expect_log ours-node \
    '^CONN [0-9]+ path=/close/1001/2 msgs=2 .* end=closed status=1001 ' \
    "our close 1001 answered by the node client over TLS"

# --- nginx terminating TLS in front of our plain ws echo server. ---------
# Connections: 15 through nginx, 1 wss client straight to the plain server.
start_server ours-behind "${server[@]}" -n 16 -t 50
upstream=$PORT
ngdir=$work/nginx
mkdir "$ngdir"

free_port() {
    "$PY" "$(dirname "${BASH_SOURCE[0]}")/free_port.py"
}

# start_nginx: runs nginx in the foreground (in the background of this
# script) on a free port; sets $NGPORT.  The port may be taken between
# free_port and nginx's bind: then try another one.
start_nginx() {
    local try pid deadline
    for try in 1 2 3; do
        NGPORT=$(free_port)
        cat >"$ngdir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $ngdir/nginx.pid;
error_log $ngdir/error.log info;
events { worker_connections 256; }
http {
    access_log $ngdir/access.log;
    client_body_temp_path $ngdir/body;
    proxy_temp_path $ngdir/proxy;
    fastcgi_temp_path $ngdir/fastcgi;
    uwsgi_temp_path $ngdir/uwsgi;
    scgi_temp_path $ngdir/scgi;
    server {
        listen 127.0.0.1:$NGPORT ssl;
        ssl_certificate $certs/srv.crt;
        ssl_certificate_key $certs/srv.key;
        location / {
            proxy_pass http://127.0.0.1:$upstream;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 60s;
        }
    }
}
EOF
        "$NGINX" -e "$ngdir/error.log" -p "$ngdir" -c "$ngdir/nginx.conf" \
            >"$ngdir/stdout" 2>&1 &
        pid=$!
        pids+=("$pid")
        deadline=$((SECONDS + 10))
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]
        do
            if (exec 3<>"/dev/tcp/127.0.0.1/$NGPORT") 2>/dev/null; then
                NGINX_PID=$pid
                return 0
            fi
            sleep 0.1
        done
        kill -TERM "$pid" 2>/dev/null || true
        wait_exit "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
        grep -q 'Address already in use' "$ngdir/error.log" 2>/dev/null \
            || break
    done
    echo "$name: nginx did not start:"
    cat "$ngdir/stdout" "$ngdir/error.log" 2>/dev/null || true
    exit 1
}
start_nginx
echo "ok   nginx listening on $NGPORT, proxying to $upstream"
url=wss://localhost:$NGPORT

run c-nginx-sizes 40 "${client[@]}" --ca "$ca" -L "$url/echo"
expect_pass c-nginx-sizes '^OK t0$' '^OK b126$' '^OK b1M$' '^OK t16M$' \
    '^OK b16M$' '^PEER_CLOSE 1000 $'
run c-nginx-our-close 30 "${client[@]}" --ca "$ca" -s t5,b3 -W \
    "wss://127.0.0.1:$NGPORT/close/4000/2"
expect_pass c-nginx-our-close '^PEER_CLOSE 4000 going away$'
run p-nginx-sizes 30 "$PY" "$idir/py_client.py" --ca "$ca" --burst 300 \
    "$url/echo"
expect_pass p-nginx-sizes '^OK b1048576$' '^BURST 300$' '^PEER_CLOSE 1000 '
run p-nginx-frag-ping 30 "$PY" "$idir/py_client.py" --ca "$ca" --frag \
    --ping --close 4001 --reason bye "$url/echo"
expect_pass p-nginx-frag-ping '^PONGS 42/42$' '^PEER_CLOSE 4001 '
run p-nginx-parallel 30 "$PY" "$idir/py_client.py" --ca "$ca" \
    --parallel 10 --script t0,b1,t125,b126,t65536,b65536 "$url/echo"
expect_pass p-nginx-parallel '^PARALLEL 10$'
run n-nginx-sizes 30 node "$idir/node_client.js" --ca "$ca" --frag --ping \
    "$url/echo"
expect_pass n-nginx-sizes '^OK b1048576$' '^PONGS 42/42$' \
    '^PEER_CLOSE 1000 '
# TLS spoken to a plain ws server: it fails the handshake, nobody hangs.
run c-tls-to-plain 20 "${client[@]}" --ca "$ca" -s t5 \
    "wss://127.0.0.1:$upstream/echo"
expect_fail c-tls-to-plain '^ERROR connect: '
stop_server ours-behind
expect_log ours-behind \
    '^CONN [0-9]+ path=/echo msgs=16 bytes=35914230 end=peer-close '\
'status=1000 reason=done$' \
    "our server behind nginx: 16 MiB messages from our wss client"
expect_log ours-behind \
    '^CONN [0-9]+ path=/close/4000/2 msgs=2 .* end=closed status=4000 ' \
    "our close 4000 through nginx answered by our wss client"
expect_log ours-behind \
    '^CONN [0-9]+ path=/echo msgs=14 .* end=peer-close status=4001 '\
'reason=bye$' \
    "our server behind nginx reports the python client's close 4001 bye"
expect_log ours-behind '^CONN [0-9]+ path=- msgs=0 .* end=E[A-Z]+ ' \
    "our plain server failed the TLS client's handshake"
n=$(grep -Ec '^CONN [0-9]+ path=/echo msgs=6 .* end=peer-close ' \
    "$work/ours-behind.log" || true)
[ "$n" -eq 10 ] && echo "ok   10 parallel python clients through nginx" \
    || fail "our server finished $n of 10 parallel clients through nginx"
n=$(grep -c '" 101 ' "$ngdir/access.log" || true)
[ "$n" -eq 15 ] && echo "ok   nginx logged 15 upgrades" \
    || fail "nginx logged $n upgrades, wanted 15"
kill -TERM "$NGINX_PID" 2>/dev/null || true
wait_exit "$NGINX_PID" 10 || fail "nginx did not stop"

finish
