// Node's ws (Debian package node-ws) as an echo server.
//   NODE_PATH=/usr/share/nodejs node node-echo.js PORT [--compression]
'use strict';
const WebSocket = require('ws');
const port = Number(process.argv[2] || 9004);
const compression = process.argv.includes('--compression');
const server = new WebSocket.Server({
  host: '127.0.0.1',
  port,
  maxPayload: 64 << 20,
  // Same threshold as our server's default, so both compress the same messages.
  perMessageDeflate: compression ? { threshold: 32 } : false,
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on('listening', () => console.log(`node-echo listening on ws://127.0.0.1:${port}/`));
