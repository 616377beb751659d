// websocket-explained: the server of the "WebSockets Explained" text. It listens on port 1234;
// a connection is greeted with "Hello client!", and each message it receives is printed as
// `Client: <message>`. GET / serves the text's client page, which sends "Hello server!".
//
//   swift run websocket-explained [--host 127.0.0.1] [--port 1234]
//
// Then open http://localhost:1234 and watch this terminal and the page.
import ExampleSupport
import WebSocketCore
import WebSocketServer

var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 1234)
_ = parseArguments(usage: "websocket-explained [--host HOST] [--port PORT] [--tls-cert FILE --tls-key FILE]", configuration: &configuration)

let server = WebSocketServer(configuration: configuration)

// One address serves both, as in the text: a browser's plain GET of / gets the page, and the
// page's script opens a WebSocket to the same / (an upgrade request goes to the WebSocket route).
server.http("/") { _ in htmlPage(explainedPage) }

server.webSocket("/") { socket in
    // Send data to the connected client.
    socket.send("Hello client!")
    // Called when a message is received.
    socket.onMessage { _, message in
        say("Client: \(message.text ?? "\(message.data.count) bytes")")
    }
}

serve(server, name: "websocket-explained") { "websocket-explained: open \(httpScheme(configuration))://\(displayHost($0)):\($0.port)/" }
