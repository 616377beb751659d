// websocket-hello: the seed's demo server. The page at / runs the seed's client script; /ws
// answers "My name is John" with "Hello from server, John", waits 5 seconds and closes (1000).
//
//   swift run websocket-hello [--host 127.0.0.1] [--port 8081] [--close-after SECONDS]
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
var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 8081)
var closeAfter = 5.0

var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--port": configuration.port = Int(arguments.popFirst() ?? "") ?? configuration.port
    case "--host": configuration.host = arguments.popFirst() ?? configuration.host
    case "--close-after": closeAfter = Double(arguments.popFirst() ?? "") ?? closeAfter
    case "--help", "-h":
        say("usage: websocket-hello [--host HOST] [--port PORT] [--close-after SECONDS]")
        exit(0)
    default:
        say("unknown argument: \(argument)")
        exit(2)
    }
}

let server = WebSocketServer(configuration: configuration)
let delay = closeAfter

server.http("/") { _ in
    HTTPResponse(status: 200, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"], body: Array(helloPage.utf8))
}

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

do {
    let address = try server.start()
    let host = address.host == "127.0.0.1" ? "localhost" : address.host
    say("websocket-hello: open http://\(host):\(address.port)/")
} catch {
    say("websocket-hello: \(error)")
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
