#!/usr/bin/python3
"""Interop peer: echo server written with python3-websockets (Debian).

Listens on 127.0.0.1 with a kernel-chosen port, prints "PORT <n>", and echoes
every message with its type.  The request path selects extras:
  frag               echo each message as three fragments (str pieces for
                     text), some possibly empty
  ping               send a ping before each echo and between fragments,
                     and count the pongs
  /close/<code>/<k>  after k echoes, close with <code> and reason "bye"
One line per connection as it starts:
  EXT path=<p> <the Sec-WebSocket-Extensions answer, or none>
One line per finished connection:
  CONN path=<p> msgs=<n> pings=<n> pongs=<n> close_code=<c> close_reason=<r>
where close_code/close_reason are what the client sent in its Close frame.

Usage: py_echo_server.py [-n connections] [-t seconds]
                         [--tls-cert FILE --tls-key FILE]
With --tls-cert and --tls-key it serves wss (ssl.SSLContext).
"""

import argparse
import asyncio
import ssl

import websockets

import wsutil


async def fragments(ws, msg, opts, waiters):
    for i, piece in enumerate(wsutil.split3(msg)):
        if i and opts["ping"]:
            waiters.append(await ws.ping(b"frag%d" % i))
        yield piece


async def handle(ws, opts, stats, waiters):
    while True:
        if opts["close_code"] and stats["msgs"] == opts["close_after"]:
            await ws.close(opts["close_code"], "bye")
            return
        msg = await ws.recv()
        if opts["ping"]:
            waiters.append(await ws.ping(b"msg%d" % stats["msgs"]))
        if opts["frag"]:
            await ws.send(fragments(ws, msg, opts, waiters))
        else:
            await ws.send(msg)
        stats["msgs"] += 1


async def echo(ws, path=None):
    path = ws.path
    opts = wsutil.path_options(path)
    wsutil.out("EXT path=%s %s" % (path, wsutil.clean(
        ws.response_headers.get("Sec-WebSocket-Extensions", "none"))))
    stats = {"msgs": 0}
    waiters = []
    try:
        await handle(ws, opts, stats, waiters)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    pongs = sum(1 for w in waiters
                if w.done() and not w.cancelled() and w.exception() is None)
    wsutil.out("CONN path=%s msgs=%d pings=%d pongs=%d close_code=%s "
               "close_reason=%s" % (path, stats["msgs"], len(waiters),
                                    pongs, ws.close_code,
                                    wsutil.clean(ws.close_reason)))
    echo.done += 1
    if echo.limit and echo.done >= echo.limit:
        echo.finished.set()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=0)
    ap.add_argument("-t", type=int, default=60)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    wsutil.lifetime(args.t)
    echo.done, echo.limit = 0, args.n
    echo.finished = asyncio.Event()
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None,
                                ping_interval=None, close_timeout=5,
                                ssl=tls) as srv:
        wsutil.out("PORT %d" % srv.sockets[0].getsockname()[1])
        await echo.finished.wait()


if __name__ == "__main__":
    asyncio.run(main())
