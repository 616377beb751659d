import Synchronization

/// A snapshot of a server's counters since it was made.
public struct ServerMetrics: Sendable, Hashable {
    /// Sockets open now, in any phase (HTTP, WebSocket, closing).
    public var openConnections: Int
    /// WebSocket connections open now.
    public var openWebSockets: Int
    /// Upgrades answered with 101.
    public var handshakesAccepted: Int
    /// Requests refused, by HTTP status (400, 403, 404, 426, 431, 503 ...); 408 counts handshake timeouts.
    public var handshakesRejected: [Int: Int]
    /// Plain HTTP responses served by routes.
    public var httpResponses: Int
    /// Messages received.
    public var messagesIn: Int
    /// Messages sent.
    public var messagesOut: Int
    /// Bytes read from sockets.
    public var bytesIn: Int
    /// Bytes written to sockets.
    public var bytesOut: Int
}

/// The live counters behind ``ServerMetrics``.
final class Metrics: Sendable {
    let openConnections = Atomic<Int>(0)
    let openWebSockets = Atomic<Int>(0)
    let handshakesAccepted = Atomic<Int>(0)
    let httpResponses = Atomic<Int>(0)
    let messagesIn = Atomic<Int>(0)
    let messagesOut = Atomic<Int>(0)
    let bytesIn = Atomic<Int>(0)
    let bytesOut = Atomic<Int>(0)
    private let rejections = Locked<[Int: Int]>([:])

    func rejected(status: Int) { rejections.withLock { $0[status, default: 0] += 1 } }

    var snapshot: ServerMetrics {
        ServerMetrics(
            openConnections: openConnections.load(ordering: .relaxed),
            openWebSockets: openWebSockets.load(ordering: .relaxed),
            handshakesAccepted: handshakesAccepted.load(ordering: .relaxed),
            handshakesRejected: rejections.withLock { $0 },
            httpResponses: httpResponses.load(ordering: .relaxed),
            messagesIn: messagesIn.load(ordering: .relaxed),
            messagesOut: messagesOut.load(ordering: .relaxed),
            bytesIn: bytesIn.load(ordering: .relaxed),
            bytesOut: bytesOut.load(ordering: .relaxed)
        )
    }
}
