// websocket-hello: the seed's demo server. The page at / runs the seed's client script; /ws
// answers "My name is John" with "Hello from server, John", waits 5 seconds and closes (1000).
//
//   swift run websocket-hello [--host 127.0.0.1] [--port 8081] [--close-after SECONDS]
import Dispatch
import ExampleSupport
import WebSocketCore
import WebSocketServer

var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 8081)
let options = parseArguments(usage: "websocket-hello [--host HOST] [--port PORT] [--tls-cert FILE --tls-key FILE] [--close-after SECONDS]",
                             configuration: &configuration, options: ["--close-after"])
let delay = options["--close-after"].flatMap(Double.init) ?? 5

let server = WebSocketServer(configuration: configuration)

server.http("/") { _ in htmlPage(helloPage) }

server.webSocket("/ws") { socket in
    socket.onText { socket, text in
        // "My name is John" → "John"; anything else is taken as the name itself.
        let prefix = "My name is "
        let name = text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text
        socket.send("Hello from server, \(name)")
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
            try? socket.close(code: .normalClosure, reason: "Goodbye")
        }
    }
}

serve(server, name: "websocket-hello") { "websocket-hello: open \(httpScheme(configuration))://\(displayHost($0)):\($0.port)/" }
