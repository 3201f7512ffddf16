#!/bin/sh
# Installs what the build and the test suite need on Debian 12.
# Run as root it installs what is missing; otherwise it prints the apt-get line.
PKGS="cmake make gcc clang libclang-rt-14-dev pkg-config libssl-dev openssl zlib1g-dev libc-ares-dev
      valgrind python3 python3-websockets nodejs node-ws nginx-light
      binutils groff-base tinyproxy dante-server libnss-wrapper
      libhiredis-dev redis-server haproxy"
# Chromium (for tests/interop_browser.sh, which is skipped without it) is
# large: installed on CI, or when DILL_BROWSER_TESTS=1.
if [ -n "${CI:-}" ] || [ "${DILL_BROWSER_TESTS:-}" = 1 ]; then
  PKGS="$PKGS chromium"
fi
# make test-cross: cross compilers and qemu-user for aarch64, armhf, s390x
# and riscv64, and musl (cross packages exist for an amd64 host).
if [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then
  PKGS="$PKGS qemu-user musl-tools"
  for a in arm64:aarch64-linux-gnu armhf:arm-linux-gnueabihf \
           s390x:s390x-linux-gnu riscv64:riscv64-linux-gnu; do
    PKGS="$PKGS gcc-${a#*:} libc6-dev-${a%%:*}-cross"
  done
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || { echo "install-deps: apt-get install failed for:$missing" >&2; exit 1; }
else
  echo "Missing packages. Run:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
