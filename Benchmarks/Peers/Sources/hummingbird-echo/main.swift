// Hummingbird's WebSocket as an echo server.
//   hummingbird-echo --port P [--compression]
import Glibc
import Hummingbird
import HummingbirdWebSocket
import HummingbirdWSCompression

var port = 9003
var compression = false
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--port": port = Int(arguments.popFirst() ?? "") ?? port
    case "--compression": compression = true
    default: break
    }
}

let router = Router()
let configuration = WebSocketServerConfiguration(
    maxFrameSize: 1 << 26,
    extensions: compression ? [.perMessageDeflate()] : []
)
let app = Application(
    router: router,
    server: .http1WebSocketUpgrade(configuration: configuration) { _, _, _ in
        .upgrade([:]) { inbound, outbound, _ in
            for try await message in inbound.messages(maxSize: 1 << 26) {
                switch message {
                case .text(let text): try await outbound.write(.text(text))
                case .binary(let buffer): try await outbound.write(.binary(buffer))
                }
            }
        }
    },
    configuration: .init(address: .hostname("127.0.0.1", port: port))
)
print("hummingbird-echo listening on ws://127.0.0.1:\(port)/")
fflush(nil)
try await app.runService()
