// Broadcast server with Node's ws (Debian node-ws), for bench/chat_peers.sh:
// every message received goes to every open client, the sender included,
// by a loop over wss.clients (the broadcast of ws' own README).
// Usage: node bench/chat_node.js port   (prints "listening PORT")
'use strict';
const { WebSocketServer, WebSocket } = require('ws');
const port = Number(process.argv[2] || 0);
const wss = new WebSocketServer({ host: '127.0.0.1', port: port });
wss.on('listening', () => console.log('listening ' + wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const c of wss.clients)
      if (c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
  });
});
