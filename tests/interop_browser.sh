#!/bin/bash
# Interoperability with a browser: headless Chromium loads a page whose
# script talks to our echo server (tests/peers/ws_echo_server) with the
# browser's own WebSocket implementation: text with non-ASCII characters,
# binary, an empty message and a 70000-byte one (64-bit length), a close
# with 4001 from the page, and a close with 1001 "going away" from us that
# the page must see as clean.  The page reports its verdict both in its DOM
# and to the page server (tests/interop/browser_page.py), which prints it;
# the test waits for that line (a DOM dump would race with the sessions).
# Skipped (exit 77) when chromium is not installed (scripts/install-deps.sh
# installs it on CI).
set -euo pipefail
. "$(dirname "$0")/interop/lib.sh"

need_peers
[ -x "$PY" ] || skip "$PY is not installed"
# DILL_CHROMIUM: the browser to use (default: chromium from PATH).
browser=
for b in ${DILL_CHROMIUM:-chromium chromium-browser}; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
[ -n "$browser" ] || skip "chromium is not installed"
echo "$name: $("$browser" --version 2>/dev/null || echo "$browser")"

start_server ours "${server[@]}" -n 2 -t 55
wsport=$PORT
start_server page "$PY" "$idir/browser_page.py" "$wsport"
profile=$work/profile
mkdir -p "$profile"
# setsid: the browser and all its helper processes form one process group
# that cleanup() ends by id.
setsid "$browser" --headless=new --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --disable-extensions --user-data-dir="$profile" \
    "http://127.0.0.1:$PORT/" >"$work/browser.out" 2>&1 </dev/null &
pgroups+=("$!")

deadline=$((SECONDS + 40))
until has "$work/page.log" '^RESULT '; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        fail "no verdict from the page within 40 s"
        tail -n 20 "$work/browser.out"
        break
    fi
    sleep 0.2
done
sed -n 's/^RESULT /page: /p' "$work/page.log"
has "$work/page.log" '^RESULT PASS ' || fail "the page did not pass"
stop_server ours
cat "$work/ours.log"
expect_log ours \
    '^CONN [0-9]+ path=/echo msgs=4 bytes=70229 end=peer-close status=4001 '\
'reason=browser_done$' \
    "our server reports the browser's close 4001"
expect_log ours \
    '^CONN [0-9]+ path=/close/1001/1 msgs=1 .* end=closed status=1001 ' \
    "our close 1001 answered by the browser"

finish
