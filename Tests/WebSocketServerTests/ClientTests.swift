import Testing
import WebSocketClient
@testable import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

/// A TCP server that serves each accepted connection with a script, for client tests: the
/// script gets the socket (blocking, 5 s timeouts) and the request head the client sent.
final class ScriptedServer: Sendable {
    let port: Int
    private let listener: Int32

    init(connections: Int = 1, _ script: @escaping @Sendable (_ fd: Int32, _ request: String) -> Void) throws {
        listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 8, reusePort: false)
        port = Socket.localAddress(of: listener)!.port
        let listener = self.listener
        Thread {
            for _ in 0..<connections {
                var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 10_000) == 1 else { break }
                let fd = Glibc.accept(listener, nil, nil)
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var request: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    request += buffer[0..<n]
                }
                script(fd, String(decoding: request, as: UTF8.self))
                close(fd)
            }
            close(listener)
        }.start()
    }

    var url: String { "ws://127.0.0.1:\(port)/" }

    /// The `Sec-WebSocket-Accept` value for the key in `request`.
    static func accept(for request: String) -> String {
        let line = request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") } ?? ""
        return ServerHandshake.acceptValue(forKey: String(line.dropFirst("sec-websocket-key:".count).filter { $0 != " " }))
    }

    /// A valid 101 for `request`, with `extra` header lines.
    static func switching(for request: String, extra: String = "") -> String {
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept(for: request))\r\n\(extra)\r\n"
    }
}

/// Writes all of `bytes` to a blocking socket.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { return }
        offset += n
    }
}

/// Reads from a blocking socket until the peer closes or the receive timeout; returns the bytes.
func readUntilClosed(_ fd: Int32) -> [UInt8] {
    var all: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return all }
        all += buffer[0..<n]
    }
}

/// An unmasked server frame.
func serverFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
    var header = FrameHeader(fin: fin, reservedBits: [], opcode: .continuation, maskingKey: nil, payloadLength: payload.count)
    header.opcodeValue = opcode
    return header.encoded.bytes + payload
}

/// The descriptors this process has open.
func openDescriptorCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while readdir(directory) != nil { count += 1 }
    return count
}

/// A client whose timeouts suit tests.
func testClient(_ configure: (inout WebSocketClient.Configuration) -> Void = { _ in }) -> WebSocketClient {
    var configuration = WebSocketClient.Configuration()
    configuration.handshakeTimeout = .seconds(3)
    configuration.connectTimeout = .seconds(3)
    configuration.closeTimeout = .seconds(2)
    configuration.tls = TLSClientConfiguration(trustRoots: .certificates(Fixture.ca))
    configure(&configuration)
    return WebSocketClient(configuration: configuration)
}

