import Synchronization
import WebSocketCore

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
    /// Connections dropped because their TLS handshake failed (garbage, a truncated record, a
    /// reset, an unacceptable certificate) or because they spoke plain HTTP to a TLS port.
    public var tlsHandshakesFailed: Int
    /// WebSocket closes, by the code reported to the application (1000, 1001, 1006 ...).
    public var closes: [Int: Int]
    /// Times a connection stopped reading because its queue went over the high-water mark.
    public var backpressurePauses: Int
    /// Messages received.
    public var messagesIn: Int
    /// Messages sent.
    public var messagesOut: Int
    /// Bytes read from sockets.
    public var bytesIn: Int
    /// Bytes written to sockets.
    public var bytesOut: Int
    /// Bytes of the messages sent compressed (permessage-deflate), before compression.
    public var bytesBeforeDeflate: Int = 0
    /// What they became on the wire.
    public var bytesAfterDeflate: Int = 0
    /// Bytes of the compressed messages received, as they came on the wire.
    public var bytesBeforeInflate: Int = 0
    /// What they became once inflated.
    public var bytesAfterInflate: Int = 0

    /// Wire bytes per application byte of the messages sent compressed (0.25: a quarter of
    /// the size), or nil before any was.
    public var compressionRatio: Double? {
        bytesBeforeDeflate > 0 ? Double(bytesAfterDeflate) / Double(bytesBeforeDeflate) : nil
    }
}

/// The live counters behind ``ServerMetrics`` that change once per connection. The ones that
/// change with every message are each loop's own (``LoopCounters``), summed when read.
final class Metrics: Sendable {
    let openConnections = Atomic<Int>(0)
    let openWebSockets = Atomic<Int>(0)
    let handshakesAccepted = Atomic<Int>(0)
    let httpResponses = Atomic<Int>(0)
    let tlsHandshakesFailed = Atomic<Int>(0)
    let backpressurePauses = Atomic<Int>(0)
    private let rejections = Locked<[Int: Int]>([:])
    private let closes = Locked<[Int: Int]>([:])

    func rejected(status: Int) { rejections.withLock { $0[status, default: 0] += 1 } }
    func closed(code: UInt16) { closes.withLock { $0[Int(code), default: 0] += 1 } }

    /// The counters now, with the per-loop message counters added up.
    func snapshot(loopCounters: [LoopCounters]) -> ServerMetrics {
        var total = (messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0)
        var compression = CodecTally()
        for counters in loopCounters {
            total.messagesIn += counters.messagesIn.load()
            total.messagesOut += counters.messagesOut.load()
            total.bytesIn += counters.bytesIn.load()
            total.bytesOut += counters.bytesOut.load()
            compression.encodedFrom += counters.deflatedFrom.load()
            compression.encodedTo += counters.deflatedTo.load()
            compression.decodedFrom += counters.inflatedFrom.load()
            compression.decodedTo += counters.inflatedTo.load()
        }
        return ServerMetrics(
            openConnections: openConnections.load(ordering: .relaxed),
            openWebSockets: openWebSockets.load(ordering: .relaxed),
            handshakesAccepted: handshakesAccepted.load(ordering: .relaxed),
            handshakesRejected: rejections.withLock { $0 },
            httpResponses: httpResponses.load(ordering: .relaxed),
            tlsHandshakesFailed: tlsHandshakesFailed.load(ordering: .relaxed),
            closes: closes.withLock { $0 },
            backpressurePauses: backpressurePauses.load(ordering: .relaxed),
            messagesIn: total.messagesIn,
            messagesOut: total.messagesOut,
            bytesIn: total.bytesIn,
            bytesOut: total.bytesOut,
            bytesBeforeDeflate: compression.encodedFrom,
            bytesAfterDeflate: compression.encodedTo,
            bytesBeforeInflate: compression.decodedFrom,
            bytesAfterInflate: compression.decodedTo
        )
    }
}

/// The per-message counters of one endpoint on one loop: only that loop writes them, so loops
/// never contend for a cache line (the padding keeps another loop's counters off this one's line).
final class LoopCounters: Sendable {
    let messagesIn = LoopCounter()
    let messagesOut = LoopCounter()
    let bytesIn = LoopCounter()
    let bytesOut = LoopCounter()
    let deflatedFrom = LoopCounter()
    let deflatedTo = LoopCounter()
    let inflatedFrom = LoopCounter()
    let inflatedTo = LoopCounter()
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// Adds what a connection's codec has compressed and decompressed since it was last asked.
    func count(_ codec: any ExtensionCodec) {
        let tally = codec.takeTally()
        guard tally != CodecTally() else { return }
        deflatedFrom.add(tally.encodedFrom)
        deflatedTo.add(tally.encodedTo)
        inflatedFrom.add(tally.decodedFrom)
        inflatedTo.add(tally.decodedTo)
    }
}

/// A counter that one loop's queue adds to and any thread reads. With a single writer, adding is
/// a load and a store, not a locked read-modify-write: as locked adds, the message counters (one
/// add each per message) had cost about 1 % of the server's CPU each in a pipelined echo
/// (`perf annotate`). A reader sees a value at most a few additions old, and never a torn one.
struct LoopCounter: ~Copyable, Sendable {
    private let value = Atomic<Int>(0)

    /// Adds `amount`. On the loop's queue only.
    func add(_ amount: Int) { value.store(value.load(ordering: .relaxed) &+ amount, ordering: .relaxed) }

    /// The count so far, from any thread.
    func load() -> Int { value.load(ordering: .relaxed) }
}
