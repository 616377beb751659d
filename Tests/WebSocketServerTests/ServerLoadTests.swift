import Testing
import WebSocketCore
@testable import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

/// Server-side sockets on `port` whose descriptor is still open: ESTABLISHED or CLOSE_WAIT
/// (from /proc/net/tcp{,6}). Sockets the server closed linger in FIN_WAIT or TIME_WAIT, owned
/// by the kernel, and are not counted.
func openServerSockets(port: Int) -> Int {
    var count = 0
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let handle = fopen(file, "r") else { continue }
        defer { fclose(handle) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), handle) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = text.split(separator: " ")
            guard fields.count > 3, fields[1].contains(":") else { continue }
            let local = fields[1].split(separator: ":")
            guard let localPort = Int(local[1], radix: 16), localPort == port else { continue }
            let state = fields[3]
            if state == "01" || state == "08" { count += 1 }  // ESTABLISHED, CLOSE_WAIT
        }
    }
    return count
}

/// The descriptors this process has open (from /proc/self/fd).
func openDescriptors() -> Set<Int32> {
    var result = Set<Int32>()
    guard let directory = opendir("/proc/self/fd") else { return result }
    let own = dirfd(directory)
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if let fd = Int32(name), fd != own { result.insert(fd) }
    }
    closedir(directory)
    return result
}

