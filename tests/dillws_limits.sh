# dillws under abuse (issue 13): the server's handshake limit apart from
# --timeout, broadcast queues bounded in bytes with stalled clients dropped,
# echo buffers given back after big messages, the peer's Close reason
# escaped, and the client's --timeout bounding the whole run.  Peers are
# small Python programs speaking raw WebSocket; 127.0.0.1 and
# kernel-picked ports only; every wait is bounded.
set -u
B=${DILL_TEST_BINDIR:-build}
D=$B/dillws
[ -x "$D" ] || { echo "no $D"; exit 1; }
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
$PY -c 1 2>/dev/null || { echo "no python3"; exit 77; }
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
ok() { PASSES=$((PASSES + 1)); echo "ok: $1"; }
bad() { FAILS=$((FAILS + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

start_server() {     # start_server NAME ARGS...: sets PORT and SPID
    local name=$1; shift
    "$D" --listen 127.0.0.1:0 --timeout 60 "$@" 2>"$T/$name.log" &
    SPID=$!
    PIDS="$PIDS $SPID"
    PORT=""
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on ws:\/\/127.0.0.1:\([0-9]*\).*/\1/p' \
               "$T/$name.log")
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    echo "server $name did not start:"; cat "$T/$name.log"
    exit 1
}
kb() { sed -n "s/^$1:[^0-9]*\([0-9]*\) kB/\1/p" "/proc/$2/status"; }

# Raw WebSocket for the Python peers.
cat >"$T/wsraw.py" <<'PY'
import socket, struct, time
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
def connect(port, rcvbuf=0):
    s = socket.socket()
    if rcvbuf: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY +
        "\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    h = b""
    while b"\r\n\r\n" not in h:
        d = s.recv(1)
        if not d: raise EOFError("no handshake")
        h += d
    assert h.startswith(b"HTTP/1.1 101"), h
    return s
def frame(op, payload, mask=True):
    # Masked with the key 0: valid, and the payload stays as it is.
    n = len(payload)
    b0 = bytes([0x80 | op]); mb = 0x80 if mask else 0
    if n < 126: hdr = b0 + bytes([mb | n])
    elif n < 65536: hdr = b0 + bytes([mb | 126]) + struct.pack(">H", n)
    else: hdr = b0 + bytes([mb | 127]) + struct.pack(">Q", n)
    return hdr + (b"\0\0\0\0" if mask else b"") + payload
def serve_handshake(c):
    import base64, hashlib
    h = b""
    while b"\r\n\r\n" not in h: h += c.recv(4096)
    key = [l.split(b":", 1)[1].strip() for l in h.split(b"\r\n")
           if l.lower().startswith(b"sec-websocket-key:")][0]
    acc = base64.b64encode(hashlib.sha1(
        key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
def recvn(s, n):
    b = bytearray(n); v = memoryview(b); got = 0
    while got < n:
        k = s.recv_into(v[got:])
        if not k: raise EOFError
        got += k
    return bytes(b)
def read_frame(s):
    b0, b1 = recvn(s, 2)
    n = b1 & 0x7f
    if n == 126: n = struct.unpack(">H", recvn(s, 2))[0]
    elif n == 127: n = struct.unpack(">Q", recvn(s, 8))[0]
    if b1 & 0x80: recvn(s, 4)
    return b0 & 0x0f, recvn(s, n)
PY
export PYTHONPATH=$T

# --- The handshake has its own limit, not --timeout (60 s here). ---
start_server hs --echo --handshake-timeout 1
$PY - "$PORT" >"$T/hs.out" 2>&1 <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")   # and then nothing more
t = time.time(); s.settimeout(30)
try:
    while s.recv(4096): pass
except OSError: pass
print("closed after %.1f s" % (time.time() - t))
PY
secs=$(sed -n 's/closed after \([0-9]*\).*/\1/p' "$T/hs.out")
check "a stalled handshake is closed by --handshake-timeout, not --timeout" \
    "[ -n \"$secs\" ] && [ $secs -lt 10 ] || { cat $T/hs.out; false; }"
echo hi | timeout 20 "$D" --timeout 10 "ws://127.0.0.1:$PORT/" >"$T/out" 2>&1
check "the server still echoes after it" "[ \"\$(cat $T/out)\" = hi ]"
timeout 5 "$D" --listen 127.0.0.1:0 --handshake-timeout 0 >/dev/null 2>&1
check "--handshake-timeout 0 is a usage error" "[ \$? = 2 ]"

# --- The peer's Close reason is escaped like a message. ---
EVIL='\x1b[2Jevil\nforged: \x07'
$PY - "$EVIL" >"$T/evil.port" 2>"$T/evil.err" <<'PY' &
import socket, sys, struct, wsraw
reason = sys.argv[1].encode().decode("unicode_escape").encode()
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
print(l.getsockname()[1], flush=True)
c, _ = l.accept(); c.settimeout(10)
wsraw.serve_handshake(c)
c.sendall(wsraw.frame(8, struct.pack(">H", 4000) + reason, mask=False))
try:
    while c.recv(4096): pass
except OSError: pass
PY
PIDS="$PIDS $!"
for _ in $(seq 100); do [ -s "$T/evil.port" ] && break; sleep 0.05; done
(sleep 1) | timeout 20 "$D" --timeout 10 -v "ws://127.0.0.1:$(cat "$T/evil.port")/" \
    >"$T/evil.out" 2>"$T/evil.log"
check "client: no raw ESC, BEL or forged line from a Close reason" \
    "! grep -q \$'\\x1b\\|\\x07' $T/evil.log && ! grep -q '^forged' $T/evil.log"
check "client: the Close reason is shown escaped" \
    "grep -qF 'status 4000 (application code): \\x1b[2Jevil\\nforged: \\x07' $T/evil.log || { cat $T/evil.log; false; }"
start_server evils --echo -v
$PY - "$PORT" "$EVIL" <<'PY'
import sys, struct, wsraw
s = wsraw.connect(int(sys.argv[1]))
reason = sys.argv[2].encode().decode("unicode_escape").encode()
s.sendall(wsraw.frame(8, struct.pack(">H", 4000) + reason))
try:
    while wsraw.read_frame(s)[0] != 8: pass
except EOFError: pass
PY
for _ in $(seq 100); do grep -q 'closed by the client' "$T/evils.log" && break; sleep 0.05; done
check "server -v: the client's Close reason is shown escaped" \
    "grep -qF 'closed by the client: 4000 (application code): \\x1b[2Jevil\\nforged: \\x07' $T/evils.log && ! grep -q \$'\\x1b' $T/evils.log || { cat $T/evils.log; false; }"

# --- The client's --timeout bounds the whole run: a server that takes 3 s
# to answer the handshake and then never reads. ---
$PY - >"$T/slow.port" 2>/dev/null <<'PY' &
import socket, time, wsraw
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
print(l.getsockname()[1], flush=True)
c, _ = l.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
time.sleep(3)
wsraw.serve_handshake(c)
time.sleep(30)
PY
PIDS="$PIDS $!"
for _ in $(seq 100); do [ -s "$T/slow.port" ] && break; sleep 0.05; done
head -c 20000000 /dev/zero | tr '\0' 'a' | fold -w 1000 >"$T/lines"
start=$(date +%s%N)
timeout 30 "$D" --timeout 4 "ws://127.0.0.1:$(cat "$T/slow.port")/" \
    <"$T/lines" >/dev/null 2>"$T/slow.err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "client --timeout 4 ends the run in time (took $ms ms; 7 s before)" \
    "[ $rc = 1 ] && [ $ms -lt 6000 ] || { cat $T/slow.err; false; }"

# --- Broadcast: a client that stops reading is dropped, and what was
# queued for it is not held: 150 messages of 1 MiB go out while it stalls.
# Memory is measured: under ASan, freed blocks must not wait in its
# quarantine.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
start_server bc --broadcast -v --queue-bytes 2M --stall-timeout 2
BP=$PORT
$PY - "$BP" >"$T/stalled.out" 2>&1 <<'PY' &
import socket, sys, time, wsraw
s = wsraw.connect(int(sys.argv[1]), rcvbuf=4096)
print("joined", flush=True)
time.sleep(12)                    # reads nothing meanwhile
s.settimeout(20)
try:
    while True: wsraw.read_frame(s)
except (EOFError, OSError): print("closed by the server", flush=True)
PY
STALLED=$!
for _ in $(seq 100); do grep -q joined "$T/stalled.out" && break; sleep 0.05; done
$PY - "$BP" >"$T/sender.out" 2>&1 <<'PY'
import sys, wsraw
s = wsraw.connect(int(sys.argv[1]))
N, got = 150, 0
blob = b"x" * (1 << 20)
for i in range(N):              # in step with its own copies: never slow
    s.sendall(wsraw.frame(2, blob))
    op, p = wsraw.read_frame(s)
    got += op == 2 and p == blob
print("sender got", got)
PY
hwm=$(kb VmHWM "$SPID")
check "broadcast: the sender gets its 150 messages" \
    "grep -qx 'sender got 150' $T/sender.out || { cat $T/sender.out; false; }"
check "broadcast: the stalled client is dropped" \
    "grep -q 'too slow: dropped\\|stalled: dropped' $T/bc.log || { cat $T/bc.log; false; }"
check "broadcast: peak memory stays bounded (${hwm} kB; 150 MiB sent)" \
    "[ -n \"$hwm\" ] && [ $hwm -lt 100000 ]"
wait $STALLED
check "broadcast: the stalled client's connection is closed" \
    "grep -q 'closed by the server' $T/stalled.out"
echo after | timeout 20 "$D" --timeout 10 "ws://127.0.0.1:$BP/" >"$T/out" 2>&1
check "broadcast: still serving after the drop" "grep -qx after $T/out"

# --- Echo: a connection's buffer is given back after a big message.
# glibc maps big blocks itself with this threshold, so freed ones leave. ---
MALLOC_MMAP_THRESHOLD_=131072 start_server mem --echo
$PY - "$PORT" >"$T/mem.out" 2>&1 <<'PY' &
import sys, time, wsraw
conns = []
for i in range(20):
    s = wsraw.connect(int(sys.argv[1]))
    s.sendall(wsraw.frame(2, b"y" * (4 << 20)))
    op, p = wsraw.read_frame(s)
    assert op == 2 and len(p) == 4 << 20
    conns.append(s)              # idle from now on, still open
print("idle", flush=True)
time.sleep(20)
PY
PIDS="$PIDS $!"
for _ in $(seq 400); do grep -q idle "$T/mem.out" && break; sleep 0.05; done
rss=$(kb VmRSS "$SPID")
check "echo: 20 idle connections that each sent 4 MiB hold little (${rss} kB)" \
    "grep -q idle $T/mem.out && [ $rss -lt 40000 ] || { cat $T/mem.out; false; }"

# --- Accepting under load: the backlog is big, and a burst of 300
# connections is upgraded while 20 others echo without pause. ---
start_server acc --echo
if command -v ss >/dev/null; then
    # One listener per server thread, each with that backlog.
    q=$(ss -ltnH "sport = :$PORT" | awk '{print $3; exit}')
    max=$(cat /proc/sys/net/core/somaxconn)
    want=$(( max < 1024 ? max : 1024 ))
    check "dillws listens with a backlog of 1024 (got $q)" "[ \"$q\" = $want ]"
fi
$PY - "$PORT" >"$T/burst.out" 2>&1 <<'PY'
import socket, sys, threading, time, wsraw
port = int(sys.argv[1])
stop = False
def busy():
    s = wsraw.connect(port)
    while not stop:
        s.sendall(wsraw.frame(2, b"ping"))
        wsraw.read_frame(s)
ts = [threading.Thread(target=busy) for _ in range(20)]
for t in ts: t.start()
time.sleep(0.3)
socks = [socket.socket() for _ in range(300)]
for s in socks:
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
req = ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\nSec-WebSocket-Key: " + wsraw.KEY +
       "\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
ok = 0
for s in socks:
    s.setblocking(True); s.settimeout(30)
    s.sendall(req)
for s in socks:
    h = b""
    while b"\r\n\r\n" not in h:
        d = s.recv(4096)
        if not d: break
        h += d
    ok += h.startswith(b"HTTP/1.1 101")
stop = True
for t in ts: t.join(10)
print("upgraded", ok)
PY
check "a burst of 300 is upgraded while others echo" \
    "grep -qx 'upgraded 300' $T/burst.out || { cat $T/burst.out; false; }"

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
