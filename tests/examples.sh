# The example programs do what their comments say: echo server and client,
# the chat server (page on /, two WebSocket clients chatting on /ws), the
# wss echo server, the reconnecting client.  127.0.0.1 and kernel-picked
# ports only; every program is started with a time limit.
set -u
B=${DILL_TEST_BINDIR:-build}
T=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
PASSES=0
check() {
    if eval "$2"; then PASSES=$((PASSES + 1)); echo "ok: $1"
    else FAILS=$((FAILS + 1)); echo "FAIL: $1"; fi
}
# wait_port FILE: the port from the first "...:PORT/" in FILE.
wait_port() {
    PORT=""
    for _ in $(seq 100); do
        # The file may not exist yet: the background shell creates it.
        PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9][0-9]*\)\/.*/\1/p' "$1" 2>/dev/null |
            head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    echo "no port in $1:"; cat "$1"; exit 1
}
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
free_port() {
    "$PY" "$(dirname "${BASH_SOURCE[0]}")/free_port.py"
}
for p in sieve tutorial_2_tcp_echo ws_echo_server ws_echo_client ws_chat wss_server \
         reconnect_client dillws; do
    [ -x "$B/$p" ] || { echo "missing $B/$p"; exit 1; }
done
DW() { timeout 20 "$B/dillws" --timeout 15 "$@"; }

# sieve
timeout 20 "$B/sieve" 200 >"$T/sieve" 2>&1
check "sieve" "[ \$? = 0 ] && grep -q 'prime #10: 29' $T/sieve"

# echo server and client
"$B/ws_echo_server" 0 30 >"$T/echo.out" 2>&1 &
PIDS="$PIDS $!"
wait_port "$T/echo.out"
EP=$PORT
timeout 20 "$B/ws_echo_client" 127.0.0.1 "$EP" one 'two words' ünï >"$T/out" 2>"$T/err"
check "ws_echo_client exits 0" "[ \$? = 0 ]"
check "ws_echo_client gets the echoes" \
    "[ \"\$(cat $T/out)\" = \"\$(printf 'one\ntwo words\nünï')\" ]"
check "ws_echo_server answers the close" "grep -q 'status 1000' $T/err"
head -c 200000 /dev/urandom >"$T/in.bin"
DW --binary --raw "ws://127.0.0.1:$EP/" <"$T/in.bin" >"$T/out.bin"
check "ws_echo_server echoes binary" "cmp -s $T/in.bin $T/out.bin"
if /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
    PYTHONPATH=${DILL_TEST_SRCDIR:-.}/tests/interop timeout 30 /usr/bin/python3 \
        "${DILL_TEST_SRCDIR:-.}/tests/interop/py_server_example.py" "$EP" big 100000 \
        >"$T/big" 2>&1
    check "ws_echo_server refuses a message over 64 KiB with 1009" \
        "grep -q 'big ok' $T/big"
fi

# chat: the page, other paths, and two clients talking
"$B/ws_chat" --port 0 --seconds 30 >"$T/chat.out" 2>&1 &
CHAT=$!
PIDS="$PIDS $CHAT"
wait_port "$T/chat.out"
CP=$PORT
$PY - "$CP" >"$T/http" 2>&1 <<'PY'
import http.client, sys
port = int(sys.argv[1])
def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body
s, t, b = get("/")
assert s == 200 and t.startswith("text/html"), (s, t)
assert "<html" in b and "new WebSocket" in b and "/ws" in b
s, t, b = get("/?name=x")
assert s == 200
s, t, b = get("/nope")
assert s == 404, s
s, t, b = get("/ws")
assert s == 400, s
print("http ok")
PY
check "chat page served on / (404 elsewhere, 400 for plain GET /ws)" \
    "grep -q 'http ok' $T/http || { cat $T/http; false; }"
(sleep 4 | DW "ws://127.0.0.1:$CP/ws?name=alice" >"$T/alice" 2>&1
 echo "rc=$?" >>"$T/alice") &
A=$!
for _ in $(seq 100); do grep -q 'alice joined' "$T/alice" && break; sleep 0.05; done
(echo 'hello alice'; sleep 0.5) | DW "ws://127.0.0.1:$CP/ws?name=bob" >"$T/bob" 2>&1
check "bob's client exits 0" "[ \$? = 0 ]"
wait $A
check "alice gets bob's message" "grep -qx 'bob: hello alice' $T/alice"
check "alice sees bob join and leave" \
    "grep -q '^\* bob joined' $T/alice && grep -qx '\* bob left' $T/alice"
check "alice's client exits 0" "grep -qx 'rc=0' $T/alice"
check "bob gets his own message" "grep -qx 'bob: hello alice' $T/bob"
echo x | DW "ws://127.0.0.1:$CP/other" >/dev/null 2>"$T/err"
check "chat refuses WebSocket on other paths (404 shown)" \
    "[ \$? = 5 ] && grep -q 'HTTP 404' $T/err"
kill -0 "$CHAT" 2>/dev/null
check "chat server still running" "[ \$? = 0 ]"

