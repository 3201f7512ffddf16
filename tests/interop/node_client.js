#!/usr/bin/env node
// Interop peer: client written with node-ws (Debian).
//
// Sends a script of messages (same syntax as tests/peers/ws_client.c),
// checks each echo byte for byte and by type, then closes and prints the
// Close frame the server answered with.
//
// Usage: node_client.js [--script S] [--large] [--frag] [--ping]
//                       [--close CODE] [--reason R] [--wait-close] URL
//   --frag        send every message as three fragments (fin: false)
//   --ping        ping before each message and between fragments; all
//                 pongs must arrive
//   --close CODE  close with CODE (default 1000) and --reason (default done)
//   --wait-close  do not close: wait for the server's Close frame
//   --burst N     after the script, write N small messages back to back,
//                 then check their N echoes
//   --ca FILE     for wss URLs: trust the CA certificates of FILE (the
//                 server's certificate is verified, host name included)
//   --deflate JSON  perMessageDeflate options (e.g. '{"threshold":0}');
//                 prints "EXT <agreed extensions or none>" once open
// Output: "OK <item>" lines, "PONGS <got>/<sent>", "PEER_CLOSE <code>
// <reason>", then "RESULT PASS" or "RESULT FAIL".
'use strict';

const fs = require('fs');
const WebSocket = require('ws');
const u = require('./wsutil.js');

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
};
const url = args[args.length - 1];
const items = u.parseScript(opt('--script', u.DEFAULT_SCRIPT), flag('--large'));
const frag = flag('--frag'), ping = flag('--ping');
const closeCode = Number(opt('--close', 1000));
const reason = opt('--reason', 'done');
u.lifetime(Number(opt('-t', 60)));

function fail(msg) {
    console.log('ERROR ' + msg);
    console.log('RESULT FAIL');
    process.exit(1);
}

// Without --deflate, perMessageDeflate stays at its default (offered): a
// server without deflate must decline.
const ca = opt('--ca', null);
const deflate = opt('--deflate', null);
const ws = new WebSocket(url, Object.assign({ maxPayload: 64 << 20 },
    ca ? { ca: fs.readFileSync(ca) } : {},
    deflate ? { perMessageDeflate: JSON.parse(deflate) } : {}));
let seq = 0, pings = 0, pongs = 0, sent = null, finished = false;

// After the script: `burst` small messages written back to back, then
// their echoes (several frames per read on the other side).
const burst = Number(opt('--burst', 0));
function sendBurst() {
    const msgs = [];
    for (let i = 0; i < burst; i++) {
        msgs.push({ name: 'burst' + i, text: i % 2 === 0,
            data: u.payload(i % 2 === 0, i % 300, i) });
        ws.send(msgs[i].data, { binary: i % 2 !== 0 });
    }
    return msgs;
}

let pending = null; // burst messages whose echo is awaited, in order
function sendNext() {
    if (seq === items.length && burst && pending === null)
        pending = sendBurst();
    if (pending && pending.length) {
        sent = pending.shift();
        return;
    }
    if (seq === items.length) {
        finished = true;
        if (burst) console.log('BURST ' + burst);
        if (pongs !== pings) fail(`pongs ${pongs}/${pings}`);
        if (pings) console.log(`PONGS ${pongs}/${pings}`);
        if (!flag('--wait-close')) ws.close(closeCode, reason);
        return;
    }
    const it = items[seq];
    sent = { name: (it.text ? 't' : 'b') + it.size, text: it.text,
        data: u.payload(it.text, it.size, seq) };
    if (ping) {
        ws.ping(Buffer.from('msg' + seq));
        pings++;
    }
    if (frag)
        u.sendFragments(ws, sent.data, !it.text, ping, () => pings++);
    else
        ws.send(sent.data, { binary: !it.text });
    seq++;
}

ws.on('open', () => {
    if (deflate) console.log('EXT ' + (ws.extensions || 'none'));
    sendNext();
});
ws.on('pong', () => pongs++);
ws.on('message', (data, isBinary) => {
    if (!sent || finished) fail('unexpected message');
    if (isBinary === sent.text) fail(`echo of ${sent.name} has the wrong type`);
    if (!Buffer.from(data).equals(sent.data))
        fail(`echo of ${sent.name} differs (${data.length} bytes)`);
    if (pending) {
        sendNext();
        return;
    }
    console.log('OK ' + sent.name);
    // Pongs are answered before the echo that follows the ping.
    setImmediate(sendNext);
});
ws.on('close', (code, why) => {
    console.log(`PEER_CLOSE ${code} ${u.clean(why.toString())}`);
    if (!finished) fail('closed before the end of the script');
    console.log('RESULT PASS');
    process.exit(0);
});
ws.on('error', (e) => fail(e.message));
