#!/usr/bin/env node
// Interop peer: echo server written with node-ws (Debian).
//
// Listens on 127.0.0.1 with a kernel-chosen port, prints "PORT <n>", and
// echoes every message with its type.  The request path selects extras:
//   frag               echo each message as three fragments (fin: false),
//                      cut at arbitrary byte offsets, inside characters too
//   ping               send a ping before each echo and between fragments,
//                      and count the pongs
//   /close/<code>/<k>  after k echoes, close with <code> and reason "bye"
// One line per finished connection:
//   CONN path=<p> msgs=<n> pings=<n> pongs=<n> close_code=<c> close_reason=<r>
// where close_code/close_reason are what the client sent in its Close frame.
//
// With --deflate JSON, permessage-deflate is accepted with those ws
// perMessageDeflate options (e.g. '{"threshold":0}'), and each connection
// prints "EXT path=<p> <agreed extensions or none>" as it starts.
//
// Usage: node_echo_server.js [-n connections] [-t seconds] [--deflate JSON]
//                            [--tls-cert FILE --tls-key FILE]
// With --tls-cert and --tls-key it serves wss (an https server).
'use strict';

const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');
const u = require('./wsutil.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
};
const sopt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : null;
};
const limit = opt('-n', 0);
u.lifetime(opt('-t', 60));
const cert = sopt('--tls-cert'), key = sopt('--tls-key');
const deflate = sopt('--deflate') ? JSON.parse(sopt('--deflate')) : false;

let done = 0;
let wss;
if (cert) {
    const server = https.createServer({ cert: fs.readFileSync(cert),
        key: fs.readFileSync(key) });
    wss = new WebSocketServer({ server, maxPayload: 64 << 20,
        perMessageDeflate: deflate });
    server.listen(0, '127.0.0.1',
        () => console.log('PORT ' + server.address().port));
} else {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0,
        maxPayload: 64 << 20, perMessageDeflate: deflate });
    wss.on('listening', () => console.log('PORT ' + wss.address().port));
}
wss.on('connection', (ws, req) => {
    const path = req.url;
    const o = u.pathOptions(path);
    if (deflate)
        console.log(`EXT path=${path} ${ws.extensions || 'none'}`);
    let msgs = 0, pings = 0, pongs = 0;
    const maybeClose = () => {
        if (o.closeCode && msgs === o.closeAfter) ws.close(o.closeCode, 'bye');
    };
    ws.on('pong', () => pongs++);
    ws.on('message', (data, isBinary) => {
        if (ws.readyState !== ws.OPEN) return;
        if (o.ping) {
            ws.ping(Buffer.from('msg' + msgs));
            pings++;
        }
        if (o.frag)
            u.sendFragments(ws, data, isBinary, o.ping, () => pings++);
        else
            ws.send(data, { binary: isBinary });
        msgs++;
        maybeClose();
    });
    ws.on('close', (code, reason) => {
        console.log(`CONN path=${path} msgs=${msgs} pings=${pings} ` +
            `pongs=${pongs} close_code=${code} ` +
            `close_reason=${u.clean(reason.toString())}`);
        if (limit && ++done >= limit) {
            wss.close();
            process.exit(0);
        }
    });
    ws.on('error', (e) => console.log('ERROR ' + e.message));
    maybeClose();
});
