# dillws against itself: echo (text, binary byte for byte), exit statuses
# (bad URL, refused connection, refused handshake with its status), the
# options that show up on the wire, broadcast, wss, and a short bench.
# Only 127.0.0.1 and ports picked by the kernel; every wait is bounded.
. "$(dirname "$0")/dillws.lib"
C() { timeout 20 "$D" --timeout 15 "$@"; }

start_server echo --echo -v
E=$PORT
URL=ws://127.0.0.1:$E/echo

# Text lines come back as lines, control characters escaped.
printf 'hello\nsecond\tline\nno newline at the end' | C "$URL" >"$T/out" 2>"$T/err"
rc=$?
check "text echo exits 0" "[ $rc = 0 ]"
printf 'hello\nsecond\\tline\nno newline at the end\n' >"$T/want"
check "text echo lines" "cmp -s $T/out $T/want"

# -1: one answer, then close, even though stdin stays open.
(echo once; sleep 2) | C -1 "$URL" >"$T/out" 2>&1
check "-1 exits after one message" "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = once ]"

# Binary: stdin in chunks, echoed byte for byte (--raw).
head -c 3000000 /dev/urandom >"$T/in.bin"
C --binary --raw "$URL" <"$T/in.bin" >"$T/out.bin"
check "binary round trip (file stdin)" "[ \$? = 0 ] && cmp -s $T/in.bin $T/out.bin"
cat "$T/in.bin" | C --binary --raw "$URL" >"$T/out.bin"
check "binary round trip (pipe stdin)" "[ \$? = 0 ] && cmp -s $T/in.bin $T/out.bin"
printf '\001\377' | C --binary "$URL" >"$T/out"
check "binary shown as hex" "[ \"\$(cat $T/out)\" = 01ff ]"

# Exit statuses.
C http://127.0.0.1:$E/ </dev/null 2>"$T/err"
check "bad URL: status 2" "[ \$? = 2 ] && grep -q 'bad URL' $T/err"
C "ws://127.0.0.1:99999/" </dev/null 2>"$T/err"
check "bad port: status 2" "[ \$? = 2 ]"
refused_port
FP=$PORT
C "ws://127.0.0.1:$FP/" </dev/null 2>"$T/err"
check "refused connection: status 3" \
    "[ \$? = 3 ] && grep -q 'connection refused' $T/err"
start_server origin --echo --origin http://good.example
O=$PORT
C "ws://127.0.0.1:$O/" </dev/null 2>"$T/err"
check "refused handshake: status 5, HTTP status shown" \
    "[ \$? = 5 ] && grep -q 'HTTP 403' $T/err"
echo fine | C --origin http://good.example "ws://127.0.0.1:$O/" >"$T/out"
check "accepted origin" "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = fine ]"
C "ws://127.0.0.1:$O/" --bogus </dev/null 2>"$T/err"
check "unknown option, even last: status 2, named" \
    "[ \$? = 2 ] && grep -q 'unknown option --bogus' $T/err"
"$D" --version >"$T/out"
check "--version" "[ \$? = 0 ] && grep -q '^dillws [0-9]' $T/out"

# Options on the wire, seen with -v.
start_server proto --echo -v --subprotocol v2.chat -H 'X-Server: dill'
echo p | C -v --subprotocol v1.chat --subprotocol v2.chat \
    -H 'X-Trace: 42' --origin http://me "ws://127.0.0.1:$PORT/p" \
    >"$T/out" 2>"$T/err"
check "subprotocol agreed" \
    "grep -q '< Sec-WebSocket-Protocol: v2.chat' $T/err"
check "offered subprotocols sent" \
    "grep -q '> Sec-WebSocket-Protocol: v1.chat, v2.chat' $T/err"
check "extra request header" "grep -q '> X-Trace: 42' $T/err"
check "extra response header" "grep -q '< X-Server: dill' $T/err"
check "close code shown" "grep -q 'closed: 1000' $T/err"
check "server saw the origin" "grep -q 'Origin: http://me' $T/proto.log"
check "server shows the request line, not a pseudo-header" \
    "grep -q '< GET /p HTTP/1.1' $T/proto.log && ! grep -q ':path' $T/proto.log"
