"""Drives examples/ws_server as its users would, with Python websockets.

Usage: py_server_example.py PORT PHASE [CAFILE]
  echo      a text and a 200 KiB binary message come back whole (the server
            echoes in 16 KiB pieces); a 2 MiB message is refused with 1009.
  big N     one small echo, then an N-byte message is refused with 1009.
  wait      connects, prints "open", and waits for the server to close:
            prints "closed CODE REASON" (the shutdown test sends SIGINT).
  tls       one echo over wss, verifying against CAFILE.
Exit status 0 when every check held."""

import asyncio
import ssl
import sys

import websockets

from wsutil import lifetime


async def echo(url):
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        blob = bytes(range(256)) * 800
        await ws.send(blob)
        assert await ws.recv() == blob
        # The server may fail the connection while the message is still
        # being sent: the Close frame must reach us all the same.
        try:
            await ws.send(b"x" * (2 * 1024 * 1024))
            await ws.recv()
            raise AssertionError("a 2 MiB message was echoed")
        except websockets.ConnectionClosed as e:
            assert e.code == 1009, "closed with %s" % e.code
    print("echo ok")


async def big(url, size):
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        await ws.send("small")
        assert await ws.recv() == "small"
        try:
            await ws.send(b"x" * size)
            await ws.recv()
            raise AssertionError("a message of %d bytes was echoed" % size)
        except websockets.ConnectionClosed as e:
            assert e.code == 1009, "closed with %s" % e.code
    print("big ok")


async def wait(url):
    async with websockets.connect(url, compression=None) as ws:
        print("open", flush=True)
        try:
            await ws.recv()
        except websockets.ConnectionClosed as e:
            print("closed", e.code, e.reason, flush=True)


async def tls(url, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    async with websockets.connect(url, ssl=ctx, compression=None) as ws:
        await ws.send("secure")
        assert await ws.recv() == "secure"
    print("tls ok")


def main():
    lifetime(30)
    port, phase = sys.argv[1], sys.argv[2]
    if phase == "echo":
        asyncio.run(echo("ws://127.0.0.1:%s/" % port))
    elif phase == "big":
        asyncio.run(big("ws://127.0.0.1:%s/" % port, int(sys.argv[3])))
    elif phase == "wait":
        asyncio.run(wait("ws://127.0.0.1:%s/" % port))
    elif phase == "tls":
        asyncio.run(tls("wss://127.0.0.1:%s/" % port, sys.argv[3]))


if __name__ == "__main__":
    main()
