# dillws (so ws_connect's tunnel code) through real proxies started here:
# tinyproxy for HTTP CONNECT (no credentials, Basic credentials right and
# wrong, a port it forbids, a target that refuses), dante (danted) for
# SOCKS5 without and with username authentication (a user that exists
# only for this danted, through nss_wrapper), socks5:// and socks5h://,
# ws and wss through each; a proxy that stalls (bounded by --timeout); and
# the http_proxy / https_proxy / all_proxy / no_proxy variables.
# Everything on 127.0.0.1; proxies are configured in a temporary directory
# on ports picked by binding port 0 (retried when the proxy cannot start).
# Skipped (77) when tinyproxy or danted is not installed.
TINYPROXY=$(command -v tinyproxy || echo /usr/bin/tinyproxy)
DANTED=$(command -v danted || echo /usr/sbin/danted)
[ -x "$TINYPROXY" ] || { echo "skip: tinyproxy not installed"; exit 77; }
[ -x "$DANTED" ] || { echo "skip: danted (dante-server) not installed"; exit 77; }
. "$(dirname "$0")/dillws.lib"
chmod 755 "$T"
# listening PORT: whether something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_proxy NAME WRITECONF READY CMD...: picks a port, has WRITECONF NAME
# PORT write the configuration, runs CMD (with @CONF@ replaced) and waits
# until its log ($T/NAME.log) has the line READY and the port accepts;
# another port when it dies (the port was taken meanwhile).  The proxy's
# own line, not only a listening port: on a busy machine another program
# may have been given the port, and it would answer in the proxy's place.
start_proxy() {
    local name=$1 writeconf=$2 ready=$3; shift 3
    for _ in 1 2 3 4 5; do
        PORT=$(free_port)
        "$writeconf" "$name" "$PORT"
        local args=()
        for a in "$@"; do args+=("${a//@CONF@/$T/$name.conf}"); done
        "${args[@]}" >"$T/$name.out" 2>&1 &
        local pid=$!
        for _ in $(seq 200); do
            grep -q "$ready" "$T/$name.log" 2>/dev/null && listening "$PORT" &&
                { PIDS="$PIDS $pid"; return 0; }
            kill -0 $pid 2>/dev/null || break
            sleep 0.05
        done
        kill $pid 2>/dev/null
        wait $pid 2>/dev/null
    done
    echo "proxy $name did not start:"; cat "$T/$name.out" "$T/$name".log* 2>/dev/null
    exit 1
}

# tinyproxy configurations: NAME is "open", "auth" or "port443".
tinyconf() {
    {
        echo "Port $2"
        echo "Listen 127.0.0.1"
        echo "Timeout 30"
        echo "LogFile \"$T/$1.log\""
        echo "LogLevel Info"
        echo "MaxClients 20"
        echo "Allow 127.0.0.1"
        [ "$1" = auth ] && echo "BasicAuth alice s3cret"
        [ "$1" = port443 ] && echo "ConnectPort 443"
        [ "$(id -u)" = 0 ] && { echo "User nobody"; echo "Group nogroup"; }
    } >"$T/$1.conf"
    # Written after tinyproxy drops root.
    : >"$T/$1.log"
    chmod 666 "$T/$1.log"
}

# danted configurations: NAME is "socks" (no authentication), "socksuser"
# (username) or "socksblock" (CONNECT to the echo server not allowed).
danteconf() {
    {
        echo "logoutput: $T/$1.log"
        echo "internal: 127.0.0.1 port = $2"
        echo "external: 127.0.0.1"
        echo "clientmethod: none"
        [ "$1" = socksuser ] && echo "socksmethod: username" ||
            echo "socksmethod: none"
        if [ "$(id -u)" = 0 ]; then
            echo "user.privileged: root"
            echo "user.unprivileged: nobody"
        fi
        echo "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }"
        [ "$1" = socksblock ] &&
            echo "socks block { from: 0.0.0.0/0 to: 127.0.0.1/32 port = $E }"
        echo "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }"
    } >"$T/$1.conf"
}

start_server echo --echo
E=$PORT
CERTS=0
if command -v openssl >/dev/null && "$D" --help | grep -q tls-cert; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/key.pem" -out "$T/cert.pem" -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost -days 1 >/dev/null 2>&1 && CERTS=1
fi
if [ $CERTS = 1 ]; then
    start_server tls --echo --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
    ES=$PORT
fi
refused_port
REFUSE=$PORT

# C ARGS...: a one-message client; its output in $T/out, errors in $T/err.
C() {
    echo "hello proxy" | timeout 30 "$D" --timeout 10 -1 "$@" \
        >"$T/out" 2>"$T/err"
}
echoed() { [ "$(cat "$T/out")" = "hello proxy" ]; }

