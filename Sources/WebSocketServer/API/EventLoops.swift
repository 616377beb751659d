import Synchronization

/// The event loops connections run on: a few serial queues, each with an epoll set of its
/// sockets, and a timer for their deadlines.
///
/// A server makes its own loops unless its configuration names a set. A process that is both a
/// server and a client can run both on one set (``shared``, or one made for them), so that it
/// has one loop per core rather than one per side.
public final class EventLoops: Sendable {
    let loops: [EventLoop]
    private let nextIndex = Atomic<Int>(0)

    /// The process's shared loops, made when first used (one per core, 128 KiB read buffers,
    /// 100 ms timer resolution) and never stopped. Clients use them by default.
    public static let shared = EventLoops()

    /// 128 KiB: a 64 KiB message and its frame header arrive in one read, so the engine copies
    /// the payload once, straight into the message (with 64 KiB, the 14 bytes that did not fit
    /// made every such message take the slower path; an echo of 64 KiB messages ran 20-50 %
    /// faster with 128). A megabyte message is read in eight pieces, which stay in the cache.
    public static let defaultReadBufferSize = 128 << 10

    /// Makes and starts `count` loops.
    ///
    /// - Parameters:
    ///   - count: serial queues, each with its epoll set; nil for one per core.
    ///   - readBufferSize: bytes read from a socket at a time, into a buffer each loop owns.
    ///   - timerResolution: how often deadlines are checked; timeouts fire within this of
    ///     their time.
    public init(count: Int? = nil, readBufferSize: Int = EventLoops.defaultReadBufferSize, timerResolution: Duration = .milliseconds(100)) {
        loops = (0..<max(1, count ?? System.coreCount)).map { EventLoop(index: $0, readBufferSize: readBufferSize, resolution: timerResolution) }
        for loop in loops { loop.start() }
    }

    /// The number of loops.
    public var count: Int { loops.count }

    /// The loop for the next connection, in turn.
    func next() -> EventLoop {
        loops[nextIndex.add(1, ordering: .relaxed).newValue % loops.count]
    }

    /// Stops every loop's timer and epoll source; for loops a server made for itself, at its shutdown.
    func stop() async {
        for loop in loops {
            await withCheckedContinuation { continuation in
                loop.queue.async {
                    loop.stop()
                    continuation.resume()
                }
            }
        }
    }
}
