import Testing
@testable import WebSocketCore
@testable import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

/// This process's resident memory in bytes (from /proc/self/statm).
func residentBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var size = 0, resident = 0
    _ = withUnsafeMutablePointer(to: &size) { s in withUnsafeMutablePointer(to: &resident) { r in
        withVaList([s, r]) { vfscanf(file, "%ld %ld", $0) }
    } }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A masked client frame, built by hand so that tests can send what no engine would.
func rawClientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
    var header = FrameHeader(fin: fin, reservedBits: ReservedBits(rawValue: rsv), opcode: .continuation,
                             maskingKey: MaskingKey(1, 2, 3, 4), payloadLength: payload.count)
    header.opcodeValue = opcode
    var masked = payload
    MaskingKey(1, 2, 3, 4).apply(to: &masked)
    return header.encoded.bytes + masked
}

extension RawConnection {
    /// Writes without blocking until `stop` says so or the socket stays full for `stall` ms;
    /// returns how many times `frame` went out whole.
    func flood(_ frame: (Int) -> [UInt8], for milliseconds: Int, stall: Int = 300) -> Int {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        let deadline = now() + milliseconds
        var sent = 0
        var lastProgress = now()
        outer: while now() < deadline {
            let bytes = frame(sent)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 { offset += n; lastProgress = now(); continue }
                guard errno == EAGAIN else { break outer }
                if now() - lastProgress > stall { break outer }
                usleep(1000)
            }
            sent += 1
        }
        return sent
    }

}