echo p | C -v -s v2.chat "ws://127.0.0.1:$PORT/p" >"$T/out" 2>"$T/err"
check "-s offers a subprotocol" "grep -q '< Sec-WebSocket-Protocol: v2.chat' $T/err"
echo p | C -v --protocol v2.chat "ws://127.0.0.1:$PORT/p" >"$T/out" 2>"$T/err"
check "--protocol offers a subprotocol" "grep -q '< Sec-WebSocket-Protocol: v2.chat' $T/err"

# SIGTERM (like Ctrl-C) closes with 1000 and exits 128 + 15.
mkfifo "$T/fifo"
CLOSED=$(grep -c 'closed by the client: 1000' "$T/echo.log")
"$D" --timeout 15 "ws://127.0.0.1:$E/term" <"$T/fifo" >/dev/null 2>&1 &
CL=$!
exec 7>"$T/fifo"
for _ in $(seq 100); do grep -q 'open: /term' "$T/echo.log" && break; sleep 0.05; done
kill -TERM $CL
wait $CL
rc=$?
exec 7>&-
for _ in $(seq 100); do
    [ "$(grep -c 'closed by the client: 1000' "$T/echo.log")" -gt "$CLOSED" ] &&
        break
    sleep 0.05
done
check "SIGTERM: exit status 143" "[ $rc = 143 ]"
check "SIGTERM: clean close seen by the server" \
    "[ \$(grep -c 'closed by the client: 1000' $T/echo.log) -gt $CLOSED ]"
[ "$(grep -c 'closed by the client: 1000' "$T/echo.log")" -gt "$CLOSED" ] ||
    { echo "server log:"; grep -a '/term\|\[' "$T/echo.log" | tail -8; }

