"""Helpers shared by the Python interop peers: test payloads, script
parsing, path options, the self-destruct timer."""

import os
import random
import signal
import sys

# Every frame length encoding (7-bit, 16-bit, 64-bit) at its edges.
DEFAULT_SCRIPT = ("t0,b0,t1,b1,t125,b125,t126,b126,t65535,b65535,"
                  "t65536,b65536,t1M,b1M")

# Characters of 1, 2, 3 and 4 bytes in UTF-8.
_CHARS = ["a", "\u00e9", "\u20ac", "\U0001f600", "Z", "\u0416", "\u4e2d",
          "\U0010ffff", "~", "\ufffd"]


def lifetime(seconds):
    """Kills this process after `seconds`, whatever it is doing."""
    signal.signal(signal.SIGALRM, lambda *a: os._exit(3))
    signal.alarm(seconds)


def parse_script(script, large=False):
    """'t125,b1M' -> [(is_text, size), ...]."""
    items = []
    for it in script.split(","):
        if not it:
            continue
        kind, num = it[0], it[1:]
        mult = 1
        if num.endswith("k"):
            mult, num = 1024, num[:-1]
        elif num.endswith("M"):
            mult, num = 1024 * 1024, num[:-1]
        if kind not in "tb" or not num.isdigit():
            raise ValueError("bad script item %r" % it)
        items.append((kind == "t", int(num) * mult))
    if large:
        items += [(True, 16 << 20), (False, 16 << 20)]
    return items


def payload(is_text, size, seq):
    """Deterministic message: str of exactly `size` UTF-8 bytes, or bytes."""
    rnd = random.Random(seq)
    if not is_text:
        return rnd.randbytes(size)
    # A block of random characters repeated, then a tail: fast for 16 MiB.
    block = _text(rnd, min(size, 4096))
    reps = size // 4096 if size > 4096 else 0
    return block * reps + _text(rnd, size - 4096 * reps) if reps else block


def _text(rnd, size):
    out, used = [], 0
    while used < size:
        c = _CHARS[rnd.randrange(len(_CHARS))]
        n = len(c.encode())
        if n > size - used:
            c, n = "0", 1
        out.append(c)
        used += n
    return "".join(out)


def split3(msg):
    """Three fragments (the first ones possibly empty)."""
    n = len(msg)
    return [msg[:n // 3], msg[n // 3:2 * n // 3], msg[2 * n // 3:]]


def path_options(path):
    """Behaviour selected by the request path, as in ws_echo_server.c:
    /close/<code>/<k>, and the words 'frag' and 'ping' anywhere."""
    close_code, close_after = None, 0
    parts = path.split("?")[0].split("/")
    if len(parts) >= 3 and parts[1] == "close" and parts[2].isdigit():
        close_code = int(parts[2])
        if len(parts) >= 4 and parts[3].isdigit():
            close_after = int(parts[3])
    return {"frag": "frag" in parts, "ping": "ping" in parts,
            "close_code": close_code, "close_after": close_after}


def clean(reason):
    """Reason made printable on one line."""
    return "".join(c if c > " " else "_" for c in (reason or ""))


def out(*args):
    print(*args, flush=True)


def die(msg):
    out("ERROR", msg)
    out("RESULT FAIL")
    sys.exit(1)
