import Testing
import WebSocketCore
@testable import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

extension WebSocketServerTests {
    /// What a server owes the services around it: a run() that a task group or
    /// swift-service-lifecycle can cancel, and counters in Prometheus's format.
    @Suite struct OperationsTests {
        @Test func runServesUntilItsTaskIsCancelledThenShutsDownGracefully() async throws {
            var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 0)
            configuration.loopCount = 1
            let server = WebSocketServer(configuration: configuration)
            server.webSocket("*") { socket in socket.onMessage { socket, message in socket.send(message) } }
            let running = Task { try await server.run(shutdownTimeout: .seconds(2)) }
            #expect(eventually { server.localAddress != nil })
            let client = try TestClient(port: server.localAddress!.port)
            try client.send("before the cancel")
            #expect(client.nextMessage()?.text == "before the cancel")
            running.cancel()
            // The client is told the server is going away, answers, and run() returns.
            guard case .close(let frame)? = client.next() else {
                Issue.record("no Close from the shutdown")
                return
            }
            #expect(frame.code == .goingAway)
            try await running.value
            #expect(server.metrics.openConnections == 0)
        }

        @Test func runReturnsWhenTheServerIsShutDownOtherwise() async throws {
            let server = WebSocketServer(configuration: .init(host: "127.0.0.1", port: 0))
            let running = Task { try await server.run() }
            #expect(eventually { server.localAddress != nil })
            await server.shutdown(timeout: .seconds(1))
            try await running.value
        }

        @Test func runThrowsWhatStartThrows() async throws {
            let first = WebSocketServer(configuration: .init(host: "127.0.0.1", port: 0))
            let address = try first.start()
            defer { stop(first) }
            let second = WebSocketServer(configuration: .init(host: "127.0.0.1", port: address.port))
            await #expect(throws: SystemError.self) { try await second.run() }
        }

        @Test func theCountersReadAsPrometheusText() throws {
            let (server, port) = try startServer({ $0.highWaterMark = 1 }) { server in
                server.webSocket("/ws") { socket in socket.onMessage { socket, message in socket.send(message) } }
            }
            defer { stop(server) }
            let client = try TestClient(port: port, path: "/ws")
            try client.send("one")
            #expect(client.nextMessage()?.text == "one")
            try client.close(code: .goingAway)
            #expect(client.waitForEOF())
            _ = try RawConnection(port: port).exchange("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(eventually { server.metrics.closes[1001] == 1 && server.metrics.handshakesRejected[404] == 1 })
            let text = server.metrics.prometheusText()
            let samples = Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init))
            for sample in ["websocket_handshakes_accepted_total 1", "websocket_handshakes_rejected_total{status=\"404\"} 1",
                           "websocket_messages_total{direction=\"in\"} 1", "websocket_messages_total{direction=\"out\"} 1",
                           "websocket_closes_total{code=\"1001\"} 1", "websocket_open_websockets 0"] {
                #expect(samples.contains(sample), "missing \(sample) in:\n\(text)")
            }
            // Every sample has its HELP and TYPE lines, and every TYPE is a known one.
            let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
            #expect(types.count == text.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.count)
            #expect(types.allSatisfy { $0.hasSuffix(" gauge") || $0.hasSuffix(" counter") })
            // An echo with a high-water mark of 1 byte pauses reading at its first reply.
            #expect(server.metrics.backpressurePauses >= 1)
        }

        /// permessage-deflate's work is counted both ways: 100 KiB of repeated text shrinks to a
        /// small fraction, and what the client compressed is counted as it is inflated.
        @Test func compressionIsCountedBothWays() throws {
            let (server, port) = try startServer({ $0.extensions = [PerMessageDeflate()] }) { server in
                server.webSocket("/ws") { socket in socket.onMessage { socket, message in socket.send(message) } }
            }
            defer { stop(server) }
            let client = try TestClient(port: port, path: "/ws", extensions: [PerMessageDeflate.clientOffer()])
            let text = String(repeating: "the same words again and again, ", count: 3200)  // 102,400 bytes
            try client.send(text)
            #expect(client.nextMessage()?.text == text)
            let metrics = server.metrics
            #expect(metrics.bytesBeforeDeflate == 102_400)
            #expect(metrics.bytesAfterInflate == 102_400)
            #expect(metrics.bytesAfterDeflate > 0 && metrics.bytesAfterDeflate < 2_000)
            #expect(metrics.bytesBeforeInflate > 0 && metrics.bytesBeforeInflate < 2_000)
            #expect(try #require(metrics.compressionRatio) < 0.02)
            let samples = server.metrics.prometheusText().split(separator: "\n")
            #expect(samples.contains("websocket_compression_input_bytes_total{direction=\"out\"} 102400"))
            #expect(samples.contains("websocket_compression_output_bytes_total{direction=\"in\"} 102400"))
        }
    }
}