# The server drains on SIGINT and SIGTERM: every client gets 1001, exit 0;
# with one thread and with several; and (HIB: SIGTERM) with every handler
# hibernated at once, its stack away while the drain walks the connections.
for mode in INT TERM HIB; do
    sig=$mode hib=""
    [ $mode = HIB ] && sig=TERM hib=0
    DILL_HIBERNATE=$hib start_server drain$mode -v --echo \
        --threads $([ $mode = INT ] && echo 1 || echo 2)
    SRV=${PIDS##* }
    mkfifo "$T/dfifo$mode"
    "$D" -v --timeout 15 "ws://127.0.0.1:$PORT/d" <"$T/dfifo$mode" \
        >/dev/null 2>"$T/d$mode.err" &
    DC=$!
    exec 8>"$T/dfifo$mode"
    for _ in $(seq 100); do grep -q 'open: /d' "$T/drain$mode.log" && break; sleep 0.05; done
    [ $mode = HIB ] && sleep 0.3
    kill -$sig $SRV
    wait $SRV
    rc=$?
    wait $DC
    crc=$?
    exec 8>&-
    check "server $mode: drains and exits 0" "[ $rc = 0 ]"
    check "server $mode: the client got 1001 and exits 0" \
        "[ $crc = 0 ] && grep -q 'closed: 1001' $T/d$mode.err"
done

# Keepalive pings do not disturb a quiet connection.
(sleep 1.2; echo late) | C --ping-interval 0.2 "$URL" >"$T/out"
check "ping interval" "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = late ]"

# --max-message: a bigger echo fails the connection.
head -c 5000 /dev/zero | tr '\0' a | C --max-message 1k "$URL" \
    >/dev/null 2>"$T/err"
check "max message" "[ \$? = 1 ] && grep -q 'max-message' $T/err"

# Printing server: what clients send shows up on its standard output.
"$D" --listen 127.0.0.1:0 --timeout 60 -1 >"$T/print.out" 2>"$T/print.log" &
PIDS="$PIDS $!"
PRINTER=$!
for _ in $(seq 100); do grep -q listening "$T/print.log" && break; sleep 0.05; done
PP=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$T/print.log")
printf 'to the server\033[31m\n' | C "ws://127.0.0.1:$PP/" >/dev/null 2>&1
for _ in $(seq 100); do kill -0 $PRINTER 2>/dev/null || break; sleep 0.05; done
check "printing server shows the message, escaped" \
    "[ \"\$(cat $T/print.out)\" = 'to the server\\x1b[31m' ]"
check "-1 server exits after one connection" "! kill -0 $PRINTER 2>/dev/null"

# Broadcast: a message from B reaches A.
start_server bc --broadcast -v
BP=$PORT
(sleep 3 | C -1 "ws://127.0.0.1:$BP/" >"$T/a.out" 2>&1; echo "rc=$?" >>"$T/a.out") &
for _ in $(seq 100); do grep -q '\[1\] open' "$T/bc.log" && break; sleep 0.05; done
(echo from-b; sleep 0.5) | C "ws://127.0.0.1:$BP/" >"$T/b.out"
wait $!
check "broadcast reaches the other client" \
    "[ \"\$(cat $T/a.out)\" = \"\$(printf 'from-b\nrc=0')\" ]"
check "broadcast reaches the sender" "grep -qx from-b $T/b.out"

# --threads: connections spread over 4 threads (SO_REUSEPORT); a broadcast
# from one client reaches the clients of every thread.
start_server bct --broadcast -v --threads 4
check "broadcast server runs 4 threads" "grep -q '4 threads' $T/bct.log"
BP=$PORT
LPIDS=""
for i in 1 2 3 4 5 6; do
    (sleep 4 | C -1 "ws://127.0.0.1:$BP/" >"$T/l$i.out" 2>&1) &
    LPIDS="$LPIDS $!"
done
for _ in $(seq 200); do
    [ "$(grep -c '\] open' "$T/bct.log")" -ge 6 ] && break
    sleep 0.05
done
(echo across; sleep 0.5) | C "ws://127.0.0.1:$BP/" >"$T/x.out"
for p in $LPIDS; do wait "$p"; done
n=0
for i in 1 2 3 4 5 6; do [ "$(cat "$T/l$i.out")" = across ] && n=$((n + 1)); done
check "threaded broadcast reaches all 6 clients ($n)" "[ $n = 6 ]"
check "threaded broadcast reaches the sender" "grep -qx across $T/x.out"

start_server ect --echo --threads 3
EPIDS=""
for i in 1 2 3 4 5; do
    printf 'e%s\n' "$i" | C "ws://127.0.0.1:$PORT/" >"$T/e$i.out" 2>&1 &
    EPIDS="$EPIDS $!"
done
for p in $EPIDS; do wait "$p"; done
n=0
for i in 1 2 3 4 5; do [ "$(cat "$T/e$i.out")" = "e$i" ] && n=$((n + 1)); done
check "echo on 3 threads answers 5 clients ($n)" "[ $n = 5 ]"

# wss with a self-signed certificate.
if command -v openssl >/dev/null && "$D" --help | grep -q tls-cert; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" \
        -out "$T/cert.pem" -days 2 -subj /CN=localhost \
        -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' 2>/dev/null
    start_server tls --echo --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
    echo secret | C --cacert "$T/cert.pem" "wss://localhost:$PORT/" >"$T/out"
    check "wss echo (verified)" "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = secret ]"
    C "wss://127.0.0.1:$PORT/" </dev/null 2>"$T/err"
    check "wss unverified certificate: status 4, with the reason" \
        "[ \$? = 4 ] && grep -q 'self-signed certificate' $T/err"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key2.pem" \
        -out "$T/cert2.pem" -days 2 -subj /CN=example.org \
        -addext 'subjectAltName=DNS:example.org' 2>/dev/null
    start_server tls2 --echo --tls-cert "$T/cert2.pem" --tls-key "$T/key2.pem"
    C --cacert "$T/cert2.pem" "wss://127.0.0.1:$PORT/" </dev/null 2>"$T/err"
    check "wss certificate for another name: named as such" \
        "[ \$? = 4 ] && grep -q 'not for 127.0.0.1 (.*IP address mismatch' $T/err"
    echo x | C --insecure "wss://127.0.0.1:$PORT/" >"$T/out"
    check "wss --insecure" "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = x ]"
    C "wss://127.0.0.1:$E/" </dev/null 2>"$T/err"
    check "wss to a plain server: status 4" "[ \$? = 4 ]"
    # SIGHUP: new certificate files for new connections, the old
    # connection kept, a broken file ignored.
    cp "$T/cert.pem" "$T/cur.crt"; cp "$T/key.pem" "$T/cur.key"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key3.pem" \
        -out "$T/cert3.pem" -days 2 -subj /CN=localhost \
        -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' 2>/dev/null
    start_server hup -v --echo --threads 2 --tls-cert "$T/cur.crt" \
        --tls-key "$T/cur.key"
    SRV=${PIDS##* }
    mkfifo "$T/hfifo"
    "$D" --timeout 20 --cacert "$T/cert.pem" "wss://127.0.0.1:$PORT/" \
        <"$T/hfifo" >"$T/hold.out" 2>&1 &
    HOLD=$!
    # A client that died must fail a check, not kill this script.
    trap '' PIPE
    exec 9>"$T/hfifo"
    echo before >&9
    # The old connection is established before the files change.
    for _ in $(seq 200); do grep -q 'open: /' "$T/hup.log" && break; sleep 0.05; done
    cp "$T/cert3.pem" "$T/cur.crt"; cp "$T/key3.pem" "$T/cur.key"
    kill -HUP $SRV
    for _ in $(seq 100); do grep -q reloaded "$T/hup.log" && break; sleep 0.05; done
    echo x | C --cacert "$T/cert3.pem" "wss://127.0.0.1:$PORT/" >"$T/out"
    check "SIGHUP: new connections get the new certificate" \
        "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = x ]"
    C --cacert "$T/cert.pem" "wss://127.0.0.1:$PORT/" </dev/null 2>/dev/null
    check "SIGHUP: ... and not the old one" "[ \$? = 4 ]"
    echo after >&9
    exec 9>&-
    wait $HOLD
    check "SIGHUP: an open connection keeps working" \
        "[ \"\$(cat $T/hold.out)\" = \"\$(printf 'before\nafter')\" ]"
    echo broken >"$T/cur.crt"
    kill -HUP $SRV
    for _ in $(seq 100); do grep -q 'reload failed' "$T/hup.log" && break; sleep 0.05; done
    echo y | C --cacert "$T/cert3.pem" "wss://127.0.0.1:$PORT/" >"$T/out"
    check "SIGHUP with a broken file: the server keeps its certificate" \
        "[ \$? = 0 ] && grep -q 'reload failed' $T/hup.log"
fi

# Interoperability with another implementation (Python websockets), both
# ways, when the module is there.
if $PY -c 'import websockets' 2>/dev/null; then
    $PY - >"$T/py.port" 2>"$T/py.err" <<'PYSRV' &
import asyncio, websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0,
                                subprotocols=["x1"]) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(30)
asyncio.run(main())
PYSRV
    PIDS="$PIDS $!"
    for _ in $(seq 200); do [ -s "$T/py.port" ] && break; sleep 0.05; done
    PYP=$(head -1 "$T/py.port")
    printf 'to python\nü\n' | C -v --subprotocol x1 "ws://127.0.0.1:$PYP/" \
        >"$T/out" 2>"$T/err"
    check "dillws against a Python echo server (replies before close)" \
        "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = \"\$(printf 'to python\nü')\" ]"
    check "Python server agreed the subprotocol" \
        "grep -q '< Sec-WebSocket-Protocol: x1' $T/err"
    C --binary --raw "ws://127.0.0.1:$PYP/" <"$T/in.bin" >"$T/out.bin"
    check "binary round trip through Python" "cmp -s $T/in.bin $T/out.bin"
    timeout 20 $PY - "$E" >"$T/pyc" 2>&1 <<'PYCLI'
import asyncio, sys, websockets
async def main():
    uri = "ws://127.0.0.1:%s/py" % sys.argv[1]
    async with websockets.connect(uri) as ws:
        await ws.send("text from python")
        assert await ws.recv() == "text from python"
        await ws.send(bytes(range(256)) * 300)
        assert await ws.recv() == bytes(range(256)) * 300
    print("python client ok")
asyncio.run(main())
PYCLI
    check "Python client against dillws --echo" "grep -q 'python client ok' $T/pyc"
fi

# bench: a couple of seconds, figures and no errors.
timeout 30 "$D" bench -c 8 -s 256 -d 2 "$URL" >"$T/bench" 2>"$T/progress"
rc=$?
cat "$T/bench"
check "bench exits 0" "[ $rc = 0 ]"
check "bench reports zero errors" "grep -q '^errors: *0$' $T/bench"
check "bench reports rates" "grep -q 'msg/s' $T/bench && grep -q 'MB/s' $T/bench"
check "bench reports percentiles" "grep -q 'p99.9' $T/bench"
check "bench progress lines" "grep -q '^\[  1s\]' $T/progress"

# --deflate: agreed and shown by -v on both sides, text and binary intact,
# and bench with it.
start_server z --echo -v --deflate --deflate-memory 64k
ZURL=ws://127.0.0.1:$PORT/z
printf 'compress me compress me compress me\nsecond\n' | C --deflate -v "$ZURL" \
    >"$T/zout" 2>"$T/zerr"
check "--deflate echo exits 0" "[ \$? = 0 ]"
check "--deflate echo lines" \
    "[ \"\$(cat $T/zout)\" = \"\$(printf 'compress me compress me compress me\nsecond')\" ]"
check "--deflate -v shows the client's agreement" \
    "grep -q '^\* permessage-deflate: server window 12 bits (no context takeover), client window 12 bits' $T/zerr"
check "--deflate -v shows the server's agreement" \
    "grep -q '\] \* permessage-deflate: server window 12 bits' $T/z.log"
C --deflate --binary --raw "$ZURL" <"$T/in.bin" >"$T/out.bin"
check "--deflate binary round trip" "[ \$? = 0 ] && cmp -s $T/in.bin $T/out.bin"
printf 'x\n' | C --deflate -v "$URL" >/dev/null 2>"$T/zerr"
check "--deflate against a server without it: not agreed" \
    "grep -q 'permessage-deflate: not agreed' $T/zerr"
timeout 30 "$D" bench --deflate -c 4 -s 1024 -d 1 "$ZURL" >"$T/zbench" \
    2>/dev/null
check "bench --deflate exits 0 and reports the agreement" \
    "[ \$? = 0 ] && grep -q '^deflate: ' $T/zbench && grep -q '^errors: *0$' $T/zbench"

# --health: a plain GET of the path (HAProxy's check) gets 200 in every
# mode; other plain requests 404 or 405; WebSocket on the path still works.
check "GET /health of an echo server: 200 ok" \
    "[ \"\$(http_get $E 'GET /health HTTP/1.0')\" = '200 ok' ]"
check "GET /health?probe=1 HTTP/1.1: 200 ok" \
    "[ \"\$(http_get $E 'GET /health?probe=1 HTTP/1.1')\" = '200 ok' ]"
check "another path: 404" "[ \"\$(http_get $E 'GET /healthz HTTP/1.1')\" = 404 ]"
check "POST /health: 405" "[ \"\$(http_get $E 'POST /health HTTP/1.1')\" = 405 ]"
echo up | C "ws://127.0.0.1:$E/health" >"$T/out"
check "a WebSocket on /health is served" "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = up ]"
start_server hb --broadcast -v --health /hz
check "--broadcast --health /hz: GET /hz is 200 ok" \
    "[ \"\$(http_get $PORT 'GET /hz HTTP/1.1')\" = '200 ok' ]"
check "--health /hz: /health is 404" \
    "[ \"\$(http_get $PORT 'GET /health HTTP/1.1')\" = 404 ]"
check "-v logs the refusal, not the answered check" \
    "[ \$(grep -c 'handshake failed' $T/hb.log) = 1 ]"
start_server hp --health ''
check "a printing server with --health '': a plain GET is refused (400)" \
    "[ \"\$(http_get $PORT 'GET /health HTTP/1.1')\" = 400 ]"

# Servers still running: memory errors would be in their logs by now.
check "no sanitizer reports from the servers" \
    "! grep -l 'AddressSanitizer\|LeakSanitizer\|runtime error:' $T/*.log"

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
