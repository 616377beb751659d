/// The seed's client script, with the alerts written into the page so the sequence
/// open → message → close can be watched (and read by a test).
let helloPage = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>WebSocket hello</title>
<style>body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; } li { margin: 0.3em 0; }</style>
</head>
<body>
<h1>Hello</h1>
<ol id="log"></ol>
<script>
function alert(text) {
  const item = document.createElement('li');
  item.textContent = text;
  document.getElementById('log').append(item);
}

let socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');

socket.onopen = function(e) {
  alert("[open] Connection established");
  alert("Sending to server");
  socket.send("My name is John");
};

socket.onmessage = function(event) {
  alert(`[message] Data received from server: ${event.data}`);
};

socket.onclose = function(event) {
  if (event.wasClean) {
    alert(`[close] Connection closed cleanly, code=${event.code} reason=${event.reason}`);
  } else {
    // e.g. server process killed or network down
    // event.code is usually 1006 in this case
    alert('[close] Connection died');
  }
};

socket.onerror = function(error) {
  alert(`[error]`);
};
</script>
</body>
</html>
"""
