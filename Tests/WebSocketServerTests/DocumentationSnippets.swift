// Every ```swift block of README.md and of the DocC articles (Sources/*/*.docc) appears here,
// line for line (indentation aside), so the compiler checks the examples; DocumentationTests
// verifies that each block is here.
import WebSocketCore
import WebSocketServer
import WebSocketTLS
import WebSocketClient
import WebSocketRedis
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

// BEGIN blocking
/// Serves one connection on a blocking socket: the handshake, then an echo until the close.
func echoOverABlockingSocket(_ fd: Int32) throws {
    var buffer = [UInt8](repeating: 0, count: 64 << 10)
    func read() -> [UInt8] {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[..<n]) : []
    }
    func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    var upgrade = ServerUpgrade()
    var request: UpgradeRequest?
    while request == nil {
        let bytes = read()
        guard !bytes.isEmpty else { return }
        do { request = try upgrade.receive(bytes) } catch { return write(error.response.serialized()) }
    }
    let accepted = try upgrade.accept()  // or write(upgrade.reject(.text(401, "no"))) and return
    write(accepted.response)
    var engine = accepted.engine
    while true {
        while let event = engine.nextEvent() {
            if case .message(let message) = event { try engine.send(message) }
        }
        write(engine.takeOutboundBytes())
        if engine.readyState == .closed { return }  // then close(fd): the server closes first
        let bytes = read()
        guard !bytes.isEmpty else { return }
        engine.receive(bytes)
    }
}
// END blocking

enum DocumentationSnippets {
    static func standalone() throws {
        // BEGIN standalone
        let server = WebSocketServer(configuration: .init(host: "127.0.0.1", port: 8080))

        server.webSocket("/echo") { socket in
            socket.onMessage { socket, message in
                socket.send(message)  // text stays text, binary stays binary
            }
            socket.onClose { _, event in
                print("closed: \(event.code) \(event.reason) clean=\(event.wasClean)")
            }
        }
        server.http("/health") { _ in .text(200, "ok") }

        let address = try server.start()
        print("listening on ws://\(address)/echo")
        // END standalone
        _ = address
    }

    static func views(server: WebSocketServer) {
        // BEGIN views
        server.webSocket("/fast-echo") { socket in
            socket.onMessageView { socket, kind, bytes in
                socket.send(bytes, kind: kind)  // from the read buffer to the write, no array in between
            }
        }
        // END views
        // BEGIN relay
        server.webSocket("/relay") { socket in
            socket.onMessageView { socket, kind, bytes in
                guard bytes.count <= 4096 else { return }
                socket.send(bytes, kind: kind)  // no array made for the message or the reply
            }
        }
        // END relay
    }

    static func hook(server: WebSocketServer) {
        // BEGIN hook
        server.webSocket("/chat", allowedOrigins: ["https://example.com"], upgrade: { context in
            let request = context.request  // path, query, headers, origin, subprotocols
            guard let token = request.headers["Authorization"], await isValid(token) else {
                return .reject(.text(401, "Unauthorized"))
            }
            let subprotocol = request.subprotocols.first { $0 == "chat.v2" }
            return .accept(subprotocol: subprotocol, userInfo: token)
        }, onOpen: { socket in
            socket.send("welcome, \(socket.userInfo(as: String.self) ?? "stranger")")
        })
        // END hook
    }

    static func isValid(_ token: String) async -> Bool { token == "Bearer ok" }

    static func asyncStyle(server: WebSocketServer) {
        // BEGIN async
        server.asyncWebSocket("/async-echo") { socket in
            for await message in socket.messages {  // reading pauses while you don't consume
                do {
                    try await socket.send(message)  // returns once under the high-water mark
                } catch {
                    break  // the connection closed
                }
            }
        }  // when the handler returns, the connection is closed with 1000
        // END async
    }

    static func backpressure() {
        // BEGIN backpressure
        var configuration = WebSocketServer.Configuration(port: 8080)
        configuration.highWaterMark = 1 << 20      // 1 MiB queued per connection at most...
        configuration.backpressure = .pauseReading // ...then stop reading from that peer
        let server = WebSocketServer(configuration: configuration)

        server.webSocket("/feed") { socket in
            socket.onDrain { socket in
                print("queue drained: \(socket.bufferedAmount) bytes left")
            }
            if socket.send("first update") == .backpressure {
                // queued, but the peer is slow: wait for onDrain before sending more
            }
        }
        // END backpressure
        _ = server
    }