# --- HTTP CONNECT: tinyproxy ----------------------------------------------
# What each proxy logs once it listens.
TREADY='Starting main loop'
DREADY='Dante/server.* running'
start_proxy open tinyconf "$TREADY" "$TINYPROXY" -d -c @CONF@
TP=$PORT
C --proxy "http://127.0.0.1:$TP" "ws://127.0.0.1:$E/t"
check "tinyproxy: ws through CONNECT" "[ \$? = 0 ] && echoed"
check "tinyproxy: it saw the CONNECT" \
    "grep -q 'CONNECT.*127.0.0.1:$E' $T/open.log"
C --proxy "http://127.0.0.1:$TP" "ws://localhost:$E/t"
check "tinyproxy: the proxy resolves the name" "[ \$? = 0 ] && echoed"
if [ $CERTS = 1 ]; then
    C --cacert "$T/cert.pem" --proxy "http://127.0.0.1:$TP" \
        "wss://localhost:$ES/t"
    check "tinyproxy: wss through CONNECT" "[ \$? = 0 ] && echoed"
fi
C --proxy "http://127.0.0.1:$TP" "ws://127.0.0.1:$REFUSE/t"
check "tinyproxy: target refuses: status 3, ECONNREFUSED" \
    "[ \$? = 3 ] && grep -q 'could not connect' $T/err"

start_proxy auth tinyconf "$TREADY" "$TINYPROXY" -d -c @CONF@
TA=$PORT
C -v --proxy "http://alice:s3cret@127.0.0.1:$TA" "ws://127.0.0.1:$E/t"
check "tinyproxy: Basic credentials" "[ \$? = 0 ] && echoed"
check "-v names the proxy, not the password" \
    "grep -q '^\* proxy http://127.0.0.1:$TA (with credentials)' $T/err && \
    ! grep -q s3cret $T/err"
C --proxy "http://alice:wrong@127.0.0.1:$TA" "ws://127.0.0.1:$E/t"
check "tinyproxy: wrong password: status 3, EACCES (401)" \
    "[ \$? = 3 ] && grep -q 'wrong or missing credentials' $T/err"
C --proxy "http://127.0.0.1:$TA" "ws://127.0.0.1:$E/t"
check "tinyproxy: no credentials: status 3, EACCES (407)" \
    "[ \$? = 3 ] && grep -q 'wrong or missing credentials' $T/err"

start_proxy port443 tinyconf "$TREADY" "$TINYPROXY" -d -c @CONF@
C --proxy "http://127.0.0.1:$PORT" "ws://127.0.0.1:$E/t"
check "tinyproxy: forbidden port: status 3, EACCES (403)" \
    "[ \$? = 3 ] && grep -q 'forbidden' $T/err"

# --- SOCKS5: dante -------------------------------------------------------
start_proxy socks danteconf "$DREADY" \
    "$DANTED" -f @CONF@ -p "$T/socks.pid" -N 1
DS=$PORT
C --proxy "socks5://127.0.0.1:$DS" "ws://127.0.0.1:$E/d"
check "danted: ws through SOCKS5" "[ \$? = 0 ] && echoed"
C --proxy "socks5h://127.0.0.1:$DS" "ws://localhost:$E/d"
check "danted: socks5h, the proxy resolves the name" "[ \$? = 0 ] && echoed"
C --proxy "socks5://127.0.0.1:$DS" "ws://localhost:$E/d"
check "danted: socks5, resolved here" "[ \$? = 0 ] && echoed"
if [ $CERTS = 1 ]; then
    C --cacert "$T/cert.pem" --proxy "socks5h://127.0.0.1:$DS" \
        "wss://localhost:$ES/d"
    check "danted: wss through SOCKS5" "[ \$? = 0 ] && echoed"
fi
C --proxy "socks5h://127.0.0.1:$DS" "ws://127.0.0.1:$REFUSE/d"
check "danted: target refuses: status 3, ECONNREFUSED" \
    "[ \$? = 3 ] && grep -q 'could not connect' $T/err"

start_proxy socksblock danteconf "$DREADY" \
    "$DANTED" -f @CONF@ -p "$T/sb.pid" -N 1
C --proxy "socks5://127.0.0.1:$PORT" "ws://127.0.0.1:$E/d"
check "danted: blocked by a rule: status 3, EACCES" \
    "[ \$? = 3 ] && grep -q 'forbidden' $T/err"

NSSW=""
for f in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
    [ -e "$f" ] && NSSW=$f
