import Dispatch
import Glibc
import Testing
import WebSocketCore
@testable import WebSocketServer

extension WebSocketServerTests {
    /// `onMessageView` and `send(_:kind:)`: messages lent from the read buffer, replies laid out
    /// in the loop's cork buffer, and the order of everything around them.
    @Suite struct MessageViewTests {
        /// Echoes with views.
        static func viewEchoServer() throws -> (WebSocketServer, Int) {
            try startServer { server in
                server.webSocket("*") { socket in
                    socket.onMessageView { socket, kind, bytes in socket.send(bytes, kind: kind) }
                }
            }
        }

        /// One write of messages of every kind and size (whole ones the engine lends, fragmented
        /// ones it puts together, some larger than the cork buffer) with Pings between them: the
        /// echoes come back whole and in order, the Pongs in their place, and once all is
        /// written the socket's `bufferedAmount` is back to zero.
        @Test func viewEchoKeepsEveryMessageWholeAndInOrder() throws {
            let (server, port) = try MessageViewTests.viewEchoServer()
            defer { stop(server) }
            let client = try TestClient(port: port)
            var rng = SystemRandomNumberGenerator()
            var expected: [WebSocketEngine.Event] = []
            for i in 0..<400 {
                let size = i % 50 == 0 ? 40_000 : Int.random(in: 0...3000, using: &rng)
                let message: Message = i % 2 == 0
                    ? .text(String(repeating: "é", count: size / 2))
                    : .binary((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) })
                try client.engine.send(message, fragmentSize: i % 7 == 0 ? 500 : nil)
                expected.append(.message(message))
                if i % 13 == 0 {
                    try client.engine.ping([UInt8(i % 256)])
                    expected.append(.pong([UInt8(i % 256)]))
                }
            }
            let batch = client.engine.takeOutboundBytes()
            #expect(batch.count > 4 * CorkBuffer.capacity)
            try client.connection.write(batch)
            var received: [WebSocketEngine.Event] = []
            while received.count < expected.count, let event = client.next() { received.append(event) }
            // Where they first differ, rather than megabytes of both.
            #expect(received.count == expected.count)
            #expect(received.indices.first { $0 < expected.count && received[$0] != expected[$0] } == nil)
            #expect(eventually { server.connections().first?.bufferedAmount == 0 })
        }

        /// The capacity of the spare message array on `socket`'s loop.
        static func spareCapacity(_ socket: WebSocket) -> Int {
            let loop = socket.connection.loop
            return loop.queue.sync { loop.spareMessageStorage.capacity }
        }