extension WebSocketServerTests {
    @Suite(.timeLimit(.minutes(1))) struct ClientTests {
        @Test func echoesThroughTheMessageSequence() async throws {
            let (server, port) = try echoServer()
            defer { stop(server) }
            let socket = try await testClient().connect("ws://127.0.0.1:\(port)/echo?x=1")
            #expect(socket.readyState == .open)
            #expect(socket.request.path == "/echo" && socket.request.query == "x=1")
            let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            let messages: [Message] = [.text("Hello, server"), .binary(large), .text(""), .text("κόσμε 🌍")]
            for message in messages { try await socket.send(message) }
            var received: [Message] = []
            for await message in socket.messages {
                received.append(message)
                if received.count == messages.count { break }
            }
            #expect(received == messages)
            try socket.close()
            let event = await socket.closed()
            #expect(event.code == .normalClosure && event.wasClean)
        }

        @Test func callbacksSetInOnOpenSeeMessagesThatCameWithThe101() async throws {
            // The server greets in its open handler: the greeting often shares a segment with the 101.
            let (server, port) = try startServer { server in
                server.webSocket("*") { socket in
                    socket.send("first")
                    socket.send("second")
                    socket.onMessage { socket, message in socket.send(message) }
                }
            }
            defer { stop(server) }
            let seen = Recorder<String>()
            let socket = try await testClient().connect("ws://127.0.0.1:\(port)/") { socket in
                socket.onText { _, text in seen.append(text) }
            }
            try await socket.send("third")
            #expect(eventually { seen.all == ["first", "second", "third"] })
            try socket.close(code: .goingAway, reason: "done")
            #expect(await socket.closed().wasClean)
        }

        @Test func subprotocolsHeadersAndCompressionReachTheServer() async throws {
            let seen = Recorder<UpgradeRequest>()
            let (server, port) = try startServer({ $0.extensions = [PerMessageDeflate()] }) { server in
                server.webSocket("*", upgrade: { context in
                    seen.append(context.request)
                    return .accept(subprotocol: "chat.v2")
                }) { socket in
                    socket.onMessage { socket, message in socket.send(message) }
                }
            }
            defer { stop(server) }
            let client = testClient { $0.compression = PerMessageDeflate.Configuration() }
            let socket = try await client.connect("ws://127.0.0.1:\(port)/", subprotocols: ["chat.v1", "chat.v2"],
                                                  headers: ["Authorization": "Bearer token", "Origin": "https://example.com"])
            #expect(socket.subprotocol == "chat.v2")
            #expect(socket.extensions.map(\.name) == ["permessage-deflate"])
            let request = try #require(seen.all.first)
            #expect(request.subprotocols == ["chat.v1", "chat.v2"])
            #expect(request.headers["Authorization"] == "Bearer token")
            #expect(request.origin == "https://example.com")
            let text = String(repeating: "compressible ", count: 10_000)
            try await socket.send(text)
            for await message in socket.messages {
                #expect(message.text == text)
                break
            }
            // Compressed both ways: far fewer bytes crossed than the text's length, twice.
            #expect(server.metrics.bytesIn < text.utf8.count / 10 && server.metrics.bytesOut < text.utf8.count / 10)
            try socket.close()
            _ = await socket.closed()
        }

        @Test func aCloseFromTheServerIsSeenByTheClient() async throws {
            let (server, port) = try startServer { server in
                server.webSocket("*") { socket in
                    socket.onText { socket, _ in try? socket.close(code: .policyViolation, reason: "no thanks") }
                }
            }
            defer { stop(server) }
            let closes = Recorder<CloseEvent>()
            let socket = try await testClient().connect("ws://127.0.0.1:\(port)/") { socket in
                socket.onClose { _, event in closes.append(event) }
            }
            try await socket.send("hello")
            let event = await socket.closed()
            #expect(event == CloseEvent(code: .policyViolation, reason: "no thanks", wasClean: true))
            // The handler runs on the connection's queue, beside the waiter's task: soon, not at once.
            #expect(eventually { closes.all == [event] })
            #expect(socket.readyState == .closed)
        }

        @Test func aRefusalCarriesTheStatusHeadersAndBody() async throws {
            let (server, port) = try startServer { server in
                server.webSocket("*", upgrade: { _ in
                    .reject(.text(401, "Who are you?\n", headers: ["WWW-Authenticate": "Bearer"]))
                }) { _ in }
            }
            defer { stop(server) }
            do {
                _ = try await testClient().connect("ws://127.0.0.1:\(port)/")
                Issue.record("a 401 opened a WebSocket")
            } catch {
                guard case .unexpectedResponse(let head, let body) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(head.status == 401)
                #expect(head.headers["WWW-Authenticate"] == "Bearer")
                #expect(String(decoding: body, as: UTF8.self) == "Who are you?\n")
            }
        }

        @Test func wssVerifiesTheServerAgainstTheTrustedCertificates() async throws {
            // On every address, so that 127.0.0.2 (not in the certificate) reaches it too.
            let (server, port) = try tlsEchoServer { $0.host = "0.0.0.0" }
            defer { stop(server) }
            let socket = try await testClient().connect("wss://localhost:\(port)/")
            try await socket.send("over TLS")
            for await message in socket.messages {
                #expect(message.text == "over TLS")
                break
            }
            try socket.close()
            #expect(await socket.closed().wasClean)

            // The system's store does not know the test CA.
            await #expect(throws: WebSocketClientError.self) {
                _ = try await testClient { $0.tls = TLSClientConfiguration() }.connect("wss://localhost:\(port)/")
            }
            // The certificate is not for this name (127.0.0.2 reaches the same server).
            do {
                _ = try await testClient().connect("wss://127.0.0.2:\(port)/")
                Issue.record("a certificate for another address was accepted")
            } catch {
                guard case .tls(let reason) = error else { Issue.record("\(error)"); return }
                #expect(reason.contains("certificate verify failed"))
            }
            // The named opt-out, for test certificates.
            let insecure = try await testClient { $0.tls = TLSClientConfiguration(verifiesServer: false) }.connect("wss://127.0.0.2:\(port)/")
            #expect(insecure.readyState == .open)
            insecure.terminate()
        }

