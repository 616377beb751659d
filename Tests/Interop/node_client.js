// Interop: Node's `ws` client against websocket-echo, with and without permessage-deflate, and
// over TLS (trusting the test CA).
//   NODE_PATH=/usr/share/nodejs node Tests/Interop/node_client.js ECHO_PORT COMPRESSED_ECHO_PORT TLS_ECHO_PORT CA_FILE
'use strict';
const WebSocket = require('ws');
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');

const [echoPort, deflatePort, tlsPort] = process.argv.slice(2, 5).map(Number);
const ca = fs.readFileSync(process.argv[5]);
let passed = 0;
function ok(condition, what) {
  assert.ok(condition, what);
  passed++;
  console.log(`  ok: ${what}`);
}

function open(port, perMessageDeflate, tls) {
  return new Promise((resolve, reject) => {
    const url = tls ? `wss://localhost:${port}/` : `ws://127.0.0.1:${port}/`;
    const ws = new WebSocket(url, { perMessageDeflate, maxPayload: 0, ca: tls ? ca : undefined });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function roundTrip(ws, data, options) {
  return new Promise((resolve) => {
    ws.once('message', (reply, isBinary) => resolve({ reply, isBinary }));
    ws.send(data, options);
  });
}

async function suite(port, compression, tls = false) {
  const kind = (compression ? 'deflate' : 'plain') + (tls ? ' over TLS' : '');
  const ws = await open(port, compression, tls);
  if (tls) ok(ws._socket.getProtocol() === 'TLSv1.3', `${kind}: ${ws._socket.getProtocol()}`);
  ok((ws.extensions.includes('permessage-deflate')) === compression, `${kind}: extensions "${ws.extensions}"`);
  for (const text of ['Hello', 'κόσμε 🌍', '', JSON.stringify({ price: 43125.5, size: 0.0125 }).repeat(1000)]) {
    const { reply, isBinary } = await roundTrip(ws, text);
    ok(!isBinary && reply.toString() === text, `${kind}: text of ${Buffer.byteLength(text)} bytes`);
  }
  for (const size of [0, 125, 126, 65536, 1 << 20]) {
    const data = crypto.randomBytes(size);
    const { reply, isBinary } = await roundTrip(ws, data, { binary: true });
    ok(isBinary && Buffer.compare(reply, data) === 0, `${kind}: binary of ${size} bytes`);
  }
  const code = await new Promise((resolve) => {
    ws.once('close', (code, reason) => resolve(`${code} ${reason}`));
    ws.close(1000, 'bye');
  });
  ok(code === '1000 ', `${kind}: close answered (${code})`);
}

(async () => {
  await suite(echoPort, false);
  await suite(deflatePort, true);
  await suite(tlsPort, false, true);
  console.log(`node ws interop: ${passed} passed, 0 failed`);
})().catch((error) => {
  console.error(`node ws interop failed: ${error.stack || error}`);
  process.exit(1);
});
