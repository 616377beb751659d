// websocket-chat: the chat of the seed texts. GET / serves the page; /ws is the WebSocket.
// Every message is cut to 50 characters and sent to everyone connected.
//
//   swift run websocket-chat [--host 127.0.0.1] [--port 8080] [--max-length 50]
//
// Then open http://localhost:8080 in two tabs.
import ExampleSupport
import WebSocketCore
import WebSocketServer

var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 8080)
configuration.engine.maxMessageSize = 64 << 10
configuration.extensions = [PerMessageDeflate()]
let options = parseArguments(usage: "websocket-chat [--host HOST] [--port PORT] [--max-length CHARACTERS]",
                             configuration: &configuration, options: ["--max-length"])
let limit = options["--max-length"].flatMap(Int.init) ?? 50

let server = WebSocketServer(configuration: configuration)

server.http("/") { _ in htmlPage(chatPage) }

server.webSocket("/ws") { socket in
    server.broadcast(.text("» someone joined (\(server.connections(path: "/ws").count) online)"), path: "/ws")
    socket.onText { socket, text in
        // The seed's rule: a message is cut to 50 characters (not bytes, so no character is split).
        let message = String(text.prefix(limit))
        server.broadcast(.text(message), path: "/ws")
    }
    socket.onClose { _, _ in
        server.broadcast(.text("« someone left (\(server.connections(path: "/ws").count) online)"), path: "/ws")
    }
}

serve(server, name: "websocket-chat") { "websocket-chat: open http://\(displayHost($0)):\($0.port)/ in two browser tabs" }
