#!/bin/sh
# Runs every C test program of build dir $1 under valgrind (memcheck, leak
# check for definite leaks); prints one line per test and fails if any does.
B=${1:-build}
fail=0
for t in "$B"/test_*; do
    case "$t" in *.vg) continue;; esac
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    if timeout 900 valgrind -q --error-exitcode=3 --leak-check=full \
          --errors-for-leak-kinds=definite "$t" >/dev/null 2>"$B/$name.vg"; then
        echo "valgrind: $name ok"
    else
        echo "valgrind: $name FAILED (see $B/$name.vg)"
        fail=1
    fi
done
exit $fail
