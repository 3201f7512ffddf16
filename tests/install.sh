#!/bin/bash
# Installs the build tree into a temporary prefix (as a packager would, with
# `cmake --install --prefix`), then builds and runs a program against it
# three ways: pkg-config with the shared library, pkg-config --static, and
# a CMake project using find_package(dill).  Skipped (77) for sanitizer
# builds, whose libraries need the sanitizer runtime in every program.
#
# Environment: DILL_TEST_SRCDIR (source tree), DILL_TEST_BINDIR (build tree).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${DILL_TEST_SRCDIR:-$here/..}
bin=${DILL_TEST_BINDIR:-$src/build}
if grep -qE '^DILL_SANITIZE:BOOL=ON|^DILL_FUZZ:BOOL=ON' "$bin/CMakeCache.txt"; then
    echo "install: sanitizer build, skipped"; exit 77
fi
command -v pkg-config >/dev/null || { echo "install: no pkg-config"; exit 77; }
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$bin/CMakeCache.txt")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$bin" --prefix "$tmp/prefix" >/dev/null
# The prefix is moved after installation: nothing may point at where it
# was installed.
mv "$tmp/prefix" "$tmp/moved"
pc=$(dirname "$(find "$tmp/moved" -name libdill.pc)")
[ -d "$pc" ] || { echo "install: libdill.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=$pc
cflags=$(pkg-config --cflags libdill)
case "$cflags" in *"$tmp/moved"*) ;; *) echo "install: Cflags '$cflags' do not follow the prefix"; exit 1;; esac
# A deterministic program touching the core, the WebSocket layer and, when
# the header declares it, TLS.
prog=$tmp/prog.c
cat >"$prog" <<'C'
#include <libdill.h>
#include <stdio.h>
coroutine static void count(int ch) {
    for(int i = 1; i <= 100; i++) chsend(ch, &i, sizeof(i), -1);
}
int main(void) {
    int ch[2];
    if(chmake(ch) < 0) return 1;
    int h = go(count(ch[0]));
    int sum = 0, v;
    for(int i = 0; i < 100; i++) {chrecv(ch[1], &v, sizeof(v), -1); sum += v;}
    char key[WS_KEY_SIZE], acc[WS_KEY_SIZE];
    if(ws_request_key(key) < 0 || ws_response_key(key, acc) < 0) return 1;
#if !defined DILL_DISABLE_TLS
    /* Referenced only: the symbol must exist. */
    volatile void *tls = (void*)tls_attach_client;
    (void)tls;
#endif
    hclose(h);
    printf("sum %d\n", sum);
    return 0;
}
C
libdir=$(pkg-config --variable=libdir libdill)
"$cc" -o "$tmp/shared" "$prog" $(pkg-config --cflags --libs libdill)
LD_LIBRARY_PATH=$libdir "$tmp/shared" >"$tmp/out1"
ldd_out=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/shared")
case "$ldd_out" in *"$libdir/libdill.so"*) ;; *) echo "install: not linked with the installed libdill.so"; exit 1;; esac
"$cc" -o "$tmp/static" "$prog" $(pkg-config --cflags libdill) \
    "$libdir/libdill.a" $(pkg-config --libs-only-l --static libdill | sed 's/-ldill//')
"$tmp/static" >"$tmp/out2"
cmp -s "$tmp/out1" "$tmp/out2" || { echo "install: shared and static builds differ"; exit 1; }
# find_package(dill)
mkdir "$tmp/user"
cat >"$tmp/user/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(user C)
find_package(dill 2.14 REQUIRED)
add_executable(shared $prog)
target_link_libraries(shared PRIVATE dill::dill)
add_executable(static $prog)
target_link_libraries(static PRIVATE dill::dill_static)
CM
CC=$cc cmake -S "$tmp/user" -B "$tmp/user/b" -DCMAKE_PREFIX_PATH="$tmp/moved" >"$tmp/cm.log" 2>&1 \
    || { cat "$tmp/cm.log"; echo "install: find_package(dill) failed"; exit 1; }
cmake --build "$tmp/user/b" >"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; exit 1; }
LD_LIBRARY_PATH=$libdir "$tmp/user/b/shared" >"$tmp/out3"
"$tmp/user/b/static" >"$tmp/out4"
cmp -s "$tmp/out1" "$tmp/out3" && cmp -s "$tmp/out1" "$tmp/out4" \
    || { echo "install: find_package builds print something else"; exit 1; }
grep -qx "sum 5050" "$tmp/out1" || { echo "install: wrong output"; exit 1; }
echo "install: pkg-config (shared, static) and find_package(dill) builds work from a moved prefix"