    static func compression() {
        // BEGIN compression
        var configuration = WebSocketServer.Configuration(port: 8080)
        configuration.extensions = [PerMessageDeflate(.init(
            serverNoContextTakeover: false,   // keep the window between messages: repeats cost little
            compressionLevel: 6,
            minimumSize: 64                   // smaller messages go out as they are
        ))]
        // END compression
        // BEGIN sharedCompression
        configuration.extensions = [PerMessageDeflate(.init(serverNoContextTakeover: true, clientNoContextTakeover: true))]
        // END sharedCompression
        _ = configuration
    }

    static func broadcast(server: WebSocketServer) {
        // BEGIN broadcast
        // Encoded once, queued to every open connection on /chat; peers over their
        // high-water mark are skipped this time.
        let receivers = server.broadcast(.text("tick"), path: "/chat", overflow: .skip)
        // END broadcast
        _ = receivers
    }

    static func shutdown(server: WebSocketServer) async {
        // BEGIN shutdown
        // Stop accepting, send 1001 Going Away to everyone, wait up to 5 s for the closing
        // handshakes, then drop whatever is left.
        await server.shutdown(timeout: .seconds(5))
        // END shutdown
    }

    static func tls() throws {
        // BEGIN tls
        var configuration = WebSocketServer.Configuration(host: "0.0.0.0", port: 8443)
        configuration.transportSecurity = .tls(TLSServerConfiguration(
            certificateChainFile: "/etc/letsencrypt/live/example.com/fullchain.pem",
            privateKeyFile: "/etc/letsencrypt/live/example.com/privkey.pem"))
        let server = WebSocketServer(configuration: configuration)
        try server.start()  // throws, naming the file, if a certificate or key is missing or wrong

        // After a renewal: new connections get the new certificate, open ones go on.
        let reload = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .main)
        reload.setEventHandler {
            do { try server.reloadCertificates() } catch { print("reload failed, still serving the old certificate: \(error)") }
        }
        reload.resume()
        // END tls
    }

    static func client() async throws {
        // BEGIN client
        let socket = try await WebSocket.connect("wss://example.com/chat", protocols: ["chat.v1"])
        try await socket.send("Hello")
        for await message in socket.messages {
            print(message.text ?? "\(message.data.count) bytes")
        }
        // END client
    }

    static func topics(server: WebSocketServer) {
        // BEGIN topics
        server.webSocket("/ws") { socket in
            socket.subscribe("room")  // left again when the socket closes
            socket.onText { socket, text in
                server.publish(.text(text), to: "room", excluding: socket)
            }
        }
        // END topics
    }

    static func operations(server: WebSocketServer) async throws {
        // BEGIN operations
        server.http("/metrics") { _ in
            HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4"],
                         body: Array(server.metrics.prometheusText().utf8))
        }
        try await server.run()  // serves until this task is cancelled, then shuts down gracefully
        // END operations
    }

    static func embedding(server: WebSocketServer, fd: Int32, head: HTTPRequestHead, rest: [UInt8]) {
        // BEGIN embedding
        // Your HTTP server accepted `fd` and parsed `head`; `rest` is whatever it read past
        // the head. From here the WebSocket server validates, answers 101 and owns the socket.
        server.adopt(socket: fd, head: head, bytes: rest)
        // END embedding
    }

    static func core(bytesFromTheSocket: [UInt8], write: ([UInt8]) -> Void) throws {
        // BEGIN core
        var engine = WebSocketEngine(role: .server)
        engine.receive(bytesFromTheSocket)
        while let event = engine.nextEvent() {
            switch event {
            case .message(let message): try engine.send(message)
            case .ping, .pong, .fragment: break            // taking a ping queues its pong
            case .close, .failure: break                   // taking it queues the answering close
            }
        }
        for frame in engine.takeOutbound() {
            write(frame.header.bytes)  // or one writev of header + payload
            write(frame.payload)
        }
        // END core
    }

    static func patterns(server: WebSocketServer) {
        // BEGIN patterns
        server.http("/static/*") { request, parameters in
            .text(200, "file \(parameters["*"] ?? "")")
        }
        server.webSocket("/rooms/:room") { socket in
            socket.subscribe(socket.parameters["room"] ?? "lobby")
        }
        // END patterns
    }

    static func uncompressed(socket: WebSocket, jpegBytes: [UInt8]) {
        // BEGIN uncompressed
        socket.send(jpegBytes, compress: false)
        // END uncompressed
    }

    static func redis() throws {
        // BEGIN redis
        var configuration = WebSocketServer.Configuration(host: "0.0.0.0", port: 8080)
        configuration.backplane = try RedisBackplane("redis://127.0.0.1:6379")
        // END redis
        _ = configuration
    }
}
