// websocket-chat: the chat of the seed texts. GET / serves the page; /ws is the WebSocket.
// Every message is cut to 50 characters and sent to everyone connected.
//
//   swift run websocket-chat [--host 127.0.0.1] [--port 8080] [--max-length 50]
//                            [--allow-origin https://other.example,...]
//
// Then open http://localhost:8080 in two tabs. A browser page from another site cannot join:
// the chat accepts its own origin (the page it serves) and the ones given with --allow-origin.
import ExampleSupport
import WebSocketCore
import WebSocketServer

var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 8080)
configuration.engine.maxMessageSize = 64 << 10
configuration.extensions = [PerMessageDeflate()]
let options = parseArguments(usage: "websocket-chat [--host HOST] [--port PORT] [--tls-cert FILE --tls-key FILE] [--max-length CHARACTERS] [--allow-origin ORIGIN,...]",
                             configuration: &configuration, options: ["--max-length", "--allow-origin"])
let limit = options["--max-length"].flatMap(Int.init) ?? 50
let otherOrigins = Set((options["--allow-origin"] ?? "").split(separator: ",").map(String.init))

let server = WebSocketServer(configuration: configuration)

server.http("/") { _ in htmlPage(chatPage) }

/// Browsers send `Origin` with every WebSocket request, and any page may try to open one: accept
/// the chat's own page and the origins given on the command line. A request without `Origin`
/// comes from a program, not a browser page, and passes.
@Sendable func checkOrigin(_ context: UpgradeContext) -> UpgradeDecision {
    let request = context.request
    guard let origin = request.origin, !request.originMatchesHost, !otherOrigins.contains(origin) else { return .accept }
    return .reject(.text(403, "Origin not allowed\n"))
}

server.webSocket("/ws", upgrade: { checkOrigin($0) }) { socket in
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

serve(server, name: "websocket-chat") { "websocket-chat: open \(httpScheme(configuration))://\(displayHost($0)):\($0.port)/ in two browser tabs" }
