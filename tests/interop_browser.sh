#!/bin/bash
# Interoperability with a browser: headless Chromium loads a page whose
# script talks to our echo server (tests/peers/ws_echo_server) with the
# browser's own WebSocket implementation: text with non-ASCII characters,
# binary, an empty message and a 70000-byte one (64-bit length), a close
# with 4001 from the page, and a close with 1001 "going away" from us that
# the page must see as clean.  The page reports its verdict both in its DOM
# and to the page server (tests/interop/browser_page.py), which prints it;
# the test waits for that line (a DOM dump would race with the sessions).
# The page runs twice: against the plain server, then against one that
# agrees permessage-deflate (which Chromium always offers).
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

# browser_run LABEL [SERVER ARGS...]: our echo server (log "LABEL") with
# the extra arguments, the page server, and a headless Chromium on the page.
browser_run() {
    local label=$1; shift
    start_server "$label" "${server[@]}" -n 2 -t 55 "$@"
    wsport=$PORT
    start_server "page$label" "$PY" "$idir/browser_page.py" "$wsport"
    profile=$work/profile$label
    mkdir -p "$profile"
    # setsid: the browser and all its helper processes form one process
    # group that cleanup() ends by id.  TMPDIR: Chromium puts its
    # singleton socket in a directory of its own under TMPDIR and never
    # removes it; here it goes away with $work.
    TMPDIR="$work" setsid "$browser" --headless=new --no-sandbox --disable-gpu \
        --disable-quic --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --disable-extensions \
        --user-data-dir="$profile" "http://127.0.0.1:$PORT/" \
        >"$work/browser$label.out" 2>&1 </dev/null &
    pgroups+=("$!")
    deadline=$((SECONDS + 40))
    until has "$work/page$label.log" '^RESULT '; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "$label: no verdict from the page within 40 s"
            tail -n 20 "$work/browser$label.out"
            break
        fi
        sleep 0.2
    done
    sed -n "s/^RESULT /page ($label): /p" "$work/page$label.log"
    has "$work/page$label.log" '^RESULT PASS ' \
        || fail "$label: the page did not pass"
    stop_server "$label"
    cat "$work/$label.log"
    expect_log "$label" \
        '^CONN [0-9]+ path=/echo msgs=4 bytes=70229 end=peer-close '\
'status=4001 reason=browser_done$' \
        "$label: our server reports the browser's close 4001"
    expect_log "$label" \
        '^CONN [0-9]+ path=/close/1001/1 msgs=1 .* end=closed status=1001 ' \
        "$label: our close 1001 answered by the browser"
}

browser_run ours
# Chromium offers permessage-deflate on every connection: with -z our
# server agrees, and the same page runs over compressed messages.
browser_run oursz -z 0
expect_log oursz '^DEFLATE [0-9]+ server_window=15 client_window=15 '\
'snct=1 cnct=1$' "the browser agreed permessage-deflate"
# And with context takeover and 12-bit windows both ways.
browser_run oursz12 -z 65536
expect_log oursz12 '^DEFLATE [0-9]+ server_window=12 client_window=12 '\
'snct=0 cnct=0$' "the browser agreed 12-bit windows with context takeover"

finish