        @Test("A bad answer to the opening request fails with a reason", arguments: [
            ("wrong accept", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n", "Sec-WebSocket-Accept"),
            ("no Upgrade header", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n", "Upgrade"),
            ("an extension not offered", "{101}Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", "extension that was not offered"),
            ("a subprotocol not offered", "{101}Sec-WebSocket-Protocol: chat\r\n\r\n", "subprotocol"),
            ("not HTTP at all", "SSH-2.0-OpenSSH_9.2\r\n\r\n", "not valid HTTP"),
        ])
        func badAnswersFailTheConnection(name: String, answer: String, reason: String) async throws {
            let server = try ScriptedServer { fd, request in
                let text = answer.replacingOccurrences("{accept}", with: ScriptedServer.accept(for: request))
                    .replacingOccurrences("{101}", with: String(ScriptedServer.switching(for: request).dropLast()))  // "\r\n" is one Character
                writeAll(fd, Array(text.utf8))
                _ = readUntilClosed(fd)
            }
            do {
                _ = try await testClient().connect(server.url)
                Issue.record("\(name): the connection opened")
            } catch {
                guard case .invalidHandshake(let why) = error else { Issue.record("\(name): \(error)"); return }
                #expect(why.contains(reason), "\(name): \(why)")
            }
        }

        @Test func aChunkedRefusalIsDecoded() async throws {
            let server = try ScriptedServer { fd, _ in
                writeAll(fd, Array("HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\nRetry-After: 5\r\n\r\n5\r\nbusy,\r\n4\r\n try\r\n0\r\n\r\n".utf8))
                _ = readUntilClosed(fd)
            }
            do {
                _ = try await testClient().connect(server.url)
            } catch {
                guard case .unexpectedResponse(let head, let body) = error else { Issue.record("\(error)"); return }
                #expect(head.status == 503 && head.headers["Retry-After"] == "5")
                #expect(String(decoding: body, as: UTF8.self) == "busy, try")
            }
        }

        @Test func aServerThatClosesHalfwayOrNeverAnswersFailsInTime() async throws {
            let half = try ScriptedServer { fd, _ in writeAll(fd, Array("HTTP/1.1 101 Switching".utf8)) }
            await #expect(throws: WebSocketClientError.closedDuringHandshake) { _ = try await testClient().connect(half.url) }

            let silent = try ScriptedServer { fd, _ in _ = readUntilClosed(fd) }
            let start = now()
            await #expect(throws: WebSocketClientError.handshakeTimedOut) {
                _ = try await testClient { $0.handshakeTimeout = .milliseconds(300) }.connect(silent.url)
            }
            #expect(now() - start < 2000)
        }

        @Test func everySplitOfTheAnswerGivesTheSameMessages() async throws {
            // The 101 and the frames after it, one byte per write: every read boundary is crossed.
            let frames = serverFrame(0x1, Array("one".utf8)) + serverFrame(0x9, [7]) + serverFrame(0x2, [1, 2, 3])
                + serverFrame(0x1, Array("fr".utf8), fin: false) + serverFrame(0x0, Array("ag".utf8))
            for bytewise in [true, false] {
                let server = try ScriptedServer { fd, request in
                    let answer = Array(ScriptedServer.switching(for: request).utf8) + frames
                    var one: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    if bytewise {
                        for byte in answer {
                            writeAll(fd, [byte])
                            usleep(300)
                        }
                    } else {
                        writeAll(fd, answer)
                    }
                    _ = readUntilClosed(fd)
                }
                let pongs = Recorder<[UInt8]>()
                let messages = Recorder<Message>()
                let socket = try await testClient().connect(server.url) { socket in
                    socket.onMessage { _, message in messages.append(message) }
                    socket.onPong { _, payload in pongs.append(payload) }
                }
                #expect(eventually { messages.all == [.text("one"), .binary([1, 2, 3]), .text("frag")] }, "bytewise: \(bytewise)")
                socket.terminate()
            }
        }

        @Test func theClientWaitsForTheServerToCloseThenGivesUpAtTheCloseTimeout() async throws {
            // A server that answers the Close but never closes the TCP connection; it notes when
            // the client's FIN arrives.
            let finArrived = Recorder<Int>()
            let server = try ScriptedServer { fd, request in
                writeAll(fd, Array(ScriptedServer.switching(for: request).utf8))
                var buffer = [UInt8](repeating: 0, count: 256)
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 { writeAll(fd, serverFrame(0x8, [0x03, 0xE8])) }
                _ = readUntilClosed(fd)
                finArrived.append(now())
            }
            let socket = try await testClient { $0.closeTimeout = .milliseconds(400) }.connect(server.url)
            let start = now()
            try socket.close()
            let event = await socket.closed()
            // The close is reported as soon as both Close frames have crossed.
            #expect(event.wasClean && event.code == .normalClosure)
            #expect(now() - start < 300)
            // The client leaves the TCP close to the server (RFC 6455 §7.1.1), then gives up
            // at its close timeout.
            #expect(eventually { !finArrived.all.isEmpty })
            let waited = (finArrived.all.first ?? 0) - start
            #expect(waited >= 300 && waited < 2000, "FIN after \(waited) ms")
        }

        @Test func aDroppedConnectionIsReportedAs1006() async throws {
            let server = try ScriptedServer { fd, request in
                writeAll(fd, Array(ScriptedServer.switching(for: request).utf8) + serverFrame(0x1, Array("bye".utf8)))
                usleep(100_000)
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            }
            let errors = Recorder<WebSocketError>()
            let socket = try await testClient().connect(server.url) { socket in
                socket.onError { _, error in errors.append(error) }
            }
            let event = await socket.closed()
            #expect(event.code == .abnormalClosure && !event.wasClean)
        }

        @Test func aFloodingServerIsHeldBackWhileTheApplicationDoesNotRead() async throws {
            let sent = Recorder<Int>()
            let server = try ScriptedServer { fd, request in
                var timeout = timeval(tv_sec: 1, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                writeAll(fd, Array(ScriptedServer.switching(for: request).utf8))
                let frame = serverFrame(0x2, [UInt8](repeating: 7, count: 64 << 10))
                var count = 0
                while count < 1000 {
                    let n = frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n < frame.count { break }  // the client stopped reading: the socket buffers are full
                    count += 1
                }
                sent.append(count)
                _ = readUntilClosed(fd)
            }
            let before = residentBytes()
            let socket = try await testClient().connect(server.url)
            #expect(eventually(timeout: 10_000) { !sent.all.isEmpty })
            // 16 messages wait for the application, the rest stays in the kernel and the server.
            #expect((sent.all.first ?? 1000) < 1000)
            #expect(residentBytes() - before < 24 << 20, "RSS grew by \(residentBytes() - before) bytes")
            var read = 0
            for await _ in socket.messages {
                read += 1
                if read == 20 { break }
            }
            #expect(read == 20)
            socket.terminate()
        }

        @Test func connectionFailuresNameTheHostAndLeaveNoDescriptor() async throws {
            let before = openDescriptorCount()
            // A port nobody listens on.
            let listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 1, reusePort: false)
            let port = Socket.localAddress(of: listener)!.port
            close(listener)
            do {
                _ = try await testClient().connect("ws://127.0.0.1:\(port)/")
                Issue.record("connected to a closed port")
            } catch {
                guard case .connectFailed(let host, let attempts) = error else { Issue.record("\(error)"); return }
                #expect(host == "127.0.0.1")
                #expect(attempts.map(\.error.errno) == [ECONNREFUSED])
            }
            do {
                _ = try await testClient().connect("ws://no-such-host.invalid/")
                Issue.record("resolved .invalid")
            } catch {
                guard case .resolutionFailed(let host, _) = error else { Issue.record("\(error)"); return }
                #expect(host == "no-such-host.invalid")
            }
            await #expect(throws: WebSocketClientError.self) { _ = try await testClient().connect("ftp://example.com/") }
            await #expect(throws: WebSocketClientError.self) {
                _ = try await testClient().connect("ws://127.0.0.1:\(port)/", subprotocols: ["not a token"])
            }
            #expect(eventually { openDescriptorCount() <= before })
        }
    }
}

extension String {
    /// `self` with every `target` replaced (no Foundation in these tests).
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
