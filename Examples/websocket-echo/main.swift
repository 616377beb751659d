// websocket-echo: echoes every text and binary message on any path, unchanged and in order.
//
//   swift run -c release websocket-echo --port 9001 [--host 127.0.0.1] [--compression] [--max-message-size BYTES] [--log-closes] [--loops N]
//
// The target of the conformance and load tests. SIGINT or SIGTERM shuts it down gracefully.
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
var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 9001)
configuration.engine.maxMessageSize = 64 << 20
configuration.engine.maxFrameSize = 64 << 20
configuration.maxConnections = 100_000  // a load-test target

var logCloses = false
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--port": configuration.port = Int(arguments.popFirst() ?? "") ?? configuration.port
    case "--host": configuration.host = arguments.popFirst() ?? configuration.host
    case "--max-message-size":
        let size = Int(arguments.popFirst() ?? "") ?? configuration.engine.maxMessageSize
        configuration.engine.maxMessageSize = size
        configuration.engine.maxFrameSize = size
    case "--compression": configuration.extensions = [PerMessageDeflate()]
    case "--log-closes": logCloses = true
    case "--loops": configuration.loopCount = max(1, Int(arguments.popFirst() ?? "") ?? configuration.loopCount)
    case "--help", "-h":
        say("usage: websocket-echo [--host HOST] [--port PORT] [--compression] [--max-message-size BYTES] [--log-closes] [--loops N]")
        exit(0)
    default:
        say("unknown argument: \(argument)")
        exit(2)
    }
}

let server = WebSocketServer(configuration: configuration)
let printsCloses = logCloses
server.webSocket("*") { socket in
    socket.onMessage { socket, message in socket.send(message) }
    if printsCloses {
        // For tests: one line per close, as the server saw it.
        socket.onClose { socket, event in
            say("close \(event.code.rawValue) \"\(event.reason)\" \(event.wasClean ? "clean" : "unclean") extensions=\(socket.extensions.map(\.name))")
        }
    }
}

do {
    let address = try server.start()
    say("websocket-echo listening on ws://\(address)/")
} catch {
    say("websocket-echo: \(error)")
    exit(1)
}

// Graceful shutdown on SIGINT and SIGTERM: 1001 to every client, then exit.
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
