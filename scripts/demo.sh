#!/bin/sh
# `make demo` (the build directory is $1): the prime sieve, which is quick,
# then the WebSocket chat server until Ctrl-C.  DEMO_SECONDS=N stops the
# chat server after N seconds (for scripts).
B=${1:-build}
echo "== dill demo 1/2: a concurrent prime sieve (examples/sieve.c) =="
echo "   one coroutine per prime, linked by channels, cancelled at a deadline"
"$B/sieve" 2000 || exit 1
echo "== done: every coroutine was cancelled and joined by one hclose() =="
echo
echo "== dill demo 2/2: a WebSocket chat server (examples/ws_chat.c) =="
echo "   one port serves the chat page over HTTP and the WebSocket on /ws;"
echo "   every connection is a coroutine, messages fan out through channels"
SECS=""
if [ -n "${DEMO_SECONDS:-}" ]; then
    SECS="--seconds $DEMO_SECONDS"
    echo "   (stopping after $DEMO_SECONDS s)"
else
    echo "   (Ctrl-C stops it)"
fi
trap 'echo; echo "== chat server stopped =="; exit 0' INT TERM
"$B/ws_chat" --port 8080 $SECS
rc=$?
if [ "$rc" = 3 ]; then
    echo "   port 8080 is taken: using a free port instead"
    "$B/ws_chat" --port 0 $SECS
    rc=$?
fi
[ "$rc" = 0 ] && echo "== chat server stopped =="
exit $rc