        /// Messages larger than a read (the loop reads 64 KiB at a time) are put together in
        /// an array that, when only a view saw the message, the loop keeps for the next one,
        /// on any of its connections: two clients' messages of 100-300 KB, taking turns, all
        /// come back whole. The array goes at the first tick after large messages stop.
        @Test func aViewedMessagesArrayServesTheNextAndGoesWhenTheyStop() throws {
            let (server, port) = try startServer({ $0.loopCount = 1; $0.timerResolution = .milliseconds(250) }) { server in
                server.webSocket("*") { socket in
                    socket.onMessageView { socket, kind, bytes in socket.send(bytes, kind: kind) }
                }
            }
            defer { stop(server) }
            let clients = [try TestClient(port: port), try TestClient(port: port)]
            for i in 0..<12 {
                let size = 100_000 + (i % 3) * 100_000
                let message = Message.binary((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ i) })
                try clients[i % 2].send(message)
                clients[i % 2].expectMessages([message])
            }
            let socket = try #require(server.connections().first)
            #expect(MessageViewTests.spareCapacity(socket) >= 300_000)
            #expect(eventually(timeout: 2000) { MessageViewTests.spareCapacity(socket) == 0 })
        }

        /// A message that `onMessage` was given may be kept by the application: its array is not
        /// taken for the next one.
        @Test func anOwnedMessagesArrayIsNotReused() throws {
            let kept = Recorder<Message>()
            let (server, port) = try startServer({ $0.loopCount = 1 }) { server in
                server.webSocket("*") { socket in
                    socket.onMessage { socket, message in
                        kept.append(message)
                        socket.send(message)
                    }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            let messages = (0..<3).map { i in Message.binary([UInt8](repeating: UInt8(i), count: 150_000)) }
            for message in messages {
                try client.send(message)
                client.expectMessages([message])
            }
            #expect(kept.all == messages)
            let socket = try #require(server.connections().first)
            #expect(MessageViewTests.spareCapacity(socket) == 0)
        }

        /// A handler that sets another handler while messages of the same read wait: the next
        /// message goes to the new one (the delivery loop holds the view handler across the
        /// messages of a read, and must notice the change).
        @Test func aHandlerSetDuringAReadTakesTheNextMessage() throws {
            let seen = Recorder<String>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in
                    socket.onMessageView { socket, _, bytes in
                        seen.append("first \(bytes.count)")
                        socket.onMessageView { socket, _, bytes in
                            seen.append("second \(bytes.count)")
                            socket.onMessageView { _, _, _ in seen.append("none") }
                            socket.onMessage { _, message in seen.append("owned \(message.data.count)") }
                        }
                    }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            for size in 1...4 { try client.engine.send(.binary([UInt8](repeating: 0, count: size))) }
            try client.connection.write(client.engine.takeOutboundBytes())  // one write: usually one read
            #expect(eventually { seen.all.count == 7 })
            // `onMessage`, set during the view of message 2, is given message 2 as well: it runs
            // after the view handler.
            #expect(seen.all == ["first 1", "second 2", "owned 2", "none", "owned 3", "none", "owned 4"])
        }

        /// With both handlers set, each message reaches the view first, then `onMessage`, with
        /// the same bytes, whether it was lent or put together from fragments.
        @Test func viewAndOwnedHandlersSeeTheSameMessagesInTurn() throws {
            let seen = Recorder<String>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in
                    socket.onMessageView { _, kind, bytes in
                        seen.append("view \(kind) \(bytes.withUnsafeBufferPointer { Array($0) })")
                    }
                    socket.onMessage { _, message in seen.append("owned \(message.kind) \(message.data)") }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.send(.binary([1, 2, 3]))
            try client.send(.text("abc"), fragmentSize: 1)
            try client.send(.binary([]))
            #expect(eventually { seen.all.count == 6 })
            #expect(seen.all == ["view binary [1, 2, 3]", "owned binary [1, 2, 3]", "view text [97, 98, 99]", "owned text [97, 98, 99]",
                                 "view binary []", "owned binary []"])
        }

        /// Replies that go through the cork buffer and replies the engine has to encode (here,
        /// compressed) leave in the order they were sent, and a reply sent just before
        /// `close()` leaves before the Close.
        @Test func repliesKeepTheirOrderAcrossTheCorkAndTheEngine() throws {
            let (server, port) = try startServer({ $0.extensions = [PerMessageDeflate()] }) { server in
                server.webSocket("/") { socket in
                    socket.onMessageView { socket, kind, bytes in
                        let text = bytes.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
                        if text == "bye" {
                            socket.send(bytes, kind: kind, compress: false)
                            try? socket.close(code: .goingAway, reason: "done")
                            return
                        }
                        socket.send(bytes, kind: kind, compress: false)
                        socket.send(.text("compressed " + text), compress: true)
                        socket.send(bytes, kind: kind, compress: false)
                    }
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port, extensions: [PerMessageDeflate.clientOffer()])
            var batch: [UInt8] = []
            for i in 0..<50 {
                try client.engine.send(.text("m\(i)"), compress: false)
                batch += client.engine.takeOutboundBytes()
            }
            try client.engine.send(.text("bye"), compress: false)
            try client.connection.write(batch + client.engine.takeOutboundBytes())
            for i in 0..<50 {
                #expect(client.nextMessage()?.text == "m\(i)")
                #expect(client.nextMessage()?.text == "compressed m\(i)")
                #expect(client.nextMessage()?.text == "m\(i)")
            }
            #expect(client.nextMessage()?.text == "bye")
            #expect(client.next() == .close(CloseFrame(code: .goingAway, reason: "done")))
        }

        /// A reply too large for the cork buffer, written straight from the handler's view,
        /// leaves after the small replies of the same read that wait in the cork buffer.
        @Test func aLargeReplyLeavesAfterTheSmallOnesBeforeIt() throws {
            let (server, port) = try MessageViewTests.viewEchoServer()
            defer { stop(server) }
            let client = try TestClient(port: port)
            var expected: [Message] = []
            for i in 0..<40 {
                let small = Message.text("small \(i)")
                let large = Message.binary((0..<(CorkBuffer.capacity + 1000 + i)).map { UInt8(truncatingIfNeeded: $0 &+ i) })
                try client.engine.send(small)
                try client.engine.send(large)
                expected += [small, large]
            }
            try client.connection.write(client.engine.takeOutboundBytes())
            client.expectMessages(expected)
        }

        /// Replies too large for the cork buffer go from the handler's view straight to the
        /// socket; what the socket cannot take (the client reads nothing for a while) waits in
        /// the write queue, copied, and once the client reads, every reply arrives whole and in
        /// order, the small ones between them included, and `bufferedAmount` goes back to zero.
        @Test func largeViewRepliesWaitWholeWhenTheSocketIsFull() throws {
            let (server, port) = try MessageViewTests.viewEchoServer()
            defer { stop(server) }
            let client = try TestClient(port: port)
            var expected: [Message] = []
            for i in 0..<24 {
                let size = i % 3 == 2 ? 20 : 700_000 + i
                let message = Message.binary((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) })
                try client.engine.send(message)
                expected.append(message)
            }
            let batch = client.engine.takeOutboundBytes()
            let fd = client.connection.fd
            let written = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                var offset = 0
                while offset < batch.count {
                    let n = batch[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { break }
                    offset += n
                }
                written.signal()
            }
            // Nothing is read yet, so replies back up on the server.
            #expect(eventually { (server.connections().first?.bufferedAmount ?? 0) > 1_000_000 })
            client.expectMessages(expected)
            written.wait()
            #expect(eventually { server.connections().first?.bufferedAmount == 0 })
        }

        /// A view sent from another thread is copied before the call returns, and sent.
        @Test func aViewSentFromAnotherThreadIsCopied() throws {
            let (server, port) = try MessageViewTests.viewEchoServer()
            defer { stop(server) }
            let client = try TestClient(port: port)
            try client.send("ready")
            #expect(client.nextMessage()?.text == "ready")
            let socket = try #require(server.connections().first)
            var bytes = Array("from elsewhere".utf8)
            #expect(socket.send(bytes.span, kind: .text) == .queued)
            bytes.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }  // the caller's bytes change after the call
            #expect(client.nextMessage()?.text == "from elsewhere")
        }
    }
}