# A chat client that stops reading is dropped with 1008 once it is 256 KiB
# behind (the hub's HUB_CLOSE policy); a client that keeps reading gets
# every message, its own included, and the server keeps serving.
$PY - "$CP" >"$T/slow" 2>&1 <<'PY'
import base64, os, socket, struct, sys, threading, time
port = int(sys.argv[1])
def connect(name, rcvbuf=0):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws?name=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
        % (name, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        assert c, "closed during the handshake"
        head += c
    assert head.startswith(b"HTTP/1.1 101"), head
    return s
def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: return None
        b += c
    return b
def frame(s):
    h = recvn(s, 2)
    if h is None: return None, None
    n = h[1] & 127
    if n == 126: n = struct.unpack(">H", recvn(s, 2))[0]
    elif n == 127: n = struct.unpack(">Q", recvn(s, 8))[0]
    return h[0] & 15, recvn(s, n)
def masked(text):
    p = text.encode()
    mask = os.urandom(4)
    h = bytes([0x81, 0x80 | 126]) + struct.pack(">H", len(p)) + mask
    m = (mask * (len(p) // 4 + 1))[:len(p)]
    x = int.from_bytes(p, "big") ^ int.from_bytes(m, "big")
    return h + x.to_bytes(len(p), "big")
def send(s, text): s.sendall(masked(text))
# More than the kernel can buffer for the slow one (tcp_wmem's 4 MiB at
# most) plus the hub's 256 KiB.
N, LINE = 2000, "x" * 4000
slow = connect("slow", 4096)
fast = connect("fast")
got = [0]
def reader():
    while got[0] < N:
        op, p = frame(fast)
        assert op is not None, "fast client cut off"
        if op == 1 and p == ("fast: " + LINE).encode(): got[0] += 1
t = threading.Thread(target=reader)
t.start()
f = masked(LINE)
for i in range(N):
    # Paced to its own reading: this client keeps up.
    deadline = time.time() + 20
    while i - got[0] > 16 and t.is_alive() and time.time() < deadline:
        time.sleep(0.001)
    fast.sendall(f)
t.join(30)
assert got[0] == N, got[0]
print("fast got all %d" % N)
# Now the slow one reads what it was sent: then a Close 1008.
code = None
while True:
    op, p = frame(slow)
    if op is None: break
    if op == 8:
        code = struct.unpack(">H", p[:2])[0]
        break
assert code == 1008, code
print("slow closed 1008")
send(fast, "still here")
while True:
    op, p = frame(fast)
    assert op is not None
    if op == 1 and p == b"fast: still here": break
print("slow ok")
PY
check "chat drops a client that stops reading (1008), the others get everything" \
    "grep -q 'slow ok' $T/slow || { cat $T/slow; false; }"

# The chat's upgrade requests get the checks of the library's handshake.
$PY - "$CP" >"$T/hostile" 2>&1 <<'PY'
import socket, sys
port = int(sys.argv[1])
K = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
U = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
V = "Sec-WebSocket-Version: 13\r\n"
def status(req):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(req.encode())
    except OSError:
        pass            # the server may answer and close before reading all
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d: break
        data += d
    s.close()
    line = data.split(b"\r\n")[0].decode()
    return int(line.split()[1]) if line else 0, data.decode(errors="replace")
cases = [
    ("no Host", "GET /ws HTTP/1.1\r\n" + U + K + V + "\r\n", 400),
    ("two keys", "GET /ws HTTP/1.1\r\nHost: a\r\n" + U + K + K + V + "\r\n",
     400),
    ("two Hosts", "GET /ws HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + U + K + V
     + "\r\n", 400),
    ("10,000 headers", "GET /ws HTTP/1.1\r\nHost: a\r\n" + U + K + V +
     "".join("X-%d: y\r\n" % i for i in range(10000)) + "\r\n", 431),
    ("head over 16 KiB", "GET /ws HTTP/1.1\r\nHost: a\r\nX: " + "a" * 17000 +
     "\r\n" + U + K + V + "\r\n", 431),
    ("version 12", "GET /ws HTTP/1.1\r\nHost: a\r\n" + U + K +
     "Sec-WebSocket-Version: 12\r\n\r\n", 426),
    ("two lengths", "GET /ws HTTP/1.1\r\nHost: a\r\n" + U + K + V +
     "Content-Length: 0\r\nContent-Length: 4\r\n\r\n", 400),
    ("length and chunked", "GET /ws HTTP/1.1\r\nHost: a\r\n" + U + K + V +
     "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("POST", "POST /ws HTTP/1.1\r\nHost: a\r\n" + U + K + V + "\r\n", 405),
    ("valid", "GET /ws HTTP/1.1\r\nHost: a\r\n" + U + K + V + "\r\n", 101),
]
bad = 0
for name, req, want in cases:
    got, text = status(req)
    if got != want or (want == 426 and "Sec-WebSocket-Version: 13" not in text):
        print("FAIL %s: got %d, want %d" % (name, got, want)); bad = 1
print("hostile ok" if not bad else "hostile failed")
PY
check "chat refuses bad upgrades like the library (400/405/426/431)" \
    "grep -q 'hostile ok' $T/hostile || { cat $T/hostile; false; }"

# Out of descriptors: the servers back off and keep serving.  A client
# holds more connections than the server has descriptors, lets them go,
# and then the server must still answer.
emfile() {   # emfile NAME OUTFILE: the server's port is $PORT
    $PY - "$PORT" >"$T/emfile.$1" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(64):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        break
time.sleep(0.5)      # the server hits EMFILE on the rest of its backlog
for s in held: s.close()
print("held", len(held))
PY
}
(ulimit -n 24; exec "$B/ws_echo_server" 0 30) >"$T/echo_emfile.out" 2>&1 &
PIDS="$PIDS $!"
wait_port "$T/echo_emfile.out"
emfile echo
sleep 0.3
echo still | DW "ws://127.0.0.1:$PORT/" >"$T/out" 2>&1
check "ws_echo_server serves again after EMFILE" \
    "[ \"\$(cat $T/out)\" = still ] || { cat $T/out $T/emfile.echo; false; }"
(ulimit -n 24; exec "$B/ws_chat" --port 0 --seconds 30) >"$T/chat_emfile.out" 2>&1 &
PIDS="$PIDS $!"
wait_port "$T/chat_emfile.out"
emfile chat
sleep 0.3
(echo still; sleep 0.3) | DW "ws://127.0.0.1:$PORT/ws?name=z" >"$T/out" 2>&1
check "ws_chat serves again after EMFILE" \
    "grep -qx 'z: still' $T/out || { cat $T/out $T/emfile.chat; false; }"
(ulimit -n 24; exec "$B/tutorial_2_tcp_echo" 0 30) >"$T/tcp_emfile.out" 2>&1 &
PIDS="$PIDS $!"
wait_port "$T/tcp_emfile.out"
emfile tcp
sleep 0.3
$PY - "$PORT" >"$T/out" 2>&1 <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"still")
b = b""
while len(b) < 5: b += s.recv(5 - len(b))
print(b.decode())
PY
check "tutorial_2_tcp_echo serves again after EMFILE" \
    "grep -qx still $T/out || { cat $T/out $T/emfile.tcp; false; }"

# wss
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" \
        -out "$T/cert.pem" -days 2 -subj /CN=localhost \
        -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' 2>/dev/null
    "$B/wss_server" "$T/cert.pem" "$T/key.pem" 0 30 >"$T/wss.out" 2>&1 &
    PIDS="$PIDS $!"
    wait_port "$T/wss.out"
    echo 'over tls' | DW --cacert "$T/cert.pem" "wss://localhost:$PORT/" >"$T/out"
    check "wss_server echoes over TLS" \
        "[ \$? = 0 ] && [ \"\$(cat $T/out)\" = 'over tls' ]"
    "$B/ws_chat" --port 0 --seconds 30 --tls-cert "$T/cert.pem" \
        --tls-key "$T/key.pem" >"$T/chats.out" 2>&1 &
    PIDS="$PIDS $!"
    wait_port "$T/chats.out"
    (echo secure; sleep 0.3) | DW --cacert "$T/cert.pem" \
        "wss://localhost:$PORT/ws?name=eve" >"$T/out"
    check "ws_chat over wss" "grep -qx 'eve: secure' $T/out"
    curl -s --cacert "$T/cert.pem" "https://localhost:$PORT/" >"$T/page" 2>&1 \
        || $PY -c 'import ssl, sys, urllib.request as u
c = ssl.create_default_context(cafile=sys.argv[1])
print(u.urlopen(sys.argv[2], context=c, timeout=10).read().decode())' \
           "$T/cert.pem" "https://localhost:$PORT/" >"$T/page"
    check "ws_chat page over https" "grep -q 'new WebSocket' $T/page"
fi

# reconnecting client: no server at first, then one, then it goes away
RP=$(free_port)
timeout 20 "$B/reconnect_client" "ws://127.0.0.1:$RP/" 5 >"$T/rc.out" 2>&1 &
R=$!
sleep 0.6
timeout 10 "$B/ws_echo_server" "$RP" 2 >/dev/null
sleep 0.3
timeout 10 "$B/ws_echo_server" "$RP" 2 >/dev/null
wait $R
check "reconnect_client exits 0" "[ \$? = 0 ]"
check "reconnect_client retried before the server came" \
    "grep -q 'attempt failed' $T/rc.out"
check "reconnect_client connected twice" \
    "[ \$(grep -c '^connected' $T/rc.out) -ge 2 ]"
check "reconnect_client got echoes" "grep -q '^echo: ping' $T/rc.out"
check "reconnect_client noticed the loss" "grep -q 'connection lost' $T/rc.out"

# Servers still running: memory errors would be in their output by now.
check "no sanitizer reports from the servers" \
    "! grep -l 'AddressSanitizer\|LeakSanitizer\|runtime error:' $T/*.out"

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
