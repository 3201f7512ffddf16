#!/bin/sh
# make test-cross: the library and its C tests on other platforms.
#   aarch64  (native assembly context switch)   cross gcc + qemu-aarch64
#   armhf    (32-bit, portable context switch)  cross gcc + qemu-arm
#   s390x    (big-endian, portable)             cross gcc + qemu-s390x
#   riscv64  (portable)                         cross gcc + qemu-riscv64
#   musl     (x86-64, musl libc)                musl-gcc, run natively
#   portable (x86-64, DILL_ARCH_FALLBACK and DILL_NO_SIMD), run natively
# All static, without TLS and c-ares (no cross builds of OpenSSL/c-ares).
# A platform whose tools are missing is skipped with a message.
# Usage: scripts/cross-test.sh [OUTDIR [PLATFORM...]]
OUT=${1:-build-cross}
[ $# -gt 0 ] && shift
PLATFORMS=${*:-aarch64 armhf s390x riscv64 musl portable}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
SRC=$(cd "$(dirname "$0")/.." && pwd)

# core, codec, ws and socket tests.  Not here: tls and ws_tls (no TLS),
# ws_interop and the script tests (peers and tools of the host).
TESTS="cr chan threads fd iolist random compat hibernate
       base64 sha1 utf8 url wsurl httpparse wshs wsframe
       ws ws_conformance ws_gather wslisten wsproxy
       tcp ipc udp ipaddr http socks5 uring tables"
# Under qemu-user: uring is left out, since the emulator has no io_uring
# (ENOSYS), so the library takes the epoll path every other test covers.
EMU_SKIP="uring"

start=$(date +%s)
npass=0 nfail=0 nskip=0
failed=""

say() { echo "test-cross: $*"; }

have() { command -v "$1" >/dev/null 2>&1; }

# build NAME EMULATOR TESTLIST CMAKE-ARGS...: configures and builds the
# test programs of TESTLIST in $OUT/NAME.
build() {
    name=$1 emu=$2 list=$3
    shift 3
    b=$OUT/$name
    targets=""
    for t in $list; do targets="$targets test_$t"; done
    # PKG_CONFIG_LIBDIR: the host's c-ares must not be found.
    PKG_CONFIG_LIBDIR=/nonexistent cmake -S "$SRC" -B "$b" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDILL_TLS=OFF -DDILL_BENCH=OFF \
        -DDILL_EXAMPLES=OFF -DDILL_VALGRIND=OFF \
        -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON \
        -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON \
        -DCMAKE_EXE_LINKER_FLAGS=-static \
        ${emu:+-DCMAKE_CROSSCOMPILING_EMULATOR=$emu} "$@" \
        >"$b.log" 2>&1 &&
    cmake --build "$b" -j "$JOBS" --target $targets >>"$b.log" 2>&1
}

# run NAME EMULATOR TESTLIST: runs the tests; counts and reports.
run() {
    name=$1 emu=$2 list=$3
    re=$(echo $list | sed 's/ /|/g')
    out=$OUT/$name.ctest
    # -V: the log keeps what each test prints about what it left out.
    DILL_TEST_EMULATOR=$emu ctest --test-dir "$OUT/$name" -j "$JOBS" -V \
        -R "^($re)\$" >"$out" 2>&1
    p=$(grep -cE 'Test +#[0-9]+: .* Passed' "$out")
    f=$(grep -cE 'Test +#[0-9]+: .*\*\*\*' "$out")
    npass=$((npass + p))
    nfail=$((nfail + f))
    if [ "$f" -gt 0 ]; then
        failed="$failed $name"
        grep -E 'Test +#[0-9]+: .*\*\*\*' "$out"
        grep -E '^[0-9]+: .*(assert|expected|Abort|signal)' "$out" | head -20
        echo "    (whole log: $out)"
    fi
    # What the tests say they left out or cut down under emulation, and why.
    sed -n 's/^[0-9]*: \([a-z0-9_ ]*: \(under\|built without\) .*\)/    \1/p' \
        "$out" | sort -u
    say "$name: $p passed, $f failed ($(( $(date +%s) - t0 )) s)"
}

# The programs of tests/emu/ under the emulator: what they print documents
# the emulator's behaviour that the library works around.
probe() {
    cc=$1 emu=$2 name=$3
    for p in "$SRC"/tests/emu/*.c; do
        bin=$OUT/$name-$(basename "$p" .c)
        $cc -static -O2 -o "$bin" "$p" >/dev/null 2>&1 || continue
        echo "    emulator: $($emu "$bin" 2>&1 | head -1)"
    done
}

cross() {
    name=$1 triple=$2 qemu=$3 what=$4
    if ! have "$triple-gcc" || ! have "$qemu"; then
        say "$name: skipped: $triple-gcc or $qemu not installed" \
            "(scripts/install-deps.sh installs them)"
        nskip=$((nskip + 1))
        return
    fi
    t0=$(date +%s)
    list=""
    for t in $TESTS; do
        case " $EMU_SKIP " in *" $t "*) ;; *) list="$list $t" ;; esac
    done
    say "$name: $what; under $qemu; not run: $EMU_SKIP (no io_uring in qemu-user)"
    if ! build "$name" "$qemu" "$list" -DCMAKE_SYSTEM_NAME=Linux \
        -DCMAKE_SYSTEM_PROCESSOR="${triple%%-*}" \
        -DCMAKE_C_COMPILER="$triple-gcc" -DCMAKE_ASM_COMPILER="$triple-gcc" \
        -DCMAKE_FIND_ROOT_PATH="/usr/$triple" \
        -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER \
        -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
        -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY; then
        tail -20 "$OUT/$name.log"
        say "$name: build FAILED (see $OUT/$name.log)"
        nfail=$((nfail + 1)); failed="$failed $name"
        return
    fi
    probe "$triple-gcc" "$qemu" "$name"
    run "$name" "$qemu" "$list"
}

native() {
    name=$1 what=$2
    shift 2
    t0=$(date +%s)
    say "$name: $what; run natively"
    if ! build "$name" "" "$TESTS" "$@"; then
        tail -20 "$OUT/$name.log"
        say "$name: build FAILED (see $OUT/$name.log)"
        nfail=$((nfail + 1)); failed="$failed $name"
        return
    fi
    run "$name" "" "$TESTS"
}

musl() {
    if ! have musl-gcc; then
        say "musl: skipped: musl-gcc not installed (package musl-tools)"
        nskip=$((nskip + 1))
        return
    fi
    # musl-gcc sees only musl's headers; the io_uring backend also needs
    # the kernel's (as linux-headers provides them on Alpine).
    kh=$OUT/musl-kernel-headers
    mkdir -p "$kh"
    for d in linux asm-generic; do ln -sfn "/usr/include/$d" "$kh/$d"; done
    ln -sfn "/usr/include/$(gcc -print-multiarch)/asm" "$kh/asm"
    CC=musl-gcc native musl "musl libc, static, x86-64" \
        -DCMAKE_C_FLAGS="-isystem $(cd "$kh" && pwd)"
}

mkdir -p "$OUT"
for p in $PLATFORMS; do
    case $p in
    aarch64) cross aarch64 aarch64-linux-gnu qemu-aarch64 \
                 "64-bit ARM, assembly context switch" ;;
    armhf)   cross armhf arm-linux-gnueabihf qemu-arm \
                 "32-bit ARM (hard float), portable context switch" ;;
    s390x)   cross s390x s390x-linux-gnu qemu-s390x \
                 "big-endian, portable context switch" ;;
    riscv64) cross riscv64 riscv64-linux-gnu qemu-riscv64 \
                 "RISC-V 64, portable context switch" ;;
    musl)    musl ;;
    portable) native portable \
                 "x86-64 with DILL_ARCH_FALLBACK and DILL_NO_SIMD" \
                 -DDILL_ARCH_FALLBACK=ON -DDILL_NO_SIMD=ON ;;
    *) say "unknown platform $p"; exit 2 ;;
    esac
done
say "wall time $(( $(date +%s) - start )) s${failed:+; FAILED:$failed}"
echo "test-cross: $npass passed, $nfail failed, $nskip skipped"
[ "$nfail" -eq 0 ]