extension WebSocketServerTests {
    @Suite struct BackpressureTests {
        @Test func aPeerThatNeverReadsHoldsMemoryNearTheMark() throws {
            let buffered = Recorder<Int>()
            let (server, port) = try startServer({ $0.highWaterMark = 256 << 10 }) { server in
                server.webSocket("/") { socket in
                    socket.onMessage { socket, message in
                        socket.send(message)
                        buffered.append(socket.bufferedAmount)
                    }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            // Shrink our receive buffer so the server's writes back up quickly.
            var small: Int32 = 16 << 10
            setsockopt(client.connection.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            let message = Message.binary([UInt8](repeating: 7, count: 64 << 10))
            try client.engine.send(message)
            let frame = client.engine.takeOutboundBytes()
            // Send ~32 MiB without reading; the server must stop reading rather than queue it all.
            let fd = client.connection.fd
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var sent = 0
            let deadline = now() + 3000
            outer: while sent < 32 << 20 && now() < deadline {
                var offset = 0
                while offset < frame.count {
                    let n = frame[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n > 0 { offset += n; continue }
                    if errno == EAGAIN { usleep(2000); if now() >= deadline { break outer }; continue }
                    break outer
                }
                sent += frame.count
            }
            _ = fcntl(fd, F_SETFL, flags)
            // The server paused reading, so our sends stalled far short of 32 MiB, and the
            // server's queue stayed within the mark plus one message.
            #expect(sent < 16 << 20)
            #expect(buffered.all.max() ?? 0 <= (256 << 10) + (64 << 10))
            #expect(server.metrics.bytesIn < 16 << 20)
            // Reading now drains everything, in order.
            var received = 0
            while received < sent / frame.count, let m = client.nextMessage(timeout: 3000) {
                #expect(m == message)
                received += 1
            }
            #expect(received == sent / frame.count)
        }

        @Test func closePolicyCloses1008() throws {
            let (server, port) = try startServer({ $0.highWaterMark = 64 << 10; $0.backpressure = .close }) { server in
                server.webSocket("/") { socket in
                    socket.onText { socket, _ in
                        for _ in 0..<200 { socket.send([UInt8](repeating: 1, count: 64 << 10)) }
                    }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.send("flood me")
            // Read nothing until the server has queued past the mark (12.8 MiB is more than the
            // kernel's socket buffers take), then read it all.
            #expect(eventually { server.metrics.openWebSockets == 1 && server.connections().first?.readyState == .closing })
            var sawClose: CloseFrame?
            while let event = client.next(timeout: 3000) {
                if case .close(let frame) = event { sawClose = frame; break }
            }
            #expect(sawClose?.code == .policyViolation)
        }

        @Test func asyncSendWaitsForTheDrain() async throws {
            let done = Recorder<Int>()
            let (server, port) = try startServer({ $0.highWaterMark = 128 << 10 }) { server in
                server.asyncWebSocket("/") { socket in
                    var sent = 0
                    for _ in 0..<64 {
                        do { try await socket.send([UInt8](repeating: 2, count: 32 << 10)) } catch { break }
                        sent += 1
                        #expect(socket.bufferedAmount <= (128 << 10) + (32 << 10))
                    }
                    done.append(sent)
                }
            }
            defer { stop(server) }
            let count: Int = try await Task.detached {
                let client = try TestClient(port: port)
                var count = 0
                while count < 64, client.nextMessage() != nil { count += 1 }
                return count
            }.value
            #expect(count == 64)
            #expect(eventually { done.all == [64] })
        }
    }

    @Suite struct AsyncAPITests {
        @Test func asyncEchoWithMessagesSequence() async throws {
            let (server, port) = try startServer { server in
                server.asyncWebSocket("/") { socket in
                    for await message in socket.messages {
                        if message.text == "quit" { break }
                        try? await socket.send(message)
                    }
                }
            }
            defer { stop(server) }
            let result: [String?] = try await Task.detached {
                let client = try TestClient(port: port)
                var replies: [String?] = []
                for text in ["one", "two", "three"] {
                    try client.send(text)
                    replies.append(client.nextMessage()?.text)
                }
                try client.send("quit")
                // The handler returned: the server closes with 1000.
                if case .close(let frame)? = client.next() { replies.append("closed \(frame.code?.rawValue ?? 0)") }
                return replies
            }.value
            #expect(result == ["one", "two", "three", "closed 1000"])
        }

        @Test func aResetWhileReadingIsPausedClosesTheConnection() async throws {
            let closes = Recorder<CloseEvent>()
            let (server, port) = try startServer { server in
                server.asyncWebSocket("/") { socket in
                    // Never consume: reading pauses after 16 messages.
                    closes.append(await socket.closed())
                }
            }
            defer { stop(server) }
            try await Task.detached {
                let client = try TestClient(port: port)
                for _ in 0..<40 { try client.send("unread") }
                usleep(100_000)
                client.connection.reset()
            }.value
            #expect(eventually(timeout: 3000) { closes.all == [CloseEvent(code: .abnormalClosure, reason: "", wasClean: false)] })
            #expect(eventually { server.metrics.openConnections == 0 })
        }

        @Test func slowConsumerPausesReading() async throws {
            let (server, port) = try startServer { server in
                server.asyncWebSocket("/") { socket in
                    // Consume nothing for a while.
                    try? await Task.sleep(for: .milliseconds(300))
                    var n = 0
                    for await _ in socket.messages {
                        n += 1
                        if n == 200 { try? await socket.send("got 200") }
                    }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            for i in 0..<200 { try client.send(.binary([UInt8](repeating: UInt8(i & 0xFF), count: 1000))) }
            // While the handler sleeps, 16 messages wait unconsumed and reading stops: the
            // server has read far less than the 200 KB sent.
            #expect(eventually(timeout: 250) {
                guard let connection = server.connections().first?.connection else { return false }
                return connection.loop.queue.sync { connection.isReadingPaused }
            })
            #expect(server.metrics.bytesIn < 150_000)
            let reply: String? = await Task.detached { client.nextMessage(timeout: 5000)?.text }.value
            #expect(reply == "got 200")
        }
    }

    @Suite struct BroadcastAndLimitsTests {
        @Test func broadcastReachesEveryoneOnTheRoute() throws {
            let (server, port) = try startServer { server in
                server.webSocket("/room") { _ in }
                server.webSocket("/other") { _ in }
            }
            defer { stop(server) }
            let clients = try (0..<5).map { _ in try TestClient(port: port, path: "/room") }
            let outsider = try TestClient(port: port, path: "/other")
            #expect(eventually { server.connections(path: "/room").count == 5 })
            #expect(server.broadcast(.text("to the room"), path: "/room") == 5)
            for client in clients { #expect(client.nextMessage()?.text == "to the room") }
            #expect(outsider.nextMessage(timeout: 200) == nil)
            #expect(server.broadcast(.text("everyone")) == 6)
            #expect(outsider.nextMessage()?.text == "everyone")
        }

        @Test func connectionsOverTheLimitGet503() throws {
            let (server, port) = try echoServer { $0.maxConnections = 3 }
            defer { stop(server) }
            let held = try (0..<3).map { _ in try TestClient(port: port) }
            let response = try RawConnection(port: port).exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(response.hasPrefix("HTTP/1.1 503 "))
            try held[0].send("still served")
            #expect(held[0].nextMessage()?.text == "still served")
        }

        @Test func pingFloodIsAnsweredAndOthersAreServed() throws {
            let (server, port) = try echoServer()
            defer { stop(server) }
            let flooder = try TestClient(port: port)
            let other = try TestClient(port: port)
            var batch: [UInt8] = []
            for i in 0..<5000 {
                try flooder.engine.ping([UInt8(i & 0xFF)])
                batch += flooder.engine.takeOutboundBytes()
            }
            try flooder.connection.write(batch)
            try other.send("hello")
            #expect(other.nextMessage()?.text == "hello")
            var pongs = 0
            while pongs < 5000, case .pong? = flooder.next(timeout: 3000) { pongs += 1 }
            #expect(pongs == 5000)
        }

        @Test func thousandConnectCloseCyclesLeaveNothingBehind() throws {
            let (server, port) = try echoServer()
            defer { stop(server) }
            for i in 0..<1000 {
                let client = try TestClient(port: port)
                if i % 2 == 0 {
                    try client.close()
                    _ = client.next()
                    #expect(client.waitForEOF(timeout: 2000))
                } else {
                    client.connection.reset()
                }
            }
            #expect(eventually(timeout: 5000) { server.metrics.openConnections == 0 })
            #expect(eventually(timeout: 5000) { openServerSockets(port: port) == 0 })
            #expect(server.metrics.handshakesAccepted == 1000)
        }

        @Test func thousandsOfIdleConnections() throws {
            // Raise the descriptor limit for this process if needed: each connection takes two here.
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            let wanted: rlim_t = 8192
            if limit.rlim_cur < wanted {
                limit.rlim_cur = min(wanted, limit.rlim_max)
                setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            }
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            let count = min(2000, (Int(limit.rlim_cur) - 200) / 2)
            #expect(count >= 1000, "the descriptor limit (\(limit.rlim_cur)) allows only \(count) connections")
            let (server, port) = try echoServer { $0.idlePingInterval = nil }
            defer { stop(server) }
            var clients: [TestClient] = []
            for _ in 0..<count { clients.append(try TestClient(port: port)) }
            #expect(eventually { server.metrics.openWebSockets == count })
            // All still served.
            try clients[0].send("first")
            try clients[count - 1].send("last")
            #expect(clients[0].nextMessage()?.text == "first")
            #expect(clients[count - 1].nextMessage()?.text == "last")
            clients.removeAll()
            #expect(eventually(timeout: 10_000) { server.metrics.openConnections == 0 })
        }
    }

    @Suite struct LifecycleTests {
        @Test func shutdownWaitsForAsyncHandlersAndHooks() async throws {
            let events = Recorder<String>()
            let (server, port) = try startServer { server in
                server.asyncWebSocket("/", upgrade: { _ in .accept }) { socket in
                    for await _ in socket.messages {}
                    // Cleanup after the connection closed, which shutdown must wait for.
                    try? await Task.sleep(for: .milliseconds(300))
                    events.append("handler done")
                }
            }
            let client = try await Task.detached { try TestClient(port: port) }.value
            #expect(eventually { server.metrics.openWebSockets == 1 })
            let started = now()
            async let closed: Void = Task.detached { _ = client.next() }.value  // answers the 1001
            await server.shutdown(timeout: .seconds(5))
            events.append("shutdown returned")
            await closed
            #expect(events.all == ["handler done", "shutdown returned"])
            #expect(now() - started >= 300)
        }

        @Test func shutdownCancelsHandlersStillRunningAtItsDeadline() async throws {
            let events = Recorder<String>()
            let (server, port) = try startServer { server in
                server.asyncWebSocket("/") { socket in
                    for await _ in socket.messages {}
                    // Ignores the close; stops only when cancelled.
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
                    events.append("cancelled")
                }
            }
            let client = try await Task.detached { try TestClient(port: port) }.value
            #expect(eventually { server.metrics.openWebSockets == 1 })
            let started = now()
            async let closed: Void = Task.detached { _ = client.next() }.value
            await server.shutdown(timeout: .milliseconds(400))
            await closed
            let took = now() - started
            #expect(took >= 400 && took < 3000, "shutdown took \(took) ms")
            #expect(eventually { events.all == ["cancelled"] })
        }

        @Test func gracefulShutdownSends1001AndReleasesEverything() async throws {
            let (server, port) = try echoServer()
            let clients = try await Task.detached { try (0..<4).map { _ in try TestClient(port: port) } }.value
            #expect(eventually { server.metrics.openWebSockets == 4 })
            let shutdown = Task { await server.shutdown(timeout: .seconds(2)) }
            let closes: [CloseCode?] = await Task.detached {
                clients.map { client in
                    if case .close(let frame)? = client.next() { return frame.code }  // next() answers the close
                    return nil
                }
            }.value
            await shutdown.value
            #expect(closes == [CloseCode?](repeating: .goingAway, count: 4))
            #expect(server.metrics.openConnections == 0)
            #expect(eventually { openServerSockets(port: port) == 0 })
            #expect(throws: (any Error).self) { try RawConnection(port: port) }
        }

        @Test func shutdownDropsPeersThatNeverAnswer() async throws {
            let (server, port) = try echoServer()
            let raw = try RawConnection(port: port)
            try raw.write(ClientHandshake(host: "x").serializedRequest)
            #expect(eventually { server.metrics.openWebSockets == 1 })
            let start = now()
            await server.shutdown(timeout: .milliseconds(300))
            #expect(now() - start < 2000)
            #expect(server.metrics.openConnections == 0)
        }

        @Test func adoptsASocketAcceptedElsewhere() throws {
            // Our own listener stands in for an application's HTTP server.
            let listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 8, reusePort: false)
            defer { close(listener) }
            let port = Socket.localAddress(of: listener)!.port
            let server = WebSocketServer(configuration: .init(host: "127.0.0.1", port: 0))
            server.webSocket("/ws") { socket in socket.onMessage { socket, message in socket.send(message) } }
            defer { stop(server) }
            let client = RawConnection.self
            let raw = try client.init(port: port)
            let handshake = ClientHandshake(host: "x", path: "/ws")
            try raw.write(handshake.serializedRequest + FrameHeader(opcode: .text, maskingKey: MaskingKey(1, 2, 3, 4), payloadLength: 0).encoded.bytes)
            // The "application" accepts and reads the head itself, then hands over.
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 2000)
            let accepted = accept(listener, nil, nil)
            #expect(accepted >= 0)
            usleep(50_000)
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(accepted, $0.baseAddress, $0.count, 0) }
            var parser = HTTPHeadParser()
            guard case .complete(let head, let rest) = try parser.parseRequest(Array(buffer[0..<n])) else { Issue.record("no head"); return }
            server.adopt(socket: accepted, head: head, bytes: rest)
            // The 101, then the echo of the empty text frame that was sent before the handover.
            var response: [UInt8] = []
            while response.suffix(2) != [0x81, 0x00], let chunk = raw.read(timeout: 2000), !chunk.isEmpty {
                response += chunk
            }
            let text = String(decoding: response, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols"))
            #expect(response.suffix(2) == [0x81, 0x00])
        }

        @Test func logsAndCountsHandshakes() throws {
            let lines = Recorder<String>()
            let opened = Recorder<[String: String]>()
            let ids = Recorder<UInt64>()
            let (server, port) = try startServer({
                $0.logLevel = .debug
                $0.logHandler = { level, message, metadata in
                    lines.append("\(level) \(message)")
                    if message == "WebSocket open" { opened.append(metadata) }
                }
            }) { server in
                server.webSocket("*") { socket in
                    ids.append(socket.connectionID)
                    socket.onMessage { socket, message in socket.send(message) }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.send("x")
            _ = client.nextMessage()
            let second = try TestClient(port: port)
            try second.send("y")
            _ = second.nextMessage()
            // Each connection's lines carry its id (the one the socket shows) and the peer.
            #expect(opened.all.count == 2)
            #expect(Set(opened.all.compactMap { $0["connection"] }) == Set(ids.all.map(String.init)))
            #expect(ids.all.count == 2 && ids.all[0] != ids.all[1])
            #expect(opened.all.allSatisfy { $0["peer"]?.hasPrefix("127.0.0.1:") == true && $0["path"] == "/" })
            _ = try RawConnection(port: port).exchange("GET / HTTP/1.1\r\n\r\n")
            #expect(eventually { server.metrics.handshakesRejected[400] == 1 })
            let metrics = server.metrics
            #expect(metrics.handshakesAccepted == 2)
            #expect(metrics.messagesIn == 2 && metrics.messagesOut == 2)
            #expect(metrics.bytesIn > 0 && metrics.bytesOut > 0)
            #expect(lines.all.contains("info Listening"))
            #expect(lines.all.contains("debug WebSocket open"))
            #expect(lines.all.contains("debug Handshake refused"))
        }

        @Test func runningOutOfDescriptorsBacksOffAndRecovers() throws {
            let lines = Recorder<String>()
            let (server, port) = try echoServer { $0.logHandler = { _, message, _ in lines.append(message) } }
            defer { stop(server) }
            let first = try TestClient(port: port)
            try first.send("before")
            #expect(first.nextMessage()?.text == "before")

            // Leave the process five free descriptors: two connections (a client socket and the
            // server's accepted one each), then a fifth client whose accept fails with EMFILE.
            let files = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
            var saved = rlimit()
            getrlimit(files, &saved)
            let open = openDescriptors()
            var limit = 0
            while limit - open.filter({ $0 < limit }).count < 5 { limit += 1 }
            var tight = saved
            tight.rlim_cur = rlim_t(limit)
            #expect(setrlimit(files, &tight) == 0)
            var restored = false
            defer { if !restored { setrlimit(files, &saved) } }

            let request = ClientHandshake(host: "127.0.0.1", path: "/").serializedRequest
            var waiting: [RawConnection] = []
            while waiting.count < 3, let raw = try? RawConnection(port: port) {
                try raw.write(request)
                waiting.append(raw)
                _ = eventually(timeout: 300) { lines.all.contains { $0.contains("backing off") } }
            }
            #expect(waiting.count == 3)
            #expect(lines.all.contains { $0.contains("accept failed; backing off") })
            // The connections it already had are still served.
            try first.send("during")
            #expect(first.nextMessage()?.text == "during")

            // With descriptors back, the connection that waited in the backlog is accepted and
            // answered, like the others.
            setrlimit(files, &saved)
            restored = true
            for raw in waiting {
                var response: [UInt8] = []
                while !response.suffix(4).elementsEqual([13, 10, 13, 10]), let chunk = raw.read(timeout: 3000), !chunk.isEmpty {
                    response += chunk
                }
                #expect(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101 "))
            }
        }

        @Test func reusePortLetsTwoServersShareAPort() throws {
            let (a, port) = try echoServer { $0.reusePort = true }
            defer { stop(a) }
            let b = WebSocketServer(configuration: {
                var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: port)
                configuration.reusePort = true
                return configuration
            }())
            b.webSocket("*") { socket in socket.onMessage { socket, message in socket.send(message) } }
            #expect(try b.start().port == port)
            defer { stop(b) }
            // Without SO_REUSEPORT the port is taken.
            let c = WebSocketServer(configuration: .init(host: "127.0.0.1", port: port))
            #expect(throws: SystemError.self) { try c.start() }
            for _ in 0..<4 {
                let client = try TestClient(port: port)
                try client.send("shared")
                #expect(client.nextMessage()?.text == "shared")
            }
        }

        @Test func adoptsASocketWithRawBytes() throws {
            let listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 8, reusePort: false)
            defer { close(listener) }
            let port = Socket.localAddress(of: listener)!.port
            let server = WebSocketServer(configuration: .init(host: "127.0.0.1", port: 0))
            server.webSocket("/ws") { socket in socket.send("adopted") }
            defer { stop(server) }
            let raw = try RawConnection(port: port)
            let request = ClientHandshake(host: "x", path: "/ws").serializedRequest
            try raw.write(request)
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 2000)
            let accepted = accept(listener, nil, nil)
            usleep(50_000)
            // The application read only part of the head before handing over.
            var buffer = [UInt8](repeating: 0, count: 10)
            let n = buffer.withUnsafeMutableBytes { recv(accepted, $0.baseAddress, $0.count, 0) }
            server.adopt(socket: accepted, bytes: Array(buffer[0..<n]))
            var response: [UInt8] = []
            while !String(decoding: response, as: UTF8.self).hasSuffix("adopted"), let chunk = raw.read(timeout: 2000), !chunk.isEmpty {
                response += chunk
            }
            let text = String(decoding: response, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols"))
            #expect(response.suffix(9) == [0x81, 0x07] + Array("adopted".utf8))
        }

        @Test func twoServersInOneProcess() throws {
            let (a, portA) = try echoServer()
            let (b, portB) = try echoServer()
            defer { stop(a); stop(b) }
            #expect(portA != portB)
            let ca = try TestClient(port: portA), cb = try TestClient(port: portB)
            try ca.send("a"); try cb.send("b")
            #expect(ca.nextMessage()?.text == "a")
            #expect(cb.nextMessage()?.text == "b")
        }
    }
}
