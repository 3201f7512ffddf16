# Shared by tests/interop_*.sh (sourced, not run).  Starts peers with
# bounded waits, records their output under $work, kills every child on
# exit, and counts failed checks.
#
# Environment: DILL_TEST_SRCDIR (source tree), DILL_TEST_BINDIR (build tree
# holding peers/ws_echo_server and peers/ws_client), DILL_INTEROP_WRAP (see
# below), DILL_INTEROP_KEEP (keep the logs).

src=${DILL_TEST_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bin=${DILL_TEST_BINDIR:-$src/build}
peers=$bin/peers
idir=$src/tests/interop
# Debian's interpreter: its python3-websockets is not visible to others
# (e.g. a pyenv python3 first on PATH).
PY=/usr/bin/python3
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
# Let ASan-built peers report leaks and errors as failures.
# A distinct exit status, so that an expected failure (status 1) of a peer
# cannot hide a sanitizer report; finish() also scans every log for them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=66}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# Optional wrapper for our peer programs, e.g.
# DILL_INTEROP_WRAP="valgrind -q --error-exitcode=99".
read -r -a wrap <<<"${DILL_INTEROP_WRAP:-}"
client=("${wrap[@]}" "$peers/ws_client")
server=("${wrap[@]}" "$peers/ws_echo_server")

work=$(mktemp -d "${TMPDIR:-/tmp}/dill-interop.XXXXXX")
pids=()
pgroups=()  # process groups started with setsid (browsers)
failures=0
name=$(basename "$0" .sh)

cleanup() {
    local p
    for p in "${pgroups[@]}"; do
        kill -TERM -- "-$p" 2>/dev/null || true
        wait_exit "$p" 5 || kill -KILL -- "-$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        kill -TERM -- "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait_exit "$p" 3 || kill -KILL -- "$p" 2>/dev/null || true
    done
    if [ "$failures" -ne 0 ] || [ -n "${DILL_INTEROP_KEEP:-}" ]; then
        echo "$name: logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

skip() {
    echo "$name: SKIP: $*"
    exit 77
}

need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
    done
}

# The peers are part of the build: missing ones are an error, not a skip.
need_peers() {
    if ! [ -x "$peers/ws_echo_server" ] || ! [ -x "$peers/ws_client" ]; then
        echo "$name: peer programs not built in $peers"
        exit 1
    fi
}

fail() {
    echo "$name: FAIL: $*"
    failures=$((failures + 1))
}

# wait_exit PID SECONDS: waits for a child to exit, at most SECONDS.
# Returns 0 if it exited, and sets $EXIT_STATUS to its exit status.
wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
    EXIT_STATUS=0
    wait "$pid" 2>/dev/null || EXIT_STATUS=$?
    return 0
}

# start_server LOGNAME COMMAND...: runs a server in the background (with
# its own lifetime limit in COMMAND) and waits up to 15 s for its
# "PORT <n>" line; sets $PORT and $SERVER_PID.
start_server() {
    local log=$work/$1.log
    shift
    # Created here: the child opens it only after the fork, and a read of a
    # missing file must not end the script (set -e).
    : >"$log"
    "$@" >"$log" 2>"$log.err" &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
    local deadline=$((SECONDS + 15))
    PORT=
    while [ -z "$PORT" ]; do
        PORT=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$log" | head -n1) \
            || PORT=
        [ -n "$PORT" ] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]
        then
            echo "$name: server $* did not start:"
            cat "$log" "$log.err"
            exit 1
        fi
        sleep 0.1
    done
}

# stop_server LOGNAME: waits up to 20 s for the current server to finish
# its connections and exit with status 0, and shows its stderr if any.
stop_server() {
    if ! wait_exit "$SERVER_PID" 20; then
        fail "server $1 did not exit"
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    elif [ "$EXIT_STATUS" -ne 0 ]; then
        fail "server $1 exited with status $EXIT_STATUS"
    fi
    if [ -s "$work/$1.log.err" ]; then
        echo "--- $1 stderr:"
        cat "$work/$1.log.err"
    fi
}

# run LOGNAME SECONDS COMMAND...: runs a client with a time limit; its
# output goes to $work/LOGNAME.out; sets $RC.
run() {
    local out=$work/$1.out secs=$2
    shift 2
    RC=0
    local t0=$EPOCHREALTIME
    timeout -k 3 "$secs" "$@" >"$out" 2>&1 </dev/null || RC=$?
    ELAPSED=$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
        'BEGIN { printf "%.1fs", b - a }')
}

# has FILE REGEX: FILE has a line matching the extended REGEX.
has() {
    grep -Eq -- "$2" "$1"
}

# expect_pass LOGNAME [REGEX...]: the client passed and printed each REGEX.
expect_pass() {
    local out=$work/$1.out ok=1 re
    shift
    [ "$RC" -eq 0 ] && has "$out" '^RESULT PASS$' || ok=0
    for re in "$@"; do has "$out" "$re" || ok=0; done
    if [ "$ok" -eq 1 ]; then
        echo "ok   $(basename "$out" .out) ($ELAPSED)"
    else
        fail "$(basename "$out" .out) (exit $RC; wanted: $*)"
        tail -n 20 "$out"
    fi
}

# expect_log LOGNAME REGEX DESCRIPTION: a server log has the line.
expect_log() {
    if has "$work/$1.log" "$2"; then
        echo "ok   $3"
    else
        fail "$3: no line /$2/ in $1 log:"
        cat "$work/$1.log"
    fi
}

finish() {
    local f
    for f in "$work"/*.out "$work"/*.log "$work"/*.err; do
        [ -e "$f" ] || continue
        if grep -Eq 'Sanitizer|runtime error:' "$f"; then
            fail "sanitizer report in $(basename "$f"):"
            grep -E -A30 'Sanitizer|runtime error:' "$f" | head -n 60
        fi
    done
    if [ "$failures" -ne 0 ]; then
        echo "$name: $failures check(s) failed"
        exit 1
    fi
    echo "$name: all checks passed"
    exit 0
}
