#!/bin/bash
# examples/ws_server, the production-style server, does what its comment
# promises: piecewise echo with a 1 MiB limit (1009 past it), a graceful
# shutdown on SIGINT and SIGTERM (every client gets 1001, exit status 0),
# and a certificate reload on SIGHUP that keeps open connections.  The
# clients are Python websockets.  Skipped (77) without python3-websockets.
set -u
src=${DILL_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${DILL_TEST_BINDIR:-$src/build}
PY=/usr/bin/python3
$PY -c 'import websockets' 2>/dev/null || { echo "no python3-websockets"; exit 77; }
export PYTHONPATH=$src/tests/interop
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }
# start OUTFILE ARGS...: starts the server, sets SRV (pid) and PORT.
start() {
    local out=$1; shift
    "$bin/ws_server" "$@" 0 >"$out" 2>"$out.err" &
    SRV=$!
    PIDS+=("$SRV")
    PORT=""
    for _ in $(seq 200); do
        PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$out" | head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    echo "server did not start"; cat "$out" "$out.err"; exit 1
}
# waitexit PID SECONDS: the exit status, or 124 if still running.
waitexit() {
    for _ in $(seq $(($2 * 20))); do
        kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
        sleep 0.05
    done
    return 124
}
cli() { timeout 30 $PY "$src/tests/interop/py_server_example.py" "$@"; }

start "$T/s1"
cli "$PORT" echo >"$T/echo" 2>&1
check "echo in pieces, 1009 past 1 MiB" "grep -q 'echo ok' $T/echo"
grep -q 'echo ok' "$T/echo" || { echo "client said:"; tail -15 "$T/echo"; }
for sig in INT TERM; do
    [ "$sig" = TERM ] && start "$T/s2"
    cli "$PORT" wait >"$T/w1.$sig" 2>&1 &
    c1=$!
    cli "$PORT" wait >"$T/w2.$sig" 2>&1 &
    c2=$!
    for _ in $(seq 200); do
        [ "$(cat "$T/w1.$sig" "$T/w2.$sig" 2>/dev/null | grep -c open)" = 2 ] && break
        sleep 0.05
    done
    kill -"$sig" "$SRV"
    waitexit "$SRV" 10
    rc=$?
    check "SIG$sig: the server exits 0" "[ $rc = 0 ]"
    wait "$c1" "$c2"
    check "SIG$sig: every client got 1001" \
        "grep -q 'closed 1001 going away' $T/w1.$sig && grep -q 'closed 1001 going away' $T/w2.$sig"
done

if grep -q '^DILL_TLS:BOOL=ON' "$bin/CMakeCache.txt" && command -v openssl >/dev/null; then
    ( cd "$T" && K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' &&
      printf 'subjectAltName=IP:127.0.0.1\n' > ext &&
      for i in 1 2; do
          openssl req -x509 $K -keyout ca$i.key -out ca$i.crt -subj /CN=ca$i -days 2 \
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
          openssl req $K -keyout srv$i.key -out srv$i.csr -subj /CN=srv$i &&
          openssl x509 -req -in srv$i.csr -CA ca$i.crt -CAkey ca$i.key -set_serial $i \
              -days 2 -extfile ext -out srv$i.crt || exit 1
      done ) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log"; exit 1; }
    cp "$T/srv1.crt" "$T/cur.crt"; cp "$T/srv1.key" "$T/cur.key"
    start "$T/s3" --cert "$T/cur.crt" --key "$T/cur.key"
    cli "$PORT" tls "$T/ca1.crt" >"$T/t1" 2>&1
    check "wss with the first certificate" "grep -q 'tls ok' $T/t1"
    cp "$T/srv2.crt" "$T/cur.crt"; cp "$T/srv2.key" "$T/cur.key"
    kill -HUP "$SRV"
    for _ in $(seq 100); do grep -q reloaded "$T/s3.err" && break; sleep 0.05; done
    cli "$PORT" tls "$T/ca2.crt" >"$T/t2" 2>&1
    check "after SIGHUP, new clients get the new certificate" "grep -q 'tls ok' $T/t2"
    cli "$PORT" tls "$T/ca1.crt" >"$T/t3" 2>&1
    check "... and the old one is gone" "! grep -q 'tls ok' $T/t3"
    echo broken >"$T/cur.crt"
    kill -HUP "$SRV"
    for _ in $(seq 100); do grep -q 'reload failed' "$T/s3.err" && break; sleep 0.05; done
    cli "$PORT" tls "$T/ca2.crt" >"$T/t4" 2>&1
    check "a bad new certificate keeps the server on the old one" \
        "grep -q 'reload failed' $T/s3.err && grep -q 'tls ok' $T/t4"
    kill -TERM "$SRV"; waitexit "$SRV" 10
fi
[ $fails = 0 ]
