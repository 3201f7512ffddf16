#!/usr/bin/python3
"""Interop peer: serves the test page for tests/interop_browser.sh.

  browser_page.py WS_PORT   prints "PORT <n>", then serves on 127.0.0.1:
    /         a page whose script talks to our echo server on WS_PORT
    /result   the page reports its verdict here; printed as
              "RESULT <verdict>" (the page also writes it into the DOM)
Exits after the verdict arrived, or after 60 s.
"""

import http.server
import sys
import threading
import urllib.parse

import wsutil

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pending</title></head>
<body><pre id="result">pending</pre><pre id="log"></pre>
<script>
"use strict";
const base = "ws://127.0.0.1:%(port)d";
const logs = [];
function log(s) { logs.push(s); document.getElementById("log").textContent =
    logs.join("\\n"); }
let reported = false;
function report(verdict) {
  if (reported) return;
  reported = true;
  document.getElementById("result").textContent = verdict;
  document.title = verdict;
  fetch("/result?" + encodeURIComponent(verdict + " | " + logs.join("; ")))
    .catch(() => {});
}
setTimeout(() => report("FAIL timeout"), 15000);

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// One connection: sends `msgs` in turn, checks each echo, then either
// closes with `myClose` or waits for the server to close; resolves with the
// close event.
function session(path, msgs, myClose) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path);
    ws.binaryType = "arraybuffer";
    let i = 0;
    const next = () => {
      if (i < msgs.length) ws.send(msgs[i]);
      else if (myClose) ws.close(myClose, "browser done");
    };
    ws.onopen = () => { log("open " + path + " ext=[" + ws.extensions + "]");
                        next(); };
    ws.onmessage = (ev) => {
      const want = msgs[i];
      let ok;
      if (typeof want === "string") ok = ev.data === want;
      else ok = ev.data instanceof ArrayBuffer &&
                equalBytes(new Uint8Array(ev.data), want);
      if (!ok) { reject(new Error("bad echo of message " + i)); return; }
      log("echo " + i + " ok");
      i++;
      next();
    };
    ws.onerror = () => log("error event on " + path);
    ws.onclose = (ev) => {
      log("close " + path + " code=" + ev.code + " clean=" + ev.wasClean);
      if (i < msgs.length) reject(new Error("closed after " + i + " echoes"));
      else resolve(ev);
    };
  });
}

async function main() {
  const text = "h\\u00e9llo w\\u00f6rld \\u20ac \\u{1f600} " + "x".repeat(200);
  const small = new Uint8Array([0, 1, 2, 253, 254, 255]);
  const big = new Uint8Array(70000);
  for (let k = 0; k < big.length; k++) big[k] = (k * 7 + 3) & 255;
  const ev1 = await session("/echo", [text, small, "", big], 4001);
  if (ev1.code !== 4001 || !ev1.wasClean)
    throw new Error("close 4001 answered with " + ev1.code);
  const ev2 = await session("/close/1001/1", ["hi"], 0);
  if (ev2.code !== 1001 || ev2.reason !== "going away" || !ev2.wasClean)
    throw new Error("server close seen as " + ev2.code + " " + ev2.reason);
  report("PASS");
}
main().catch((e) => { log(String(e)); report("FAIL " + e.message); });
</script></body></html>
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/":
            body = (PAGE % {"port": self.server.ws_port}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        elif url.path == "/result":
            self.send_response(204)
            self.end_headers()
            wsutil.out("RESULT " + urllib.parse.unquote(url.query))
            threading.Thread(target=self.server.shutdown).start()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("http: " + (fmt % args) + "\n")


def main():
    wsutil.lifetime(60)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.ws_port = int(sys.argv[1])
    wsutil.out("PORT %d" % srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
