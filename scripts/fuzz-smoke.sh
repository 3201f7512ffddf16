#!/bin/sh
# Builds the libFuzzer targets with clang and runs each for a short time
# ($2 seconds, default 10) on a copy of its seed corpus; the targets named
# in LONG get $3 seconds (default 60): the client handshake and the TLS
# record path, the newest and least explored.  Any crash, leak or sanitizer
# report fails the run.
B=${1:-build-fuzz}
T=${2:-10}
TLONG=${3:-60}
LONG="fuzz_wsclient fuzz_tls"
set -e
CC=clang cmake -S . -B "$B" -DDILL_FUZZ=ON -DDILL_BENCH=OFF -DDILL_EXAMPLES=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
fail=0
for src in fuzz/*.c; do
    name=$(basename "$src" .c)
    seeds=fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    t=$T
    case " $LONG " in *" $name "*) t=$TLONG;; esac
    if UBSAN_OPTIONS=halt_on_error=1 "$B/$name" -max_total_time="$t" \
          -max_len=65536 -print_final_stats=1 -artifact_prefix="$B/$name-" "$work" >"$B/$name.log" 2>&1; then
        echo "fuzz: $name ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' \
            "$B/$name.log" | cut -d' ' -f2 || true) runs)"
    else
        echo "fuzz: $name FAILED (see $B/$name.log)"
        fail=1
    fi
    rm -rf "$work"
done
exit $fail
