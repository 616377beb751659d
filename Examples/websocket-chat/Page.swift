/// The chat page: the seed's form and message list, a connection status line, and a reconnect
/// with backoff when the connection drops.
let chatPage = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WebSocket chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em; }
  #status { color: #666; font-size: 0.9em; margin-bottom: 1em; }
  #status.open { color: #080; }
  form { display: flex; gap: 0.5em; }
  input[type=text] { flex: 1; padding: 0.4em; }
  #messages div { padding: 0.3em 0; border-bottom: 1px solid #eee; }
</style>
</head>
<body>
<h1>Chat</h1>
<div id="status">connecting…</div>
<!-- message form -->
<form name="publish">
  <input type="text" name="message" maxlength="200" autocomplete="off" placeholder="Say something (50 characters are kept)">
  <input type="submit" value="Send">
</form>
<!-- div with messages -->
<div id="messages"></div>
<script>
const statusLine = document.getElementById('status');
let socket;
let retry = 0;

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  socket = new WebSocket(scheme + location.host + '/ws');
  statusLine.textContent = 'connecting…';
  statusLine.className = '';

  socket.onopen = () => {
    retry = 0;
    statusLine.textContent = 'connected';
    statusLine.className = 'open';
  };

  // show message in div#messages
  socket.onmessage = (event) => {
    const messageElem = document.createElement('div');
    messageElem.textContent = event.data;
    document.getElementById('messages').prepend(messageElem);
  };

  socket.onclose = (event) => {
    const delay = Math.min(10000, 500 * 2 ** retry++);
    statusLine.textContent = `disconnected (code ${event.code}); reconnecting in ${(delay / 1000).toFixed(1)} s`;
    statusLine.className = '';
    setTimeout(connect, delay);
  };
}

// send message from the form
document.forms.publish.onsubmit = function() {
  const outgoingMessage = this.message.value;
  if (outgoingMessage && socket.readyState === WebSocket.OPEN) {
    socket.send(outgoingMessage);
    this.message.value = '';
  }
  return false;
};

connect();
</script>
</body>
</html>
"""