done
if [ -n "$NSSW" ]; then
    # A user known only to this danted: nss_wrapper gives it its own
    # passwd and shadow files.
    cp /etc/passwd "$T/passwd"
    cp /etc/group "$T/group"
    echo "dilluser:x:65534:65534::/nonexistent:/usr/sbin/nologin" >>"$T/passwd"
    echo "dilluser:$(openssl passwd -6 's3 cret'):19000:0:99999:7:::" \
        >"$T/shadow"
    start_proxy socksuser danteconf "$DREADY" env LD_PRELOAD="$NSSW" \
        NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
        NSS_WRAPPER_SHADOW="$T/shadow" \
        "$DANTED" -f @CONF@ -p "$T/su.pid" -N 1
    DU=$PORT
    C --proxy "socks5h://dilluser:s3%20cret@127.0.0.1:$DU" "ws://localhost:$E/u"
    check "danted: username authentication" "[ \$? = 0 ] && echoed"
    C --proxy "socks5://dilluser:nope@127.0.0.1:$DU" "ws://127.0.0.1:$E/u"
    check "danted: wrong password: status 3, EACCES" \
        "[ \$? = 3 ] && grep -q 'wrong or missing credentials' $T/err"
    C --proxy "socks5://127.0.0.1:$DU" "ws://127.0.0.1:$E/u"
    check "danted: no credentials: status 3, EACCES" \
        "[ \$? = 3 ] && grep -q 'wrong or missing credentials' $T/err"
else
    echo "note: libnss_wrapper not installed, username authentication untested"
fi

# --- A proxy that accepts and never answers --------------------------------
$PY -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1]); sys.stdout.flush()
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' >"$T/stall.port" &
PIDS="$PIDS $!"
for _ in $(seq 200); do [ -s "$T/stall.port" ] && break; sleep 0.05; done
SP=$(cat "$T/stall.port")
for scheme in http socks5h; do
    start=$(date +%s%N)
    echo x | timeout 30 "$D" --timeout 1 --proxy "$scheme://127.0.0.1:$SP" \
        "ws://127.0.0.1:$E/" >/dev/null 2>"$T/err"
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    check "$scheme proxy stalls: status 3 within the timeout ($ms ms)" \
        "[ $rc = 3 ] && grep -q 'timed out' $T/err && [ $ms -lt 8000 ]"
done

# --- The environment -------------------------------------------------------
http_proxy="http://alice:s3cret@127.0.0.1:$TA" C "ws://127.0.0.1:$E/env"
check "http_proxy is used for ws://" "[ \$? = 0 ] && echoed && \
    grep -q 'CONNECT.*127.0.0.1:$E' $T/auth.log"
http_proxy="http://127.0.0.1:$TA" C "ws://127.0.0.1:$E/env"
check "http_proxy: the proxy's refusal shows" "[ \$? = 3 ]"
http_proxy="http://127.0.0.1:$TA" no_proxy="localhost,127.0.0.1" \
    C "ws://127.0.0.1:$E/env"
check "no_proxy: listed host goes direct" "[ \$? = 0 ] && echoed"
http_proxy="http://127.0.0.1:$TA" NO_PROXY="*" C "ws://127.0.0.1:$E/env"
check "NO_PROXY=*: everything direct" "[ \$? = 0 ] && echoed"
http_proxy="http://127.0.0.1:$TA" no_proxy=".example.org" \
    C "ws://127.0.0.1:$E/env"
check "no_proxy: unlisted host uses the proxy" "[ \$? = 3 ]"
http_proxy="http://127.0.0.1:$TA" C --proxy "" "ws://127.0.0.1:$E/env"
check "--proxy \"\" ignores the environment" "[ \$? = 0 ] && echoed"
http_proxy="http://127.0.0.1:$TA" C --proxy "socks5://127.0.0.1:$DS" \
    "ws://127.0.0.1:$E/env"
check "--proxy wins over the environment" "[ \$? = 0 ] && echoed"
all_proxy="socks5h://127.0.0.1:$DS" C "ws://localhost:$E/env"
check "all_proxy" "[ \$? = 0 ] && echoed"
HTTP_PROXY="http://127.0.0.1:$TA" C "ws://127.0.0.1:$E/env"
check "HTTP_PROXY (upper case) is not read" "[ \$? = 0 ] && echoed"
all_proxy="127.0.0.1:$TP" C "ws://127.0.0.1:$E/env"
check "a proxy without a scheme is HTTP" "[ \$? = 0 ] && echoed"
if [ $CERTS = 1 ]; then
    https_proxy="socks5h://127.0.0.1:$DS" http_proxy="http://127.0.0.1:$TA" \
        C --cacert "$T/cert.pem" "wss://localhost:$ES/env"
    check "https_proxy is used for wss://" "[ \$? = 0 ] && echoed"
fi
C --proxy "ftp://127.0.0.1:$TP" "ws://127.0.0.1:$E/"
check "bad proxy URL: status 2" "[ \$? = 2 ] && grep -q 'bad proxy URL' $T/err"

echo "$PASSES passed, $FAILS failed"
[ $FAILS = 0 ]
