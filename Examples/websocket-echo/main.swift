// websocket-echo: echoes every text and binary message on any path, unchanged and in order.
//
//   swift run -c release websocket-echo --port 9001 [--host 127.0.0.1] [--compression]
//       [--no-context-takeover] [--max-message-size BYTES] [--log-closes] [--loops N] [--fanout]
//
// The target of the conformance and load tests. With --fanout, every connection joins the topic
// "fanout", and what a connection on /publish sends is published there instead of echoed (the
// load generator's fanout mode measures the time until the last member has it). With
// --no-context-takeover, compression is agreed without context takeover both ways, so the zlib
// streams are shared (uWebSockets' SHARED_COMPRESSOR | SHARED_DECOMPRESSOR). SIGINT or SIGTERM
// shuts it down gracefully.
import ExampleSupport
import WebSocketCore
import WebSocketServer

var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 9001)
configuration.engine.maxMessageSize = 64 << 20
configuration.engine.maxFrameSize = 64 << 20
configuration.maxConnections = 100_000  // a load-test target
let options = parseArguments(
    usage: "websocket-echo [--host HOST] [--port PORT] [--tls-cert FILE --tls-key FILE] [--compression] [--no-context-takeover] [--max-message-size BYTES] [--log-closes] [--loops N] [--fanout]",
    configuration: &configuration, options: ["--max-message-size", "--loops"], flags: ["--compression", "--no-context-takeover", "--log-closes", "--fanout"])
if let size = options["--max-message-size"].flatMap(Int.init) {
    configuration.engine.maxMessageSize = size
    configuration.engine.maxFrameSize = size
}
if let loops = options["--loops"].flatMap(Int.init) { configuration.loopCount = max(1, loops) }
if options["--no-context-takeover"] != nil {
    configuration.extensions = [PerMessageDeflate(.init(serverNoContextTakeover: true, clientNoContextTakeover: true))]
} else if options["--compression"] != nil {
    configuration.extensions = [PerMessageDeflate()]
}
let logsCloses = options["--log-closes"] != nil
let fansOut = options["--fanout"] != nil

let server = WebSocketServer(configuration: configuration)
server.webSocket("*") { socket in
    if fansOut && socket.request.path == "/publish" {
        socket.onMessage { socket, message in server.publish(message, to: "fanout", excluding: socket) }
    } else {
        if fansOut { socket.subscribe("fanout") }
        socket.onMessageView { socket, kind, bytes in socket.send(bytes, kind: kind) }
    }
    if logsCloses {
        // For tests: one line per close, as the server saw it.
        socket.onClose { socket, event in
            say("close \(event.code.rawValue) \"\(event.reason)\" \(event.wasClean ? "clean" : "unclean") extensions=\(socket.extensions.map(\.name))")
        }
    }
}

serve(server, name: "websocket-echo") { "websocket-echo listening on \(webSocketScheme(configuration))://\($0)/" }
