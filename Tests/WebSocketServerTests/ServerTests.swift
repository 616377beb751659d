import Testing
import WebSocketCore
@testable import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

func echoServer(_ configure: (inout WebSocketServer.Configuration) -> Void = { _ in }) throws -> (WebSocketServer, Int) {
    try startServer(configure) { server in
        server.webSocket("*") { socket in
            socket.onMessage { socket, message in socket.send(message) }
        }
    }
}

/// The server tests block on sockets, so they run one at a time: that leaves the cooperative
/// thread pool free for the server's own tasks (async upgrade hooks and handlers).
@Suite(.serialized) struct WebSocketServerTests {}

extension WebSocketServerTests {
    @Suite struct EchoTests {
        @Test func echoesTextBinaryEmptyAndLargeMessages() throws {
            let (server, port) = try echoServer()
            defer { stop(server) }
            let client = try TestClient(port: port, path: "/anything")
            let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let messages: [Message] = [.text("Hello, κόσμε 🌍"), .binary([0, 1, 2, 255]), .text(""), .binary([]), .binary(large)]
            for message in messages {
                try client.send(message)
                #expect(client.nextMessage() == message)
            }
            // Fragmented sends come back whole.
            try client.send(.text(String(repeating: "fragment ", count: 1000)), fragmentSize: 100)
            #expect(client.nextMessage()?.text == String(repeating: "fragment ", count: 1000))
        }

        @Test func ordersManyMessagesInFlight() throws {
            let (server, port) = try echoServer()
            defer { stop(server) }
            let client = try TestClient(port: port)
            var batch: [UInt8] = []
            for i in 0..<500 {
                try client.engine.send("message \(i)")
                batch += client.engine.takeOutboundBytes()
            }
            try client.connection.write(batch)
            for i in 0..<500 {
                #expect(client.nextMessage()?.text == "message \(i)")
            }
        }

        @Test func worksOverIPv6() throws {
            let (server, port) = try startServer({ $0.host = "::1" }) { server in
                server.webSocket("/ws") { socket in socket.onMessage { socket, message in socket.send(message) } }
            }
            defer { stop(server) }
            #expect(server.localAddress?.isIPv6 == true)
            let client = try TestClient(port: port, host: "::1", path: "/ws")
            try client.send("over v6")
            #expect(client.nextMessage()?.text == "over v6")
        }

        @Test func pingIsAnsweredAndReported() throws {
            let pings = Recorder<[UInt8]>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in socket.onPing { _, payload in pings.append(payload) } }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.ping([1, 2, 3])
            #expect(client.next() == .pong([1, 2, 3]))
            #expect(eventually { pings.all == [[1, 2, 3]] })
        }

