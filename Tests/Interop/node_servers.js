// Interop: Node's `ws` servers for the client checks (client_interop.py): an echo server plain,
// with permessage-deflate, and over TLS. Prints one line of JSON with their ports, then serves
// until killed. Each greets with a binary message [0, 1, 2, 255], echoes, answers "close-me"
// with a Close 4000 "bye", and echoes back the X-Test header and the chosen subprotocol on "who".
//   NODE_PATH=/usr/share/nodejs node Tests/Interop/node_servers.js CERT KEY
'use strict';
const WebSocket = require('ws');
const https = require('https');
const fs = require('fs');

function serve(options) {
  const server = new WebSocket.Server({
    ...options,
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  server.on('connection', (ws, request) => {
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      if (text === 'close-me') ws.close(4000, 'bye');
      else if (text === 'who') ws.send(`header=${request.headers['x-test'] || ''} protocol=${ws.protocol}`);
      else ws.send(data, { binary: isBinary });
    });
  });
  return server;
}

// The port a server listens on, once it does (the promise is made before the event can fire).
const listening = (server) => new Promise((resolve) => server.on('listening', () => resolve(server.address().port)));
const plain = serve({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20 });
const deflate = serve({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20, perMessageDeflate: { threshold: 0 } });
const secureServer = https.createServer({ cert: fs.readFileSync(process.argv[2]), key: fs.readFileSync(process.argv[3]) });
serve({ server: secureServer, maxPayload: 64 << 20 });
const ports = [listening(plain), listening(deflate), listening(secureServer)];
secureServer.listen(0, '127.0.0.1');
Promise.all(ports).then(([plainPort, deflatePort, tlsPort]) => {
  console.log(JSON.stringify({ plain: plainPort, deflate: deflatePort, tls: tlsPort }));
});
