#!/usr/bin/python3
"""Interop peer: TLS clients that end a WebSocket connection abnormally.

Each case opens a TLS connection (Python's ssl module, the server verified
with the given CA) to our wss echo server, does the opening handshake by
hand, then ends without a WebSocket Close frame:
  partial-abrupt   in the middle of a frame, TCP closed without close_notify
  partial-notify   in the middle of a frame, TLS close_notify, then TCP close
  whole-abrupt     after an echoed message, no close_notify
  whole-notify     after an echoed message, close_notify
The server must fail each connection (ECONNRESET: RFC 6455 1006, abnormal
closure), never take it for a clean close, and must not hang.

Usage: py_tls_abrupt.py PORT CA_FILE
Output: "CASE <name> PASS" per case, then "RESULT PASS" or "RESULT FAIL".
"""

import base64
import os
import socket
import ssl
import sys
import time

import wsutil

CASES = ["partial-abrupt", "partial-notify", "whole-abrupt", "whole-notify"]
MASK = b"\x01\x02\x03\x04"


def masked(data):
    return bytes(b ^ MASK[i % 4] for i, b in enumerate(data))


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            wsutil.die("connection ended early")
        out += chunk
    return out


def run_case(port, ctx, case):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /echo HTTP/1.1\r\nHost: localhost\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % key).encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(4096)
        if not chunk:
            wsutil.die("%s: no handshake answer" % case)
        resp += chunk
    if not resp.startswith(b"HTTP/1.1 101 "):
        wsutil.die("%s: %r" % (case, resp.split(b"\r\n")[0]))
    if case.startswith("partial"):
        # A binary frame announcing 1000 bytes; 10 of them sent.
        s.sendall(b"\x82\xfe\x03\xe8" + MASK + masked(b"x" * 10))
        time.sleep(0.1)
    else:
        s.sendall(b"\x82\x83" + MASK + masked(b"abc"))
        if recv_exact(s, 5) != b"\x82\x03abc":
            wsutil.die("%s: bad echo" % case)
    if case.endswith("notify"):
        s = s.unwrap()
        time.sleep(0.1)
    s.close()
    wsutil.out("CASE %s PASS" % case)


def main():
    wsutil.lifetime(30)
    port, ca = int(sys.argv[1]), sys.argv[2]
    ctx = ssl.create_default_context(cafile=ca)
    try:
        for case in CASES:
            run_case(port, ctx, case)
    except Exception as e:
        wsutil.die("%s: %s" % (type(e).__name__, e))
    wsutil.out("RESULT PASS")


if __name__ == "__main__":
    main()
