import Testing
import WebSocketCore
@testable import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

extension WebSocketServerTests {
    /// HTTP/1.1 keep-alive on plain routes (RFC 9112 §9.3): several requests on one connection,
    /// pipelined requests answered in order, `Connection: close`, the idle timeout, the request
    /// limit, and a bound on what a peer that pipelines without reading can make the server hold.
    @Suite struct KeepAliveTests {
        func server(_ configure: (inout WebSocketServer.Configuration) -> Void = { _ in }) throws -> (WebSocketServer, Int) {
            try startServer(configure) { server in
                server.http("/n/:number") { _, parameters in .text(200, parameters["number"] ?? "?") }
                server.http("/big") { _ in HTTPResponse(status: 200, body: [UInt8](repeating: 0x61, count: 64 << 10)) }
                server.webSocket("/ws") { socket in socket.send("open") }
                server.webSocket("/echo") { socket in socket.onMessage { socket, message in socket.send(message) } }
            }
        }

        func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nHost: x\r\n\(extra)\r\n" }

        /// Reads until `count` complete responses have arrived (bodies by `Content-Length`), or
        /// the timeout; returns them with whether the server then closed.
        func responses(_ connection: RawConnection, count: Int, timeout: Int = 5000) throws -> (heads: [HTTPResponseHead], bodies: [String]) {
            var heads: [HTTPResponseHead] = [], bodies: [String] = []
            var buffered: [UInt8] = []
            let deadline = now() + timeout
            while heads.count < count {
                var parser = HTTPHeadParser()
                guard case .complete(let head, let rest) = try parser.parseResponse(buffered) else {
                    guard now() < deadline, let more = connection.read(timeout: 100) else { throw TestError("\(heads.count) of \(count) responses") }
                    buffered += more
                    continue
                }
                let length = Int(head.headers["Content-Length"] ?? "0") ?? 0
                guard rest.count >= length else {
                    guard now() < deadline, let more = connection.read(timeout: 100) else { throw TestError("a body cut short") }
                    buffered += more
                    continue
                }
                heads.append(head)
                bodies.append(String(decoding: rest[..<length], as: UTF8.self))
                buffered = Array(rest[length...])
            }
            #expect(buffered.isEmpty, "bytes after the last response")
            return (heads, bodies)
        }

        @Test func severalRequestsThenAnUpgradeShareOneConnection() throws {
            let (server, port) = try server()
            defer { stop(server) }
            let connection = try RawConnection(port: port)
            for number in 1...3 {
                try connection.write(get("/n/\(number)"))
                let answer = try responses(connection, count: 1)
                #expect(answer.bodies == ["\(number)"])
                #expect(answer.heads[0].headers["Connection"] == nil)
            }
            try connection.write(get("/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"))
            var parser = HTTPHeadParser()
            var received: [UInt8] = []
            while true {
                received += try #require(connection.read())
                if case .complete(let head, _) = try parser.parseResponse(received) {
                    #expect(head.status == 101)
                    break
                }
            }
            #expect(server.metrics.httpResponses == 3)
        }

