#!/usr/bin/python3
"""Interop peer: a raw-socket WebSocket endpoint (no library) that sends
text which is not valid UTF-8, and checks that our side fails the connection
with Close status 1007 (RFC 6455 8.1); then other protocol violations, which
must be answered with 1002.

  py_raw.py client PORT   connects to our echo server once per case
  py_raw.py server        prints "PORT <n>", then serves one case per
                          accepted connection, in order; our client sends
                          one message first, then receives the bad frames
  py_raw.py cases         prints the number of cases
Output: "CASE <name> close=<code> PASS|FAIL ..." per case, then "RESULT PASS"
or "RESULT FAIL".  Each case first exchanges one valid message (client
mode; every other case sends it in the same write as the upgrade request),
so a failure cannot come from a broken handshake.
"""

import base64
import hashlib
import os
import socket
import struct
import sys

import wsutil

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CONT, CLOSE, PING = 1, 0, 8, 9
RSV1 = 0x40
WRONG_MASK = 0x100  # not on the wire: send this frame with the wrong masking

# name -> ([(fin, opcode, payload), ...], acceptable close codes)
CASES = [
    ("invalid-byte", [(1, TEXT, b"ab\xff")], {1007}),
    ("overlong", [(1, TEXT, b"\xc0\xaf")], {1007}),
    ("surrogate", [(1, TEXT, b"\xed\xa0\x80")], {1007}),
    ("above-max", [(1, TEXT, b"\xf4\x90\x80\x80")], {1007}),
    ("split-invalid", [(0, TEXT, b"\xe2\x82"), (1, CONT, b"\x28")], {1007}),
    ("truncated", [(1, TEXT, b"abc\xe2\x82")], {1007}),
    ("frag-truncated", [(0, TEXT, b"a\xf0\x9f"), (1, CONT, b"\x98")],
     {1007}),
    # Autobahn 7.5.1 accepts 1002 or 1007 for a bad reason in a Close frame.
    ("close-reason", [(1, CLOSE, struct.pack("!H", 1000) + b"\xff")],
     {1002, 1007}),
    # Protocol errors (RFC 6455 5.2, 5.4, 5.5, 7.4): Close 1002.
    ("close-1-byte", [(1, CLOSE, b"\x03")], {1002}),
    ("close-code-1005", [(1, CLOSE, struct.pack("!H", 1005))], {1002}),
    ("close-code-999", [(1, CLOSE, struct.pack("!H", 999))], {1002}),
    ("close-code-5000", [(1, CLOSE, struct.pack("!H", 5000))], {1002}),
    ("ping-fragmented", [(0, PING, b"x")], {1002}),
    ("ping-126-bytes", [(1, PING, b"x" * 126)], {1002}),
    ("opcode-3", [(1, 3, b"")], {1002}),
    ("rsv1-no-extension", [(1, RSV1 | TEXT, b"a")], {1002}),
    ("continuation-first", [(1, CONT, b"a")], {1002}),
    ("text-inside-message", [(0, TEXT, b"a"), (1, TEXT, b"b")], {1002}),
    # The wrong masking for the direction (a client must mask, a server
    # must not).
    ("wrong-masking", [(1, TEXT | WRONG_MASK, b"a")], {1002}),
]


def frame(fin, op, payload, mask):
    if op & WRONG_MASK:
        op, mask = op & ~WRONG_MASK, not mask
    b0 = (0x80 if fin else 0) | op
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        hdr += key
    return hdr + payload


def read_exact(f, n):
    data = f.read(n)
    if data is None or len(data) != n:
        raise EOFError("connection closed after %d of %d bytes"
                       % (len(data or b""), n))
    return data


def read_frame(f):
    """-> (fin, opcode, masked, payload)"""
    b0, b1 = read_exact(f, 2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack("!H", read_exact(f, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(f, 8))[0]
    key = read_exact(f, 4) if b1 & 0x80 else None
    data = read_exact(f, n)
    if key:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return b0 >> 7, b0 & 0x0f, key is not None, data


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def read_head(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed in the HTTP head")
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.rstrip(b"\r\n"))


def await_close(f, want_masked):
    """Skips data frames until a Close frame; returns its status code."""
    while True:
        fin, op, masked, data = read_frame(f)
        if masked != want_masked:
            raise ValueError("frame with masked=%s" % masked)
        if op == CLOSE:
            return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 0


def finish(sock, f, code, masked):
    """Answers the Close frame and expects the peer to end the TCP stream."""
    try:
        sock.sendall(frame(1, CLOSE, struct.pack("!H", code), masked))
    except OSError:
        pass  # the peer may already have closed: allowed after failing
    try:
        rest = f.read()
        return "eof" if not rest else "eof+%d" % len(rest)
    except OSError as e:
        return type(e).__name__


def client_case(port, name, frames, codes, pipelined):
    """With `pipelined`, the first message goes in the same write as the
    upgrade request, before the 101 answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = sock.makefile("rb")
    key = base64.b64encode(os.urandom(16))
    hello = "h\u00e9llo \u20ac".encode()
    request = (b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (port, key))
    if pipelined:
        request += frame(1, TEXT, hello, True)
    sock.sendall(request)
    head = read_head(f)
    if b" 101 " not in head[0] + b" ":
        raise ValueError("status line %r" % head[0])
    fields = {}
    for line in head[1:]:
        k, _, v = line.partition(b":")
        fields[k.strip().lower()] = v.strip()
    if fields.get(b"sec-websocket-accept") != accept_key(key):
        raise ValueError("bad Sec-WebSocket-Accept")
    if not pipelined:
        sock.sendall(frame(1, TEXT, hello, True))
    fin, op, masked, data = read_frame(f)
    if (fin, op, masked, data) != (1, TEXT, False, hello):
        raise ValueError("bad echo %r" % ((fin, op, masked, data),))
    for fin, op, payload in frames:
        sock.sendall(frame(fin, op, payload, True))
    code = await_close(f, False)
    return code, finish(sock, f, code, True)


def server_case(lsock, name, frames, codes):
    sock, _ = lsock.accept()
    sock.settimeout(10)
    f = sock.makefile("rb")
    head = read_head(f)
    key = None
    for line in head[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"sec-websocket-key":
            key = v.strip()
    if not head[0].startswith(b"GET ") or key is None:
        raise ValueError("bad request %r" % head)
    sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                 % accept_key(key))
    fin, op, masked, data = read_frame(f)
    if not masked:
        raise ValueError("client frame not masked")
    for fin, op, payload in frames:
        sock.sendall(frame(fin, op, payload, False))
    code = await_close(f, True)
    return code, finish(sock, f, code, False)


def main():
    wsutil.lifetime(60)
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "cases":
        print(len(CASES))
        return 0
    lsock = None
    if mode == "server":
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(8)
        lsock.settimeout(30)
        wsutil.out("PORT %d" % lsock.getsockname()[1])
    elif mode != "client" or len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ok = True
    for i, (name, frames, codes) in enumerate(CASES):
        pipelined = i % 2 == 1
        try:
            if lsock:
                code, end = server_case(lsock, name, frames, codes)
            else:
                code, end = client_case(int(sys.argv[2]), name, frames, codes,
                                        pipelined)
            good = code in codes
            wsutil.out("CASE %s close=%d %s end=%s%s" %
                       (name, code, "PASS" if good else "FAIL", end,
                        " (pipelined)" if pipelined and not lsock else ""))
        except Exception as e:
            good = False
            wsutil.out("CASE %s FAIL %s: %s" % (name, type(e).__name__, e))
        ok = ok and good
    wsutil.out("RESULT %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
