#!/usr/bin/python3
"""Interop peer: client written with python3-websockets (Debian).

Sends a script of messages (same syntax as tests/peers/ws_client.c), checks
each echo byte for byte and by type, then closes and prints the Close frame
the server answered with.

Usage: py_client.py [--script S] [--large] [--frag] [--ping]
                    [--close CODE] [--reason R] [--wait-close] URL
  --frag        send every message as three fragments (async iterator)
  --ping        ping before each message and between fragments; all pongs
                must arrive
  --close CODE  close with CODE (default 1000) and --reason (default "done")
  --wait-close  do not close: wait for the server's Close frame
  --burst N     after the script, write N small messages back to back, then
                read and check their N echoes
  --parallel N  run N such clients at once
  --ca FILE     for wss URLs: trust the CA certificates of FILE (the
                server's certificate is verified, host name included)
Output: "EXT <agreed Sec-WebSocket-Extensions or none>", "OK <item>" lines, "BURST <n>", "PONGS <got>/<sent>",
"PEER_CLOSE <code> <reason>", then "RESULT PASS" or "RESULT FAIL".
"""

import argparse
import asyncio
import ssl

import websockets

import wsutil


async def fragments(ws, msg, ping, waiters):
    for i, piece in enumerate(wsutil.split3(msg)):
        if i and ping:
            waiters.append(await ws.ping(b"frag%d" % i))
        yield piece


async def burst(ws, n):
    """n small messages written back to back, then their n echoes: several
    frames per read on the other side."""
    msgs = [wsutil.payload(i % 2 == 0, i % 300, i) for i in range(n)]
    for m in msgs:
        await ws.send(m)
    for i, m in enumerate(msgs):
        if await ws.recv() != m:
            wsutil.die("echo %d of the burst differs" % i)
    wsutil.out("BURST %d" % n)


async def run(args):
    items = wsutil.parse_script(args.script, args.large)
    waiters = []
    # ssl=None would mean plain TCP even for a wss URL: pass it only when set.
    tls = {}
    if args.ca:
        tls["ssl"] = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                                cafile=args.ca)
    async with websockets.connect(args.url, max_size=None, max_queue=None,
                                  ping_interval=None, close_timeout=5,
                                  **tls) as ws:
        wsutil.out("EXT %s" % wsutil.clean(
            ws.response_headers.get("Sec-WebSocket-Extensions", "none")))
        for seq, (is_text, size) in enumerate(items):
            name = "%s%d" % ("t" if is_text else "b", size)
            msg = wsutil.payload(is_text, size, seq)
            if args.ping:
                waiters.append(await ws.ping(b"msg%d" % seq))
            if args.frag:
                await ws.send(fragments(ws, msg, args.ping, waiters))
            else:
                await ws.send(msg)
            echo = await ws.recv()
            if type(echo) is not type(msg):
                wsutil.die("echo of %s has the wrong type" % name)
            if echo != msg:
                wsutil.die("echo of %s differs (%d bytes)" % (name, len(echo)))
            wsutil.out("OK", name)
        if args.burst:
            await burst(ws, args.burst)
        if waiters:
            await asyncio.wait_for(asyncio.gather(*waiters), 10)
            wsutil.out("PONGS %d/%d" % (len(waiters), len(waiters)))
        if args.wait_close:
            try:
                extra = await asyncio.wait_for(ws.recv(), 10)
                wsutil.die("unexpected message %r" % extra[:20])
            except websockets.ConnectionClosed:
                pass
        else:
            await ws.close(args.close, args.reason)
        await ws.wait_closed()
    wsutil.out("PEER_CLOSE %s %s" % (ws.close_code,
                                     wsutil.clean(ws.close_reason)))


async def parallel(args):
    """args.parallel clients at once, their messages interleaved."""
    await asyncio.gather(*(run(args) for _ in range(args.parallel)))
    wsutil.out("PARALLEL %d" % args.parallel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", default=wsutil.DEFAULT_SCRIPT)
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--frag", action="store_true")
    ap.add_argument("--ping", action="store_true")
    ap.add_argument("--close", type=int, default=1000)
    ap.add_argument("--reason", default="done")
    ap.add_argument("--wait-close", action="store_true")
    ap.add_argument("--burst", type=int, default=0)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("-t", type=int, default=60)
    ap.add_argument("--ca")
    ap.add_argument("url")
    args = ap.parse_args()
    wsutil.lifetime(args.t)
    try:
        if args.parallel > 1:
            asyncio.run(parallel(args))
        else:
            asyncio.run(run(args))
    except Exception as e:  # report, do not crash with a traceback only
        wsutil.die("%s: %s" % (type(e).__name__, e))
    wsutil.out("RESULT PASS")


if __name__ == "__main__":
    main()
