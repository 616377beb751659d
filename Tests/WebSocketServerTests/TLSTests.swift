import Testing
import WebSocketCore
@testable import WebSocketServer
@testable import WebSocketTLS
#if canImport(Glibc)
import Glibc
#endif

/// The committed test certificates (see TLSFixtures/make.sh; for tests only).
enum Fixture {
    static let directory: String = {
        var path = #filePath
        while let last = path.last, last != "/" { path.removeLast() }
        return path + "TLSFixtures/"
    }()
    static func path(_ name: String) -> String { directory + name }
    static let server = TLSCertificate(chainFile: path("server.pem"), privateKeyFile: path("server-key.pem"))
    static let other = TLSCertificate(chainFile: path("other.pem"), privateKeyFile: path("other-key.pem"))
    static let ca = PEMSource.file(path("ca.pem"))
    /// A client context that trusts the test CA.
    static func client(certificate: TLSCertificate? = nil) throws -> ClientTLS {
        try ClientTLS(TLSClientConfiguration(trustRoots: .certificates(ca), certificate: certificate))
    }
}

/// An echo server over TLS with `tls` (the test server certificate by default).
func tlsEchoServer(_ tls: TLSServerConfiguration = TLSServerConfiguration(certificates: [Fixture.server]),
                   _ configure: (inout WebSocketServer.Configuration) -> Void = { _ in }) throws -> (WebSocketServer, Int) {
    try echoServer {
        $0.transportSecurity = .tls(tls)
        configure(&$0)
    }
}

extension WebSocketServerTests {
    @Suite struct TLSTests {
        @Test func echoesOverTLS13WithTheHandshakeSeenByTheHook() throws {
            let seen = Recorder<TLSInfo?>()
            let (server, port) = try startServer({ $0.transportSecurity = .tls(TLSServerConfiguration(certificates: [Fixture.server])) }) { server in
                server.webSocket("*", upgrade: { context in
                    seen.append(context.tls)
                    return .accept
                }) { socket in
                    socket.onMessage { socket, message in socket.send(message) }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port, tls: (try Fixture.client(), "localhost"))
            #expect(client.tlsInfo?.version == "TLSv1.3")
            #expect(client.tlsInfo?.peerSubject == "CN=localhost")
            let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            for message: Message in [.text("Hello, wss"), .binary(large), .text(""), .text(String(repeating: "é", count: 40_000))] {
                try client.send(message)
                #expect(client.nextMessage() == message)
            }
            let info = try #require(seen.all.first ?? nil)
            #expect(info.version == "TLSv1.3")
            #expect(info.serverName == "localhost")
            #expect(info.peerSubject == nil)
            #expect(!info.cipher.isEmpty)
        }

        @Test func manyMessagesInFlightAndAMessageLargerThanTheSocketBuffersStayInOrder() throws {
            let (server, port) = try tlsEchoServer()
            defer { stop(server) }
            // A small receive buffer makes the server's TLS writes block part-way (want-write).
            let client = try TestClient(port: port, receiveBuffer: 8 << 10, tls: (try Fixture.client(), "localhost"))
            let big = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 >> 3) }
            try client.send(.binary(big))
            for i in 0..<200 { try client.send(.text("message \(i)")) }
            #expect(client.nextMessage(timeout: 20_000) == .binary(big))
            for i in 0..<200 { #expect(client.nextMessage()?.text == "message \(i)") }
        }

        /// Replies sent from views go straight to TLS when nothing waits before them; where a
        /// record is cut short (want-write), the rest is queued and OpenSSL's retry gets the
        /// same bytes from the queue. Everything arrives whole and in order.
        @Test func largeViewRepliesOverTLSStayWholeWhenWritesBlockPartWay() throws {
            let (server, port) = try startServer({ $0.transportSecurity = .tls(TLSServerConfiguration(certificates: [Fixture.server])) }) { server in
                server.webSocket("*") { socket in
                    socket.onMessageView { socket, kind, bytes in socket.send(bytes, kind: kind) }
                }
            }
            defer { stop(server) }
            // A small receive buffer makes the server's TLS writes block part-way (want-write).
            let client = try TestClient(port: port, receiveBuffer: 8 << 10, tls: (try Fixture.client(), "localhost"))
            var expected: [Message] = []
            for i in 0..<16 {
                let message: Message = i % 3 == 2
                    ? .text("small \(i)")
                    : .binary((0..<(700_000 + i * 1_000)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ i) })
                try client.send(message)
                expected.append(message)
            }
            client.expectMessages(expected, timeout: 20_000)
            #expect(eventually { server.connections().first?.bufferedAmount == 0 })
        }

