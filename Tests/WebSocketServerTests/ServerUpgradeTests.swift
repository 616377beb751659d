import Testing
import WebSocketCore
@testable import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

extension WebSocketServerTests {
    /// The README's blocking echo, built on WebSocketCore's ServerUpgrade alone, against a client.
    @Suite struct BlockingEchoTests {
        /// Listens on 127.0.0.1, port 0, and serves each of `connections` accepted sockets with
        /// the README's function on a thread of its own.
        func serve(connections: Int) throws -> Int {
            let listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 8, reusePort: false)
            let port = Socket.localAddress(of: listener)!.port
            let thread = Thread {
                for _ in 0..<connections {
                    var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                    guard poll(&ready, 1, 5000) == 1 else { break }
                    let fd = accept(listener, nil, nil)  // blocking: accept(2) does not pass O_NONBLOCK on
                    try? echoOverABlockingSocket(fd)
                    close(fd)
                }
                close(listener)
            }
            thread.start()
            return port
        }

        @Test func theREADMEsBlockingEchoServesAClient() throws {
            let port = try serve(connections: 2)
            let client = try TestClient(port: port, path: "/any")
            for message in [Message.text("hello"), .binary([1, 2, 3]), .text(String(repeating: "long ", count: 20_000))] {
                try client.send(message)
                #expect(client.nextMessage() == message)
            }
            try client.ping([9])
            #expect(client.next() == .pong([9]))
            try client.close(code: .goingAway)
            #expect(client.next() == .close(CloseFrame(code: .goingAway)))
            #expect(client.waitForEOF())
            // A request that is not an upgrade gets its error and the socket closes.
            let plain = try RawConnection(port: port).exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(plain.hasPrefix("HTTP/1.1 426 "))
        }
    }
}

/// Runs `body` on a new thread.
///
/// `@unchecked Sendable`: the body is handed to the new thread once and never touched again here.
final class Thread: @unchecked Sendable {
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func start() {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            let me = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, box)
        pthread_detach(thread)
    }
}
