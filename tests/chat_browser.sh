# The chat example in a real browser: headless Chromium opens two pages of
# ws_chat (alice and bob); a message typed into alice's page (key events
# into the input box, then Enter) must appear in bob's page, and bob's
# reply in alice's.  Driven over the DevTools protocol by a small Python
# client (python3-websockets).  Exit 77 (skipped) without chromium or the
# Python module (scripts/install-deps.sh installs chromium on CI).
# DILL_CHROMIUM: the browser to use (default: chromium from PATH).
# 127.0.0.1 and kernel-picked ports only; bounded waits.
set -u
B=${DILL_TEST_BINDIR:-build}
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
BROWSER=""
for b in ${DILL_CHROMIUM:-chromium chromium-browser}; do
    command -v "$b" >/dev/null 2>&1 && { BROWSER=$b; break; }
done
[ -n "$BROWSER" ] || { echo "skip: chromium is not installed"; exit 77; }
"$PY" -c 'import websockets' 2>/dev/null ||
    { echo "skip: python3-websockets is not installed"; exit 77; }
[ -x "$B/ws_chat" ] || { echo "missing $B/ws_chat"; exit 1; }
T=$(mktemp -d)
CHAT=""
BPID=""
cleanup() {
    [ -n "$BPID" ] && kill -- -"$BPID" 2>/dev/null
    [ -n "$CHAT" ] && kill "$CHAT" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

"$B/ws_chat" --port 0 --seconds 60 >"$T/chat.out" 2>&1 &
CHAT=$!
PORT=""
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$T/chat.out")
    [ -n "$PORT" ] && break
    sleep 0.05
done
[ -n "$PORT" ] || { echo "ws_chat did not start"; cat "$T/chat.out"; exit 1; }

# setsid: the browser and its helpers form one process group, ended by id.
# TMPDIR: Chromium's singleton directory goes away with $T, not left in /tmp.
mkdir -p "$T/profile"
TMPDIR="$T" setsid "$BROWSER" --headless=new --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --disable-extensions --user-data-dir="$T/profile" \
    --remote-debugging-port=0 about:blank >"$T/browser.out" 2>&1 </dev/null &
BPID=$!
for _ in $(seq 300); do
    [ -s "$T/profile/DevToolsActivePort" ] && break
    sleep 0.1
done
[ -s "$T/profile/DevToolsActivePort" ] ||
    { echo "chromium did not open its DevTools port"; tail "$T/browser.out"; exit 1; }

timeout 60 "$PY" - "$T/profile/DevToolsActivePort" "$PORT" <<'PY'
import asyncio, json, sys
import websockets

portfile, chat_port = sys.argv[1], int(sys.argv[2])
lines = open(portfile).read().split()
browser_url = "ws://127.0.0.1:%s%s" % (lines[0], lines[1])

class CDP:
    def __init__(self, ws):
        self.ws, self.n, self.waiting = ws, 0, {}
    async def reader(self):
        async for raw in self.ws:
            m = json.loads(raw)
            f = self.waiting.pop(m.get("id"), None)
            if f: f.set_result(m)
    async def call(self, method, session=None, **params):
        self.n += 1
        msg = {"id": self.n, "method": method, "params": params}
        if session: msg["sessionId"] = session
        f = asyncio.get_running_loop().create_future()
        self.waiting[self.n] = f
        await self.ws.send(json.dumps(msg))
        m = await asyncio.wait_for(f, 20)
        if "error" in m: raise RuntimeError("%s: %s" % (method, m["error"]))
        return m["result"]
    async def js(self, session, expr):
        r = await self.call("Runtime.evaluate", session, expression=expr,
                            returnByValue=True)
        return r["result"].get("value")
    async def page(self, url):
        t = await self.call("Target.createTarget", url=url)
        s = await self.call("Target.attachToTarget", targetId=t["targetId"],
                            flatten=True)
        return s["sessionId"]
    async def wait_log(self, session, text, what, seconds=15):
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            log = await self.js(session,
                "document.getElementById('log') ? "
                "document.getElementById('log').innerText : ''")
            if log and text in log: return log
            await asyncio.sleep(0.1)
        raise AssertionError("%s: %r never appeared; log: %r" % (what, text, log))
    async def type_line(self, session, text):
        await self.js(session, "document.getElementById('msg').focus(); true")
        await self.call("Input.insertText", session, text=text)
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", session, type=kind,
                            key="Enter", code="Enter", windowsVirtualKeyCode=13,
                            text="\r" if kind == "keyDown" else "")

async def main():
    async with websockets.connect(browser_url, max_size=None) as ws:
        cdp = CDP(ws)
        rd = asyncio.ensure_future(cdp.reader())
        base = "http://127.0.0.1:%d/" % chat_port
        alice = await cdp.page(base + "?name=alice")
        await cdp.wait_log(alice, "connected", "alice's page connects")
        bob = await cdp.page(base + "?name=bob")
        await cdp.wait_log(bob, "connected", "bob's page connects")
        await cdp.wait_log(alice, "bob joined", "alice sees bob join")
        await cdp.type_line(alice, "hello bob, ça va?")
        await cdp.wait_log(bob, "alice: hello bob, ça va?", "bob gets it")
        print("ok: a line typed in alice's page appears in bob's page")
        await cdp.type_line(bob, "fine <b>thanks</b>")
        log = await cdp.wait_log(alice, "bob: fine <b>thanks</b>",
                                 "alice gets the reply")
        print("ok: bob's reply appears in alice's page, as text")
        bold = await cdp.js(alice, "document.querySelectorAll('#log b').length")
        assert bold == 0, "markup from a message was interpreted"
        value = await cdp.js(alice, "document.getElementById('msg').value")
        assert value == "", "the input box was not cleared"
        rd.cancel()
    print("2 passed, 0 failed")

asyncio.run(main())
PY
rc=$?
[ $rc = 0 ] || { echo "FAIL (status $rc); chat server output:"; cat "$T/chat.out"; }
exit $rc