        @Test func framesThatArriveWithTheRequestWaitInsideTLSWhileTheHookDecides() throws {
            let (server, port) = try startServer({
                $0.transportSecurity = .tls(TLSServerConfiguration(certificates: [Fixture.server]))
                // A read buffer smaller than a TLS record: what does not fit stays inside OpenSSL.
                $0.readBufferSize = 512
            }) { server in
                server.webSocket("*", upgrade: { _ in
                    try? await Task.sleep(for: .milliseconds(100))
                    return .accept
                }) { socket in
                    socket.onMessage { socket, message in socket.send(message) }
                }
            }
            defer { stop(server) }
            let connection = try RawConnection(port: port)
            try connection.startTLS(try Fixture.client(), serverName: "localhost")
            let handshake = ClientHandshake(host: "localhost", path: "/")
            // Three TLS records in one TCP segment (corked): OpenSSL reads them together
            // (read-ahead) and hands over the first; the others wait inside it, unseen by
            // epoll, until the hook accepts.
            var cork: Int32 = 1
            setsockopt(connection.fd, Int32(IPPROTO_TCP), TCP_CORK, &cork, socklen_t(MemoryLayout<Int32>.size))
            try connection.write(handshake.serializedRequest)
            try connection.write(rawClientFrame(0x1, Array("early".utf8)))
            try connection.write(rawClientFrame(0x1, Array(String(repeating: "-", count: 2000).utf8) + Array("bird".utf8)))
            cork = 0
            setsockopt(connection.fd, Int32(IPPROTO_TCP), TCP_CORK, &cork, socklen_t(MemoryLayout<Int32>.size))
            var received: [UInt8] = []
            let deadline = now() + 5000
            while now() < deadline, !String(decoding: received, as: UTF8.self).contains("bird") {
                guard let chunk = connection.read(timeout: 1000) else { break }
                received += chunk
            }
            let text = String(decoding: received, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 101 "))
            #expect(text.contains("early") && text.contains("bird"))
        }

        @Test func overTheConnectionLimitATLSConnectionIsClosedWithoutAPlainTextAnswer() throws {
            let (server, port) = try tlsEchoServer { $0.maxConnections = 1 }
            defer { stop(server) }
            let first = try TestClient(port: port, tls: (try Fixture.client(), "localhost"))
            let second = try RawConnection(port: port)
            let result = second.readToEnd(timeout: 3000)
            #expect(result.eof && result.bytes.isEmpty)
            #expect(server.metrics.handshakesRejected[503] == 1)
            try first.send("still served")
            #expect(first.nextMessage()?.text == "still served")
        }

        @Test func theClientChecksTheHostNameAndTheChain() throws {
            let (server, port) = try tlsEchoServer()
            defer { stop(server) }
            // The certificate is for localhost, not for this name.
            let wrongName = try RawConnection(port: port)
            #expect(throws: TestError.self) { try wrongName.startTLS(try Fixture.client(), serverName: "wrong.example") }
            do {
                try RawConnection(port: port).startTLS(try Fixture.client(), serverName: "wrong.example")
            } catch {
                #expect("\(error)".contains("hostname mismatch"))
            }
            // The system's store does not know the test CA.
            do {
                let system = try ClientTLS(TLSClientConfiguration())
                try RawConnection(port: port).startTLS(system, serverName: "localhost")
                Issue.record("an unknown CA was accepted")
            } catch {
                #expect("\(error)".contains("certificate verify failed"))
            }
            // An IP address is checked against the certificate's IP addresses.
            #expect(throws: Never.self) { try RawConnection(port: port).startTLS(try Fixture.client(), serverName: "127.0.0.1") }
            #expect(eventually { server.metrics.tlsHandshakesFailed >= 3 })
        }

        @Test func sniChoosesTheCertificateForTheNameAsked() throws {
            let (server, port) = try tlsEchoServer(TLSServerConfiguration(certificates: [Fixture.server, Fixture.other]))
            defer { stop(server) }
            let other = try RawConnection(port: port).startTLS(try Fixture.client(), serverName: "api.other.test")
            #expect(other.peerSubject == "CN=other.test")
            let local = try RawConnection(port: port).startTLS(try Fixture.client(), serverName: "localhost")
            #expect(local.peerSubject == "CN=localhost")
            // A name no certificate covers gets the first one (and the client's check fails).
            #expect(throws: TestError.self) { try RawConnection(port: port).startTLS(try Fixture.client(), serverName: "unknown.test") }
        }

        /// A TLS server asking for client certificates, recording the subject each upgrade sees.
        func mutualTLSServer(_ policy: ClientCertificatePolicy) throws -> (WebSocketServer, Int, Recorder<String?>) {
            let subjects = Recorder<String?>()
            let tls = TLSServerConfiguration(certificates: [Fixture.server], clientCertificates: policy)
            let (server, port) = try startServer({ $0.transportSecurity = .tls(tls) }) { server in
                server.webSocket("*", upgrade: { context in
                    subjects.append(context.tls?.peerSubject)
                    return .accept
                }) { _ in }
            }
            return (server, port, subjects)
        }

        @Test func mutualTLSRequiredShowsTheSubjectAndRefusesOthers() throws {
            let (server, port, subjects) = try mutualTLSServer(.required(trustRoots: Fixture.ca))
            defer { stop(server) }
            let alice = TLSCertificate(chainFile: Fixture.path("client.pem"), privateKeyFile: Fixture.path("client-key.pem"))
            _ = try TestClient(port: port, tls: (try Fixture.client(certificate: alice), "localhost"))
            #expect(subjects.all == ["CN=alice,O=Example Clients"])
            // Without a certificate, or with one the CA did not issue, the server ends the
            // handshake (under TLS 1.3 the client hears it at its first read).
            let mallory = TLSCertificate(chainFile: Fixture.path("rogue-client.pem"), privateKeyFile: Fixture.path("rogue-client-key.pem"))
            for context in [try Fixture.client(), try Fixture.client(certificate: mallory)] {
                #expect(throws: (any Error).self) { _ = try TestClient(port: port, tls: (context, "localhost")) }
            }
            #expect(subjects.all.count == 1)
            #expect(eventually { server.metrics.tlsHandshakesFailed == 2 })
        }

        @Test func mutualTLSOptionalLetsClientsWithoutACertificateThrough() throws {
            let (server, port, subjects) = try mutualTLSServer(.optional(trustRoots: Fixture.ca))
            defer { stop(server) }
            _ = try TestClient(port: port, tls: (try Fixture.client(), "localhost"))
            #expect(subjects.all == [nil])
        }

        @Test("A missing, unreadable, empty or mismatched certificate or key makes start() throw, naming the file", arguments: [
            (TLSCertificate(chainFile: "/nonexistent/cert.pem", privateKeyFile: Fixture.path("server-key.pem")),
             ["/nonexistent/cert.pem", "No such file"]),
            (TLSCertificate(chainFile: Fixture.path("server.pem"), privateKeyFile: "/nonexistent/key.pem"),
             ["/nonexistent/key.pem", "No such file"]),
            (TLSCertificate(chainFile: Fixture.directory, privateKeyFile: Fixture.path("server-key.pem")),
             [Fixture.directory, "cannot read"]),
            (TLSCertificate(chainFile: Fixture.path("make.sh"), privateKeyFile: Fixture.path("server-key.pem")),
             ["no certificate in", "make.sh"]),
            (TLSCertificate(chainFile: Fixture.path("server.pem"), privateKeyFile: Fixture.path("server.pem")),
             ["no private key in", "server.pem"]),
            (TLSCertificate(chainFile: Fixture.path("server.pem"), privateKeyFile: Fixture.path("other-key.pem")),
             ["does not match", "other-key.pem", "server.pem"]),
        ])
        func badCertificatesAreReportedAtStart(certificate: TLSCertificate, mentions: [String]) throws {
            var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 0)
            configuration.transportSecurity = .tls(TLSServerConfiguration(certificates: [certificate]))
            let server = WebSocketServer(configuration: configuration)
            do {
                try server.start()
                stop(server)
                Issue.record("start() did not throw")
            } catch {
                for word in mentions { #expect("\(error)".contains(word), "\(error)") }
            }
            #expect(server.localAddress == nil)
        }

        @Test func plainHTTPOnTheTLSPortGets400AndIsCounted() throws {
            let (server, port) = try tlsEchoServer()
            defer { stop(server) }
            let response = try RawConnection(port: port).exchange("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(response.hasPrefix("HTTP/1.1 400 "))
            #expect(response.contains("This port speaks TLS"))
            #expect(eventually { server.metrics.tlsHandshakesFailed == 1 && server.metrics.openConnections == 0 })
        }

        @Test("Garbage, a truncated ClientHello, or a reset mid-handshake: closed, counted, nothing left", arguments: [
            "garbage", "truncated", "reset",
        ])
        func brokenHandshakesAreClosed(kind: String) throws {
            let (server, port) = try tlsEchoServer()
            defer { stop(server) }
            // The first 40 bytes of a real ClientHello record: a header that promises more.
            let partialHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + Array(repeating: 0x42, count: 29)
            let connection = try RawConnection(port: port)
            let start = now()
            switch kind {
            case "garbage":
                try connection.write([0x16, 0x03, 0x01, 0x00, 0x05, 0xDE, 0xAD, 0xBE, 0xEF, 0x00] + Array(repeating: 0xFF, count: 100))
                // The server answers with an alert, then closes.
                #expect(connection.readToEnd(timeout: 3000).eof)
            case "truncated":
                try connection.write(partialHello)
                connection.shutdownWrite()
                #expect(connection.readToEnd(timeout: 3000).eof)
            default:
                try connection.write(partialHello)
                connection.reset()
            }
            #expect(eventually { server.metrics.tlsHandshakesFailed == 1 && server.metrics.openConnections == 0 })
            #expect(now() - start < 2000)
            #expect(server.metrics.openWebSockets == 0)
        }

        @Test("A peer that opens TCP and sends nothing, or half a ClientHello, is dropped at the handshake timeout", arguments: [false, true])
        func theHandshakeTimeoutCoversTLS(sendsHalfAHello: Bool) throws {
            let (server, port) = try tlsEchoServer { $0.handshakeTimeout = .milliseconds(300); $0.timerResolution = .milliseconds(50) }
            defer { stop(server) }
            let slow = try RawConnection(port: port)
            if sendsHalfAHello { try slow.write([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]) }
            let start = now()
            #expect(slow.readToEnd(timeout: 3000).eof)
            #expect(now() - start < 2000)
            #expect(eventually { server.metrics.handshakesRejected[408] == 1 && server.metrics.tlsHandshakesFailed == 1 })
        }

        @Test func aCleanCloseSendsCloseNotify() throws {
            let (server, port) = try tlsEchoServer()
            defer { stop(server) }
            let client = try TestClient(port: port, tls: (try Fixture.client(), "localhost"))
            try client.close(code: .normalClosure)
            guard case .close(let frame)? = client.next() else {
                Issue.record("no Close frame")
                return
            }
            #expect(frame.code == .normalClosure)
            #expect(client.waitForEOF())
            #expect(client.connection.tls?.receivedCloseNotify == true)
        }

        @Test func reloadingServesNewCertificatesWhileOpenConnectionsGoOn() throws {
            let directory = "/tmp/websocket-tls-reload-\(getpid())-\(now())/"
            mkdir(directory, 0o700)
            defer {
                for name in ["cert.pem", "key.pem"] { unlink(directory + name) }
                rmdir(directory)
            }
            func install(_ certificate: String, _ key: String) throws {
                for (from, to) in [(certificate, "cert.pem"), (key, "key.pem")] {
                    let bytes = try OpenSSL.read(.file(Fixture.path(from)), what: "fixture")
                    let file = fopen(directory + to, "wb")
                    fwrite(bytes, 1, bytes.count, file)
                    fclose(file)
                }
            }
            try install("server.pem", "server-key.pem")
            let (server, port) = try tlsEchoServer(TLSServerConfiguration(certificateChainFile: directory + "cert.pem", privateKeyFile: directory + "key.pem"))
            defer { stop(server) }
            let before = try TestClient(port: port, tls: (try Fixture.client(), "localhost"))
            #expect(before.tlsInfo?.peerSubject == "CN=localhost")

            try install("other.pem", "other-key.pem")
            try server.reloadCertificates()
            let after = try RawConnection(port: port).startTLS(try Fixture.client(), serverName: "www.other.test")
            #expect(after.peerSubject == "CN=other.test")
            try before.send("still here")
            #expect(before.nextMessage()?.text == "still here")

            // A broken file: reload throws, and the server goes on with what it had.
            unlink(directory + "key.pem")
            #expect(throws: TLSError.self) { try server.reloadCertificates() }
            let still = try RawConnection(port: port).startTLS(try Fixture.client(), serverName: "www.other.test")
            #expect(still.peerSubject == "CN=other.test")
        }

        @Test func reloadingAServerWithoutTLSThrows() throws {
            let (server, _) = try echoServer()
            defer { stop(server) }
            #expect(throws: WebSocketServerError.notSecured) { try server.reloadCertificates() }
        }
    }
}