        /// A page request, an upgrade and a first WebSocket frame in one write: the frame behind
        /// the pipelined upgrade reaches the WebSocket.
        @Test func aPipelinedUpgradeKeepsTheFrameBehindIt() throws {
            let (server, port) = try server()
            defer { stop(server) }
            let connection = try RawConnection(port: port)
            let upgrade = get("/echo", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
            var client = WebSocketEngine(role: .client)
            try client.send(.text("behind the upgrade"))
            try connection.write(Array((get("/n/7") + upgrade).utf8) + client.takeOutboundBytes())
            // The 200, then the 101, then the echo, in as many reads as they take.
            var received: [UInt8] = []
            var heads: [HTTPResponseHead] = []
            while heads.count < 2 {
                let chunk = try #require(connection.read())
                try #require(!chunk.isEmpty, "nothing for 5 s")
                received += chunk
                var first = HTTPHeadParser(), second = HTTPHeadParser()
                guard case .complete(let page, let rest) = try first.parseResponse(received) else { continue }
                let length = Int(page.headers["Content-Length"] ?? "0") ?? 0
                guard rest.count >= length, case .complete(let upgraded, let frames) = try second.parseResponse(Array(rest[length...])) else { continue }
                #expect(String(decoding: rest[..<length], as: UTF8.self) == "7")
                heads = [page, upgraded]
                client.receive(frames)
            }
            #expect(heads.map(\.status) == [200, 101])
            var event = client.nextEvent()
            while event == nil, let more = connection.read(), !more.isEmpty {
                client.receive(more)
                event = client.nextEvent()
            }
            #expect(event == .message(.text("behind the upgrade")))
        }

        @Test func pipelinedRequestsAreAnsweredInOrderAndCloseIsHonoured() throws {
            let (server, port) = try server()
            defer { stop(server) }
            let connection = try RawConnection(port: port)
            try connection.write((1...50).map { get("/n/\($0)") }.joined())
            let answers = try responses(connection, count: 50)
            #expect(answers.bodies == (1...50).map(String.init))
            #expect(connection.read(timeout: 100) == [])  // still open, waiting for more
            try connection.write(get("/n/last", "Connection: close\r\n") + get("/n/ignored"))
            let last = try responses(connection, count: 1)
            #expect(last.bodies == ["last"])
            #expect(last.heads[0].headers["Connection"] == "close")
            #expect(connection.readToEnd(timeout: 2000) == ([], true))  // the request after the close is not answered
        }

        @Test func theRequestLimitClosesTheConnection() throws {
            let (server, port) = try server { $0.maxRequestsPerConnection = 3 }
            defer { stop(server) }
            let connection = try RawConnection(port: port)
            try connection.write((1...5).map { get("/n/\($0)") }.joined())
            let answers = try responses(connection, count: 3)
            #expect(answers.bodies == ["1", "2", "3"])
            #expect(answers.heads.map { $0.headers["Connection"] } == [nil, nil, "close"])
            #expect(connection.readToEnd(timeout: 2000).eof)
        }

        @Test func anIdleConnectionClosesAtTheKeepAliveTimeoutWithout408() throws {
            let (server, port) = try server {
                $0.keepAliveTimeout = .milliseconds(300)
                $0.timerResolution = .milliseconds(50)
            }
            defer { stop(server) }
            let connection = try RawConnection(port: port)
            try connection.write(get("/n/1"))
            _ = try responses(connection, count: 1)
            let start = now()
            #expect(connection.readToEnd(timeout: 3000) == ([], true))
            #expect(now() - start < 2000)
            #expect(server.metrics.handshakesRejected[408] == nil)
        }

        /// A peer that pipelines a thousand requests for a 64 KiB page (64 MiB of responses) and
        /// reads nothing: the server stops answering once the responses it holds pass the
        /// high-water mark, so its memory grows by about the mark, not by 64 MiB; every response
        /// still arrives once the peer reads.
        @Test func pipeliningWithoutReadingIsBoundedByTheHighWaterMark() throws {
            let (server, port) = try server {
                $0.highWaterMark = 256 << 10
                $0.maxRequestsPerConnection = 2000
            }
            defer { stop(server) }
            let one = try RawConnection(port: port).exchange(get("/big")).utf8.count
            #expect(one > 64 << 10)
            let connection = try RawConnection(port: port)
            let before = residentBytes()
            try connection.write((1...1000).map { _ in get("/big") }.joined())  // 33 KB: the kernel takes it all
            #expect(eventually { server.metrics.backpressurePauses >= 1 })
            usleep(200_000)
            let grown = residentBytes() - before
            #expect(grown < 24 << 20, "resident memory grew by \(grown) bytes")
            var received = 0
            while received < 1000 * one, let chunk = connection.read(timeout: 5000, max: 1 << 20), !chunk.isEmpty {
                received += chunk.count
            }
            #expect(received == 1000 * one)
            #expect(server.metrics.httpResponses == 1001)
        }
    }
}
