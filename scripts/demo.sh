#!/bin/sh
# Runs the first example and says what happened.
B=${1:-build}
echo "== dill demo: concurrent prime sieve (examples/sieve.c) =="
"$B/sieve" 2000 && echo "== demo finished: the sieve stopped cleanly at its deadline =="
