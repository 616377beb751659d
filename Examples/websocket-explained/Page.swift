/// The seed's client page: on open it sends "Hello server!", and it logs each message as
/// `Server: <data>` to the console, as the seed does, and into the page, so that a person (or a
/// test) can read it there. It connects to the host that served it rather than to a fixed
/// localhost:1234, so it works on any port.
let explainedPage = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>WebSockets Explained</title>
<style>body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; } li { margin: 0.3em 0; }</style>
</head>
<body>
<h1>WebSockets Explained</h1>
<ol id="log"></ol>
<script>
function log(text) {
  console.log(text);
  const item = document.createElement('li');
  item.textContent = text;
  document.getElementById('log').append(item);
}

const clientSocket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host);
// Fired when a connection with a WebSocket is opened
clientSocket.onopen = event => {
  clientSocket.send('Hello server!');
};
// Fired when data is received through a WebSocket
clientSocket.onmessage = event => {
  log(`Server: ${event.data}`);
};
</script>
</body>
</html>
"""