        @Test func compressionIsNegotiatedAndEchoed() throws {
            let (server, port) = try echoServer { $0.extensions = [PerMessageDeflate()] }
            defer { stop(server) }
            let client = try TestClient(port: port, extensions: [PerMessageDeflate.clientOffer()])
            #expect(client.accepted.extensions.map(\.name) == ["permessage-deflate"])
            let json = String(repeating: "{\"price\":43125.5,\"size\":0.0125}", count: 30)
            for _ in 0..<3 {
                try client.send(.text(json))
                #expect(client.nextMessage()?.text == json)
            }
            // Without an offer, no compression.
            let plain = try TestClient(port: port)
            #expect(plain.accepted.extensions.isEmpty)
        }
    }

    @Suite struct SharedLoopTests {
        @Test func serversOnSharedLoopsCountApartAndOneShutdownLeavesTheLoopsRunning() throws {
            let loops = EventLoops(count: 2)
            let (first, firstPort) = try echoServer { $0.eventLoops = loops }
            let (second, secondPort) = try echoServer { $0.eventLoops = loops }
            defer { stop(second) }
            #expect(first.eventLoops === loops && second.eventLoops === loops)
            let a = try TestClient(port: firstPort), b = try TestClient(port: secondPort)
            for _ in 0..<3 {
                try a.send("to the first")
                #expect(a.nextMessage()?.text == "to the first")
            }
            try b.send("to the second")
            #expect(b.nextMessage()?.text == "to the second")
            #expect(first.metrics.messagesIn == 3 && second.metrics.messagesIn == 1)
            // The first server's shutdown closes its own connections only, and not the loops.
            stop(first)
            guard case .close(let frame)? = a.next() else {
                Issue.record("no Close from the server shutting down")
                return
            }
            #expect(frame.code == .goingAway)
            try b.send("still here")
            #expect(b.nextMessage()?.text == "still here")
            #expect(second.metrics.openWebSockets == 1)
        }
    }

    @Suite struct HTTPTests {
        func server() throws -> (WebSocketServer, Int) {
            try startServer { server in
                server.webSocket("/ws") { _ in }
                server.http("/") { _ in HTTPResponse(status: 200, headers: ["Content-Type": "text/html"], body: Array("<h1>hi</h1>".utf8)) }
                server.http("/health") { _ in .text(200, "ok") }
            }
        }

        @Test func servesPlainRoutes() throws {
            let (server, port) = try server()
            defer { stop(server) }
            let page = try RawConnection(port: port).exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(page.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(page.contains("Content-Length: 11\r\n"))
            #expect(page.hasSuffix("\r\n\r\n<h1>hi</h1>"))
            let head = try RawConnection(port: port).exchange("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(head.hasSuffix("\r\n\r\n"))
            let post = try RawConnection(port: port).exchange("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            #expect(post.hasPrefix("HTTP/1.1 405 "))
            let missing = try RawConnection(port: port).exchange("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(missing.hasPrefix("HTTP/1.1 404 "))
        }

        @Test func plainGetOnAWebSocketRouteGets426() throws {
            let (server, port) = try server()
            defer { stop(server) }
            let response = try RawConnection(port: port).exchange("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(response.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
            #expect(response.contains("Sec-WebSocket-Version: 13\r\n"))
            #expect(response.contains("Upgrade: websocket\r\n"))
        }

        @Test func badRequestsGet4xxAndTheSocketCloses() throws {
            let (server, port) = try server()
            defer { stop(server) }
            let cases: [(String, String)] = [
                ("GET /ws HTTP/1.1\nHost: x\n\n", "400"),
                ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", "426"),
                ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n", "400"),
                ("GET /ws HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n", "431"),
            ]
            for (request, status) in cases {
                let response = try RawConnection(port: port).exchange(request)
                #expect(response.hasPrefix("HTTP/1.1 \(status) "), "\(response.prefix(40))")
            }
            #expect(eventually { server.metrics.handshakesRejected[400, default: 0] >= 2 && server.metrics.handshakesRejected[431] == 1 })
        }
    }

    @Suite struct UpgradeHookTests {
        @Test func hookAcceptsWithSubprotocolHeadersAndUserState() throws {
            let seen = Recorder<String>()
            let (server, port) = try startServer { server in
                server.webSocket("/chat", upgrade: { context in
                    seen.append(context.request.query ?? "")
                    return .accept(subprotocol: context.request.subprotocols.last, headers: ["X-Hello": "1"], userInfo: "user-42")
                }, onOpen: { socket in
                    socket.send("you are \(socket.userInfo as? String ?? "?") speaking \(socket.subprotocol ?? "-")")
                })
            }
            defer { stop(server) }
            let client = try TestClient(port: port, path: "/chat?room=7", subprotocols: ["v1", "v2"])
            #expect(client.accepted.subprotocol == "v2")
            #expect(client.responseHead.headers["X-Hello"] == "1")
            #expect(client.nextMessage()?.text == "you are user-42 speaking v2")
            #expect(seen.all == ["room=7"])
        }

        @Test func asyncHookCanReject() throws {
            let (server, port) = try startServer { server in
                server.webSocket("/private", upgrade: { context in
                    try? await Task.sleep(for: .milliseconds(20))  // an auth lookup
                    if context.request.headers["Authorization"] == "Bearer good" { return .accept }
                    return .reject(.text(401, "who are you?", headers: ["WWW-Authenticate": "Bearer"]))
                }, onOpen: { socket in socket.send("welcome") })
            }
            defer { stop(server) }
            let ok = try TestClient(port: port, path: "/private", headers: ["Authorization": "Bearer good"])
            #expect(ok.nextMessage()?.text == "welcome")
            do {
                _ = try TestClient(port: port, path: "/private")
                Issue.record("accepted without a token")
            } catch let error as ClientHandshakeError {
                guard case .unexpectedResponse(let head) = error else { Issue.record("\(error)"); return }
                #expect(head.status == 401)
                #expect(head.headers["WWW-Authenticate"] == "Bearer")
            }
            let raw = try RawConnection(port: port).exchange("GET /private HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            #expect(raw.hasPrefix("HTTP/1.1 401 "))
            #expect(raw.contains("WWW-Authenticate: Bearer\r\n"))
        }

        @Test func originAllowList() throws {
            let (server, port) = try startServer { server in
                server.webSocket("/", allowedOrigins: ["https://good.example"]) { socket in socket.send("hi") }
            }
            defer { stop(server) }
            #expect(try TestClient(port: port, headers: ["Origin": "https://good.example"]).nextMessage()?.text == "hi")
            do {
                _ = try TestClient(port: port, headers: ["Origin": "https://evil.example"])
                Issue.record("evil origin accepted")
            } catch let error as ClientHandshakeError {
                guard case .unexpectedResponse(let head) = error else { Issue.record("\(error)"); return }
                #expect(head.status == 403)
            }
            // No Origin (not a browser): allowed.
            #expect(try TestClient(port: port).nextMessage()?.text == "hi")
        }
    }

    @Suite struct CloseTests {
        @Test func clientInitiatedCloseIsCleanOnBothSides() throws {
            let closes = Recorder<CloseEvent>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in socket.onClose { _, event in closes.append(event) } }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.close(code: CloseCode(4000), reason: "done")
            #expect(client.next() == .close(CloseFrame(code: CloseCode(4000))))
            #expect(client.waitForEOF())
            #expect(eventually { closes.all == [CloseEvent(code: CloseCode(4000), reason: "done", wasClean: true)] })
            #expect(eventually { server.metrics.openWebSockets == 0 && server.connections().isEmpty })
        }

        @Test func afterACompletedClosingHandshakeTheServerClosesAtOnce() throws {
            // RFC 6455 §7.1.1: the server closes the TCP connection first. The client here keeps
            // its socket open; the server must not wait for it (the close timeout is 5 s).
            let (server, port) = try echoServer()
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.close()
            #expect(client.next() == .close(CloseFrame(code: .normalClosure)))
            let start = now()
            #expect(eventually(timeout: 2000) { server.metrics.openConnections == 0 })
            #expect(now() - start < 1000)
            withExtendedLifetime(client) {}
        }

        @Test func serverInitiatedClose() throws {
            let closes = Recorder<CloseEvent>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in
                    socket.onClose { _, event in closes.append(event) }
                    socket.onText { socket, _ in try? socket.close(code: .normalClosure, reason: "bye") }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.send("close please")
            #expect(client.next() == .close(CloseFrame(code: .normalClosure, reason: "bye")))
            #expect(client.waitForEOF())
            #expect(eventually { closes.all == [CloseEvent(code: .normalClosure, reason: "", wasClean: true)] })
        }

        @Test func closeRefusesCodesABrowserWouldRefuse() throws {
            let errors = Recorder<String>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in
                    for code: UInt16 in [999, 1005, 1006, 1015, 2000, 5000] {
                        do { try socket.close(code: CloseCode(code)) } catch { errors.append("\(error)") }
                    }
                    do { try socket.close(reason: String(repeating: "x", count: 124)) } catch { errors.append("\(error)") }
                    socket.send("still open")
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            #expect(client.nextMessage()?.text == "still open")
            #expect(errors.all.count == 7)
        }

        @Test func terminateAndDroppedTransportReport1006() throws {
            let closes = Recorder<CloseEvent>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in
                    socket.onClose { _, event in closes.append(event) }
                    socket.onText { socket, text in if text == "terminate" { socket.terminate() } }
                }
            }
            defer { stop(server) }
            let a = try TestClient(port: port)
            try a.send("terminate")
            #expect(a.waitForEOF())
            let b = try TestClient(port: port)
            // A reset in the middle of a frame.
            try b.connection.write([0x81, 0x85, 1, 2, 3])
            b.connection.reset()
            #expect(eventually { closes.all.count == 2 })
            #expect(closes.all.allSatisfy { $0 == CloseEvent(code: .abnormalClosure, reason: "", wasClean: false) })
        }

        @Test func protocolErrorsCloseWithTheirCode() throws {
            let closes = Recorder<CloseEvent>()
            let (server, port) = try startServer({ $0.engine.maxMessageSize = 1000; $0.engine.maxFrameSize = 1000 }) { server in
                server.webSocket("/") { socket in socket.onClose { _, event in closes.append(event) } }
            }
            defer { stop(server) }
            // Unmasked frame: 1002. Invalid UTF-8: 1007. Too big: 1009.
            let frames: [([UInt8], CloseCode)] = [
                ([0x81, 0x02, 0x41, 0x42], .protocolError),
                (FrameHeader(opcode: .text, maskingKey: MaskingKey(0, 0, 0, 0), payloadLength: 2).encoded.bytes + [0xC0, 0x80], .invalidPayloadData),
                (FrameHeader(opcode: .binary, maskingKey: MaskingKey(0, 0, 0, 0), payloadLength: 5000).encoded.bytes, .messageTooBig),
            ]
            for (bytes, code) in frames {
                let client = try TestClient(port: port)
                try client.connection.write(bytes)
                guard case .close(let frame)? = client.next() else { Issue.record("no close for \(code)"); continue }
                #expect(frame.code == code)
                #expect(client.waitForEOF())
            }
            #expect(eventually { closes.all.map(\.code) .sorted { $0.rawValue < $1.rawValue } == [.protocolError, .invalidPayloadData, .messageTooBig] })
            #expect(closes.all.allSatisfy { !$0.wasClean })
        }
    }

    @Suite struct TimerTests {
        @Test func halfRequestsAreDroppedAtTheHandshakeTimeout() throws {
            let (server, port) = try echoServer { $0.handshakeTimeout = .milliseconds(300); $0.timerResolution = .milliseconds(50) }
            defer { stop(server) }
            let slow = try RawConnection(port: port)
            try slow.write("GET / HTTP/1.1\r\nHost: x\r\n")  // and never the blank line
            let start = now()
            let result = slow.readToEnd(timeout: 3000)
            #expect(result.eof)
            #expect(now() - start < 2000)
            #expect(eventually { server.metrics.handshakesRejected[408] == 1 })
        }

        @Test func idleConnectionsArePingedAndDroppedWithoutPong() throws {
            let closes = Recorder<CloseEvent>()
            let (server, port) = try startServer({
                $0.idlePingInterval = .milliseconds(200)
                $0.pongTimeout = .milliseconds(200)
                $0.timerResolution = .milliseconds(50)
            }) { server in
                server.webSocket("/") { socket in socket.onClose { _, event in closes.append(event) } }
            }
            defer { stop(server) }
            // A client that answers pings stays connected.
            let alive = try TestClient(port: port)
            #expect(alive.next(timeout: 2000) == .ping([]))  // next() answers with a pong
            // A raw client that never answers is dropped.
            let silent = try TestClient(port: port)
            let start = now()
            #expect(silent.connection.readToEnd(timeout: 3000).eof)
            #expect(now() - start >= 300)
            #expect(eventually { closes.all.contains(CloseEvent(code: .abnormalClosure, reason: "", wasClean: false)) })
            #expect(alive.next(timeout: 1000) == .ping([]))
        }

        @Test func closingHandshakeTimesOut() throws {
            let closes = Recorder<CloseEvent>()
            let (server, port) = try startServer({ $0.closeTimeout = .milliseconds(300); $0.timerResolution = .milliseconds(50) }) { server in
                server.webSocket("/") { socket in
                    socket.onClose { _, event in closes.append(event) }
                    try? socket.close()
                }
            }
            defer { stop(server) }
            let client = try RawConnection(port: port)
            try client.write(ClientHandshake(host: "x").serializedRequest)
            // Read the 101 and the Close, but never answer.
            #expect(client.readToEnd(timeout: 3000).eof)
            #expect(eventually { closes.all == [CloseEvent(code: .abnormalClosure, reason: "", wasClean: false)] })
        }

        @Test func maximumLifetimeClosesWith1001() throws {
            let (server, port) = try echoServer { $0.maxLifetime = .milliseconds(200); $0.timerResolution = .milliseconds(50) }
            defer { stop(server) }
            let client = try TestClient(port: port)
            #expect(client.next(timeout: 3000) == .close(CloseFrame(code: .goingAway, reason: "Maximum connection lifetime reached")))
        }
    }
}
