#!/bin/sh
# `make demo`: runs the first example and says what happened.
B=${1:-build}
echo "== dill demo: a concurrent prime sieve (examples/sieve.c) =="
echo "   one coroutine per prime, connected by channels, cancelled by a deadline"
"$B/sieve" 2000 || exit 1
echo "== done: every coroutine was cancelled and joined by one hclose() =="
