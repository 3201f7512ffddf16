// Helpers shared by the Node interop peers: test payloads, script parsing,
// path options, the self-destruct timer.  Mirrors wsutil.py.
'use strict';

const DEFAULT_SCRIPT = 't0,b0,t1,b1,t125,b125,t126,b126,t65535,b65535,' +
    't65536,b65536,t1M,b1M';

// Characters of 1, 2, 3 and 4 bytes in UTF-8.
const CHARS = ['a', '\u00e9', '\u20ac', '\u{1f600}', 'Z', '\u0416', '\u4e2d',
    '\u{10ffff}', '~', '\ufffd'].map((c) => Buffer.from(c));

// Exits with status 3 after `seconds`, whatever the process is doing.
function lifetime(seconds) {
    setTimeout(() => {
        console.log('ERROR lifetime over');
        process.exit(3);
    }, seconds * 1000).unref();
}

// 't125,b1M' -> [{text, size}, ...]
function parseScript(script, large) {
    const items = [];
    for (const it of script.split(',')) {
        if (!it) continue;
        const m = /^([tb])(\d+)([kM]?)$/.exec(it);
        if (!m) throw new Error('bad script item ' + it);
        const mult = m[3] === 'k' ? 1024 : m[3] === 'M' ? 1 << 20 : 1;
        items.push({ text: m[1] === 't', size: Number(m[2]) * mult });
    }
    if (large) {
        items.push({ text: true, size: 16 << 20 });
        items.push({ text: false, size: 16 << 20 });
    }
    return items;
}

// Deterministic message as a Buffer: valid UTF-8 of exactly `size` bytes for
// text, pseudo-random bytes for binary.
function payload(text, size, seq) {
    const buf = Buffer.alloc(size);
    let x = (seq * 2654435761 + 1) >>> 0;
    const next = () => {
        x ^= x << 13; x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5; x >>>= 0;
        return x;
    };
    if (!text) {
        for (let i = 0; i < size; i++) buf[i] = next() >>> 24;
        return buf;
    }
    let pos = 0;
    while (pos < size) {
        const c = CHARS[next() % CHARS.length];
        if (c.length > size - pos) buf[pos++] = 0x30;
        else pos += c.copy(buf, pos);
    }
    return buf;
}

// Three fragments cut at arbitrary byte offsets (inside characters too).
function split3(buf) {
    const n = buf.length;
    const a = Math.floor(n / 3), b = Math.floor(2 * n / 3) + (n > 4 ? 1 : 0);
    return [buf.subarray(0, a), buf.subarray(a, b), buf.subarray(b)];
}

// Behaviour selected by the request path, as in ws_echo_server.c.
function pathOptions(path) {
    const parts = path.split('?')[0].split('/');
    let closeCode = null, closeAfter = 0;
    if (parts.length >= 3 && parts[1] === 'close' && /^\d+$/.test(parts[2])) {
        closeCode = Number(parts[2]);
        if (parts.length >= 4 && /^\d+$/.test(parts[3]))
            closeAfter = Number(parts[3]);
    }
    return { frag: parts.includes('frag'), ping: parts.includes('ping'),
        closeCode, closeAfter };
}

function clean(reason) {
    return String(reason || '').replace(/[\x00-\x20\x7f]/g, '_');
}

// Sends a message as three fragments (fin: false), with a ping between
// fragments when asked to.
function sendFragments(ws, buf, binary, ping, onPing) {
    const pieces = split3(buf);
    pieces.forEach((p, i) => {
        if (i && ping) {
            ws.ping(Buffer.from('frag' + i));
            onPing();
        }
        ws.send(p, { binary, fin: i === pieces.length - 1, compress: false });
    });
}

module.exports = { DEFAULT_SCRIPT, lifetime, parseScript, payload, split3,
    pathOptions, clean, sendFragments };