extension WebSocketServerTests {
    /// Issue: nothing lost, nothing unbounded.
    @Suite struct StreamOrderTests {
        @Test("A reply to a message leaves before the Close that followed it in the same write", arguments: [
            ("Close 1000", rawClientFrame(0x8, [0x03, 0xE8]), CloseCode.normalClosure),
            ("reserved opcode", rawClientFrame(0x3, []), .protocolError),
            ("reserved bits", rawClientFrame(0x1, Array("x".utf8), rsv: 0x40), .protocolError),
            ("stray continuation", rawClientFrame(0x0, Array("x".utf8)), .protocolError),
            ("invalid UTF-8", rawClientFrame(0x1, [0xFF]), .invalidPayloadData),
        ])
        func replyBeforeClose(name: String, second: [UInt8], code: CloseCode) throws {
            let results = Recorder<SendResult>()
            let states = Recorder<ReadyState>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in
                    socket.onMessage { socket, message in
                        states.append(socket.readyState)
                        results.append(socket.send(message))
                    }
                    socket.onClose { socket, _ in results.append(socket.send("too late")) }
                }
            }
            defer { stop(server) }
            for first in [rawClientFrame(0x1, Array("hello".utf8)),
                          rawClientFrame(0x1, Array("hel".utf8), fin: false) + rawClientFrame(0x0, Array("lo".utf8))] {
                let client = try TestClient(port: port)
                try client.connection.write(first + second)
                #expect(client.next() == .message(.text("hello")), "\(name)")
                guard case .close(let frame)? = client.next() else {
                    Issue.record("\(name): no Close after the echo")
                    continue
                }
                #expect(frame.code == code, "\(name)")
                #expect(client.waitForEOF())
            }
            #expect(eventually { results.all.count == 4 })
            // The send in onMessage was queued (the socket was open); the one in onClose was dropped.
            #expect(results.all == [.queued, .dropped, .queued, .dropped])
            #expect(states.all == [.open, .open])
        }

        @Test func readyStateAndSendAgreeAfterTheClose() throws {
            let seen = Recorder<String>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in
                    socket.onClose { socket, _ in
                        seen.append("\(socket.readyState) \(socket.send("x")) \(socket.send([1, 2]))")
                    }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.close()
            #expect(client.waitForEOF())
            #expect(eventually { seen.all == ["closed dropped dropped"] })
        }
    }

    @Suite struct WriteQueueTests {
        @Test func drainingHalfAMillionQueuedFramesLeavesTheLoopResponsive() async throws {
            // 500,000 frames of 18 bytes: 9 MB, more than the kernel's socket buffers hold, so
            // most of it waits in the server's queue. They are sent from one callback, where
            // writes are corked, so all of them are queued before the first is written.
            let frames = 500_000, frameSize = 18
            let queued = Recorder<Int>()
            let (server, port) = try startServer({ $0.loopCount = 1; $0.backpressure = .report }) { server in
                server.webSocket("/flood") { socket in
                    socket.onMessage { socket, _ in
                        for i in 0..<frames { socket.send([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: frameSize - 2)) }
                        queued.append(socket.connection.queuedCost)
                    }
                }
                server.webSocket("/echo") { socket in socket.onMessage { socket, message in socket.send(message) } }
            }
            defer { stop(server) }
            let flooded = try TestClient(port: port, path: "/flood")
            try flooded.send("go")
            #expect(eventually(timeout: 20_000) { !queued.all.isEmpty })
            #expect(queued.all.first ?? 0 >= frames * frameSize / 2)
            let other = try TestClient(port: port, path: "/echo")
            // Read the flood (3 bytes a frame) on another thread while the other client echoes.
            let reader = Task.detached { () -> Int in
                var total = 0
                while total < frames * frameSize, let chunk = flooded.connection.read(timeout: 5000), !chunk.isEmpty { total += chunk.count }
                return total
            }
            var slowest = 0
            for i in 0..<50 {
                let start = now()
                try other.send("ping \(i)")
                #expect(other.nextMessage()?.text == "ping \(i)")
                slowest = max(slowest, now() - start)
                usleep(2000)
            }
            #expect(await reader.value == frames * frameSize)
            #expect(slowest < 100, "an echo on the same loop took \(slowest) ms while the queue drained")
        }
    }

    @Suite struct FloodTests {
        static let mark = 64 << 10

        /// Starts an echo server with a small mark, opens a client that never reads, floods it
        /// with `frame`, and returns what the server's queue holds then, with the server.
        func flood(policy: BackpressurePolicy = .pauseReading, _ frame: @escaping (Int) -> [UInt8]) throws
            -> (server: WebSocketServer, client: TestClient, sent: Int, queued: Int, growth: Int) {
            let (server, port) = try echoServer { $0.highWaterMark = FloodTests.mark; $0.backpressure = policy }
            // A small receive buffer, set before connecting, makes the server's writes back up soon.
            let client = try TestClient(port: port, receiveBuffer: 16 << 10)
            let before = residentBytes()
            let sent = client.connection.flood(frame, for: 1500)
            #expect(eventually { server.connections().count == 1 })
            let connection = try #require(server.connections().first).connection
            // Let the server take what the kernel holds, then look at its queue on its own queue.
            usleep(200_000)
            let (queued, backlog) = connection.loop.queue.sync { (connection.queuedCost, connection.engine.pendingEventCount) }
            #expect(backlog <= WebSocketEngine.maxEventBacklog)
            return (server, client, sent, queued, residentBytes() - before)
        }

        @Test func aPingFloodFromAPeerThatNeverReadsIsBounded() throws {
            let ping = { (i: Int) in rawClientFrame(0x9, withUnsafeBytes(of: UInt32(i).bigEndian, Array.init) + [UInt8](repeating: 0, count: 121)) }
            let run = try flood(ping)
            defer { stop(run.server) }
            // One Pong (127 bytes and the per-item overhead) past the mark at most.
            #expect(run.queued <= FloodTests.mark + 127 + WriteQueue.itemOverhead)
            #expect(run.growth < 32 << 20, "RSS grew by \(run.growth) bytes")
            // Reading the Pongs lets the server go on; the last Pong answers the last Ping.
            let last = withUnsafeBytes(of: UInt32(run.sent - 1).bigEndian, Array.init) + [UInt8](repeating: 0, count: 121)
            var sawLast = false
            while let event = run.client.next(timeout: 3000) {
                if case .pong(let payload) = event, payload == last { sawLast = true; break }
            }
            #expect(sawLast)
        }

        @Test func aPingFloodIsBoundedWithoutPausingToo() throws {
            let ping = { (i: Int) in rawClientFrame(0x9, [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 125)) }
            let run = try flood(policy: .report, ping)
            defer { stop(run.server) }
            #expect(run.queued <= FloodTests.mark + 127 + WriteQueue.itemOverhead)
            // Reading never paused: the server took far more than its mark of Pings.
            #expect(run.server.metrics.bytesIn > 8 * FloodTests.mark)
            #expect(run.growth < 32 << 20, "RSS grew by \(run.growth) bytes")
        }

        @Test("Floods of small messages to an echo stop at the mark", arguments: [0, 1, 16])
        func smallMessages(size: Int) throws {
            let message = rawClientFrame(0x2, [UInt8](repeating: 7, count: size))
            let run = try flood { _ in message }
            defer { stop(run.server) }
            // One echo (its frame and the overhead) past the mark at most.
            #expect(run.queued <= FloodTests.mark + 2 + size + WriteQueue.itemOverhead, "size \(size)")
            #expect(run.growth < 32 << 20, "RSS grew by \(run.growth) bytes")
            // Reading paused: what the server took is bounded by its queue and one read, not the flood.
            #expect(run.server.metrics.bytesIn < run.sent * message.count)
            // Everything sent comes back, in order, once the client reads.
            var echoed = 0
            while echoed < run.sent, let m = run.client.nextMessage(timeout: 3000) {
                #expect(m.data.count == size)
                echoed += 1
            }
            #expect(echoed == run.sent)
        }
    }

    @Suite struct UnfinishedMessageBudgetTests {
        @Test func theConnectionThatPassesTheBudgetGets1013AndTheOthersGoOn() throws {
            let (server, port) = try echoServer { $0.maxUnfinishedMessageBytes = 1 << 20 }
            defer { stop(server) }
            let piece = [UInt8](repeating: 9, count: 200_000)
            var clients: [TestClient] = []
            var refused: TestClient?
            for _ in 0..<12 {
                let client = try TestClient(port: port)
                try client.connection.write(rawClientFrame(0x2, piece, fin: false))
                if case .close(let frame)? = client.next(timeout: 200) {
                    #expect(frame.code == .tryAgainLater)
                    refused = client
                    break
                }
                #expect(server.core.unfinishedMessageBytes.load(ordering: .relaxed) <= 1 << 20)
                clients.append(client)
            }
            #expect(refused != nil)
            #expect(clients.count >= 2)
            #expect(refused?.waitForEOF() == true)
            refused = nil
            // The others finish their messages and get them back whole.
            for client in clients {
                try client.connection.write(rawClientFrame(0x0, [1]))
                #expect(client.nextMessage()?.data.count == piece.count + 1)
            }
            #expect(eventually { server.core.unfinishedMessageBytes.load(ordering: .relaxed) == 0 })
            clients.removeAll()
            #expect(eventually { server.metrics.openConnections == 0 })
            #expect(server.core.unfinishedMessageBytes.load(ordering: .relaxed) == 0)
        }

        @Test func compressedUnfinishedMessagesCountAsInflated() throws {
            let (server, port) = try echoServer {
                $0.extensions = [PerMessageDeflate()]
                $0.maxUnfinishedMessageBytes = 4 << 20  // one inflated message fits, two do not
            }
            defer { stop(server) }
            // 3 MiB of zeros deflate to about 3 KiB: a small frame that holds a lot once inflated.
            var deflater = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: PerMessageDeflate.Agreement(
                serverNoContextTakeover: true, clientNoContextTakeover: true, serverWindowBits: 15, clientWindowBits: 15, perFrame: false), role: .client))
            try deflater.send(.binary([UInt8](repeating: 0, count: 3 << 20)), compress: true)
            let frames = deflater.takeOutbound()
            var unfinished = frames[0].header.bytes + frames[0].payload
            unfinished[0] &= 0x7F  // FIN off: the message never ends
            #expect(unfinished.count < 8 << 10)
            let first = try TestClient(port: port, extensions: [PerMessageDeflate.clientOffer(serverNoContextTakeover: true, clientNoContextTakeover: true)])
            try first.connection.write(unfinished)
            #expect(eventually { server.core.unfinishedMessageBytes.load(ordering: .relaxed) >= 3 << 20 })
            let second = try TestClient(port: port, extensions: [PerMessageDeflate.clientOffer(serverNoContextTakeover: true, clientNoContextTakeover: true)])
            try second.connection.write(unfinished)
            guard case .close(let frame)? = second.next() else { Issue.record("no Close"); return }
            #expect(frame.code == .tryAgainLater)
            // The first connection still works, and still holds its message.
            try first.ping([5])
            #expect(first.next() == .pong([5]))
            #expect(server.core.unfinishedMessageBytes.load(ordering: .relaxed) >= 3 << 20)
        }
    }

    @Suite struct StrictHTTPTests {
        static let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

        func server() throws -> (WebSocketServer, Int) {
            try startServer { server in
                server.webSocket("/chat") { socket in socket.onMessage { socket, message in socket.send(message) } }
                server.http("/page") { _ in .text(200, "page") }
            }
        }

        @Test func anUpgradeWithABodyGets400AndTheBodyIsNotRead() throws {
            let (server, port) = try server()
            defer { stop(server) }
            let frame = rawClientFrame(0x1, Array("smuggled".utf8))
            for field in ["Content-Length: \(frame.count)", "Transfer-Encoding: chunked"] {
                let connection = try RawConnection(port: port)
                try connection.write(Array("GET /chat HTTP/1.1\r\nHost: x\r\n\(StrictHTTPTests.upgrade)\(field)\r\n\r\n".utf8) + frame)
                let response = String(decoding: connection.readToEnd().bytes, as: UTF8.self)
                #expect(response.hasPrefix("HTTP/1.1 400 "), "\(field)")
                #expect(!response.contains("smuggled"))
            }
        }

        @Test func versionsOtherThanHTTP1Get505() throws {
            let (server, port) = try server()
            defer { stop(server) }
            for request in ["GET /chat HTTP/2.0\r\nHost: x\r\n\(StrictHTTPTests.upgrade)\r\n", "GET /page HTTP/9.9\r\nHost: x\r\n\r\n",
                            "GET /nowhere HTTP/2.0\r\nHost: x\r\n\r\n"] {
                #expect(try RawConnection(port: port).exchange(request).hasPrefix("HTTP/1.1 505 "), "\(request)")
            }
        }

        @Test func absoluteFormAndLeadingEmptyLinesReachTheRoute() throws {
            let (server, port) = try server()
            defer { stop(server) }
            for request in ["GET http://x:1/chat HTTP/1.1\r\nHost: x\r\n\(StrictHTTPTests.upgrade)\r\n",
                            "\r\n\r\nGET /chat HTTP/1.1\r\nHost: x\r\n\(StrictHTTPTests.upgrade)\r\n"] {
                let connection = try RawConnection(port: port)
                try connection.write(request)
                let response = String(decoding: connection.read() ?? [], as: UTF8.self)
                #expect(response.hasPrefix("HTTP/1.1 101 "), "\(request)")
            }
            #expect(try RawConnection(port: port).exchange("GET http://x/page?q HTTP/1.1\r\nHost: x\r\n\r\n").hasSuffix("\r\n\r\npage"))
        }

        @Test func missingEmptyRepeatedOrMalformedHostGets400() throws {
            let (server, port) = try server()
            defer { stop(server) }
            for host in ["", "Host: \r\n", "Host: a\r\nHost: b\r\n", "Host: a b\r\n", "Host: a/b\r\n"] {
                for path in ["/chat", "/page", "/nowhere"] {
                    let extra = path == "/chat" ? StrictHTTPTests.upgrade : ""
                    let response = try RawConnection(port: port).exchange("GET \(path) HTTP/1.1\r\n\(host)\(extra)\r\n")
                    #expect(response.hasPrefix("HTTP/1.1 400 "), "\(path) \(host)")
                }
            }
        }
    }
}
