// websocket-chat: the chat of the seed texts. GET / serves the page; /ws is the WebSocket.
// Every message is cut to 50 characters and sent to everyone connected.
//
//   swift run websocket-chat [--host 127.0.0.1] [--port 8080] [--max-length 50]
//                            [--allow-origin https://other.example,...] [--redis redis://127.0.0.1:6379]
//
// Then open http://localhost:8080 in two tabs. A browser page from another site cannot join:
// the chat accepts its own origin (the page it serves) and the ones given with --allow-origin.
// Everyone is a member of the topic "chat"; with --redis, every chat process that names the same
// Redis shares the room (run two on different ports, open a tab on each).
import ExampleSupport
import WebSocketCore
import WebSocketRedis
import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 8080)
configuration.engine.maxMessageSize = 64 << 10
// No context takeover either way: the zlib streams are shared by all connections, borrowed for a
// message at a time, so a member who says nothing for hours holds none (with context takeover
// each connection keeps about 104 KiB). Chat lines are short; a window carried over between
// them would save little.
configuration.extensions = [PerMessageDeflate(.init(serverNoContextTakeover: true, clientNoContextTakeover: true))]
let options = parseArguments(usage: "websocket-chat [--host HOST] [--port PORT] [--tls-cert FILE --tls-key FILE] [--max-length CHARACTERS] [--allow-origin ORIGIN,...] [--redis URL]",
                             configuration: &configuration, options: ["--max-length", "--allow-origin", "--redis"])
let limit = options["--max-length"].flatMap(Int.init) ?? 50
let otherOrigins = Set((options["--allow-origin"] ?? "").split(separator: ",").map(String.init))
if let url = options["--redis"] {
    do {
        configuration.backplane = try RedisBackplane(url)
    } catch {
        say("websocket-chat: \(error)")
        exit(2)
    }
}
/// Who is counted in the join and leave notices: this process's members (other processes
/// sharing the room through Redis count their own).
let here = configuration.backplane == nil ? "online" : "on this server"

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
    socket.subscribe("chat")
    server.publish(.text("» someone joined (\(server.connections(path: "/ws").count) \(here))"), to: "chat")
    socket.onText { socket, text in
        // The seed's rule: a message is cut to 50 characters (not bytes, so no character is split).
        let message = String(text.prefix(limit))
        server.publish(.text(message), to: "chat")
    }
    socket.onClose { _, _ in
        server.publish(.text("« someone left (\(server.connections(path: "/ws").count) \(here))"), to: "chat")
    }
}

serve(server, name: "websocket-chat") { "websocket-chat: open \(httpScheme(configuration))://\(displayHost($0)):\($0.port)/ in two browser tabs" }
