// websocket-cat: a WebSocket client for the command line, in the spirit of wscat and websocat.
// Each line of standard input goes out as a text message; each message received is printed
// (text as it is, binary as hex up to 64 bytes, else its size). The end of input closes the
// connection with 1000; the close code and reason are printed to standard error.
//
//   swift run websocket-cat ws://localhost:9001/ [--protocol P]... [--header "Name: value"]...
//       [--compression] [--insecure] [--ca FILE] [--echo]
//
// Exit status: 0 after a clean close with 1000 or 1001, 1 when the connection could not be
// opened, 2 for a usage error, 3 after any other close.
import Dispatch
import ExampleSupport
import WebSocketClient
#if canImport(Glibc)
import Glibc
#endif

@main
enum WebSocketCat {
    static let usage = "websocket-cat URL [--protocol P]... [--header \"Name: value\"]... [--compression] [--insecure] [--ca FILE] [--echo]"

    static func main() async {
        var url: String?
        var protocols: [String] = []
        var headers = HTTPHeaders()
        var configuration = WebSocketClient.Configuration()
        configuration.idlePingInterval = nil  // a person at a terminal may be quiet a long time
        var echoing = false
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            switch argument {
            case "--protocol":
                guard let value = arguments.popFirst() else { complain(usage); exit(2) }
                protocols.append(value)
            case "--header":
                guard let value = arguments.popFirst(), let colon = value.firstIndex(of: ":") else {
                    complain("--header takes \"Name: value\"\nusage: \(usage)")
                    exit(2)
                }
                headers.add(name: String(value[..<colon]), value: String(value[value.index(after: colon)...].drop { $0 == " " }))
            case "--compression":
                configuration.compression = PerMessageDeflate.Configuration()
            case "--insecure":
                // For test certificates only: the server's certificate is not checked at all.
                configuration.tls.verifiesServer = false
            case "--ca":
                guard let file = arguments.popFirst() else { complain(usage); exit(2) }
                configuration.tls.trustRoots = .certificates(.file(file))
            case "--echo":
                // Send every message back (how conformance suites drive a client).
                echoing = true
            case "--help", "-h":
                say("usage: \(usage)")
                exit(0)
            default:
                guard url == nil, !argument.hasPrefix("-") else {
                    complain("unknown argument: \(argument)\nusage: \(usage)")
                    exit(2)
                }
                url = argument
            }
        }
        guard let url else {
            complain("usage: \(usage)")
            exit(2)
        }

        let client = WebSocketClient(configuration: configuration)
        let echoes = echoing
        let socket: WebSocket
        do {
            socket = try await client.connect(url, subprotocols: protocols, headers: headers) { socket in
                socket.onMessage { socket, message in
                    if echoes {
                        socket.send(message)
                    } else {
                        say(show(message))
                    }
                }
                socket.onError { _, error in complain("error: \(error)") }
            }
        } catch {
            complain("websocket-cat: \(error)")
            exit(1)
        }
        let agreed = (socket.subprotocol.map { ["subprotocol \($0)"] } ?? []) + socket.extensions.map(\.name)
        complain(agreed.isEmpty ? "connected" : "connected (\(agreed.joined(separator: ", ")))")

        // Standard input is read on a thread of its own: a blocking read must not hold a loop.
        let input = DispatchQueue(label: "websocket-cat.stdin")
        input.async {
            while let line = readLine(strippingNewline: true) {
                guard socket.readyState == .open else { break }
                socket.send(line)
            }
            if socket.readyState == .open { try? socket.close(code: .normalClosure, reason: "") }
        }

        let event = await socket.closed()
        complain("closed \(event.code.rawValue)\(event.reason.isEmpty ? "" : " \(event.reason)")\(event.wasClean ? "" : " (not clean)")")
        exit(event.wasClean && (event.code == .normalClosure || event.code == .goingAway) ? 0 : 3)
    }

    /// How a received message is shown.
    static func show(_ message: Message) -> String {
        if let text = message.text, message.kind == .text { return text }
        if message.data.count <= 64 {
            return "binary: " + message.data.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
        }
        return "binary: \(message.data.count) bytes"
    }
}
