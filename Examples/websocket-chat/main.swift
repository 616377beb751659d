// websocket-chat: the chat of the seed texts. GET / serves the page; /ws is the WebSocket.
// Every message is cut to 50 characters and sent to everyone connected.
//
//   swift run websocket-chat [--host 127.0.0.1] [--port 8080] [--max-length 50]
//
// Then open http://localhost:8080 in two tabs.
import Dispatch
import WebSocketCore
import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

/// Prints a line and flushes it at once, so that a pipe or a log file sees it as it happens.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 8080)
configuration.engine.maxMessageSize = 64 << 10
configuration.extensions = [PerMessageDeflate()]
var maxLength = 50

var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--port": configuration.port = Int(arguments.popFirst() ?? "") ?? configuration.port
    case "--host": configuration.host = arguments.popFirst() ?? configuration.host
    case "--max-length": maxLength = Int(arguments.popFirst() ?? "") ?? maxLength
    case "--help", "-h":
        say("usage: websocket-chat [--host HOST] [--port PORT] [--max-length CHARACTERS]")
        exit(0)
    default:
        say("unknown argument: \(argument)")
        exit(2)
    }
}

let server = WebSocketServer(configuration: configuration)
let limit = maxLength

server.http("/") { _ in
    HTTPResponse(status: 200, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"], body: Array(chatPage.utf8))
}

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

do {
    let address = try server.start()
    let host = address.host == "127.0.0.1" ? "localhost" : address.host
    say("websocket-chat: open http://\(host):\(address.port)/ in two browser tabs")
} catch {
    say("websocket-chat: \(error)")
    exit(1)
}

signal(SIGINT, SIG_IGN)
signal(SIGTERM, SIG_IGN)
var signalSources: [any DispatchSourceSignal] = []
for signalNumber in [SIGINT, SIGTERM] {
    let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
    source.setEventHandler {
        Task {
            await server.shutdown(timeout: .seconds(2))
            exit(0)
        }
    }
    source.resume()
    signalSources.append(source)
}
dispatchMain()
