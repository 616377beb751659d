import CZlib
import Synchronization

/// zlib streams shared by every connection of the process, for the directions agreed without
/// context takeover (RFC 7692 §7.1.1): such a stream starts every message afresh and keeps
/// nothing between them, so a connection borrows one for a message and gives it back, instead
/// of keeping its own. A connection that compresses both ways then holds no zlib memory between
/// messages (with context takeover it keeps about 104 KiB, 15-bit windows), and nothing is set
/// up per message either (a new deflate stream allocates about 256 KiB).
///
/// uWebSockets calls this a shared compressor (one per thread). Here the streams are in one
/// process-wide pool: the pool holds as many as were in use at once, whichever threads used
/// them, and keeps at most ``maxIdle`` of each kind while they are not needed. Taking and giving
/// back cost a lock each (uncontended: tens of nanoseconds against microseconds of deflate).
final class ZlibStreamPool: Sendable {
    /// What a stream is made for: streams are interchangeable only with the same parameters.
    struct Kind: Hashable {
        /// Deflate (compress) or inflate.
        var compresses: Bool
        /// The window, 9-15 (raw deflate: zlib's window bits, negated when made).
        var windowBits: Int32
        /// Deflate only: the level, 0-9.
        var level: Int32 = 0
        /// Deflate only: memLevel, 1-9.
        var memoryLevel: Int32 = 0

        /// A new stream of this kind (raw deflate: negative window bits), or nil if zlib cannot
        /// make one.
        func makeStream() -> UnsafeMutablePointer<z_stream>? {
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            let status = compresses
                ? czlib_deflateInit2(stream, level, -windowBits, memoryLevel)
                : czlib_inflateInit2(stream, -windowBits)
            guard status == Z_OK else {
                stream.deallocate()
                return nil
            }
            return stream
        }

        /// Ends a stream of this kind and frees it.
        func free(_ stream: UnsafeMutablePointer<z_stream>) {
            if compresses { deflateEnd(stream) } else { inflateEnd(stream) }
            stream.deallocate()
        }
    }

    /// A stream and the buffer zlib writes into while it works (16 KiB), lent together.
    struct Lease {
        let stream: UnsafeMutablePointer<z_stream>
        let scratch: UnsafeMutableRawBufferPointer
    }

    /// The size of a lease's scratch buffer.
    static let scratchSize = 16 << 10
    /// Idle streams kept per kind; more given back are freed.
    static let maxIdle = 8

    /// The pool every codec uses.
    static let shared = ZlibStreamPool()

    /// Pointers are not `Sendable`; these are reached only under the lock, and a stream taken
    /// out is used by one codec on one thread until it is given back.
    private struct Idle: @unchecked Sendable {
        var leases: [Kind: [Lease]] = [:]
    }
    private let idle = Mutex(Idle())

    /// An empty pool (``shared`` is the one codecs use unless given another).
    init() {}

    deinit {
        // Only a pool made for a test ever ends; the shared one lives as long as the process.
        idle.withLock { idle in
            for (kind, leases) in idle.leases {
                for lease in leases {
                    kind.free(lease.stream)
                    lease.scratch.deallocate()
                }
            }
        }
    }

    /// A stream of `kind`, reset: one given back earlier, or a new one (nil if zlib cannot
    /// make one).
    func take(_ kind: Kind) -> Lease? {
        let reused: Lease? = idle.withLock { $0.leases[kind]?.popLast() }
        if let reused { return reused }
        guard let stream = kind.makeStream() else { return nil }
        return Lease(stream: stream, scratch: .allocate(byteCount: ZlibStreamPool.scratchSize, alignment: 16))
    }

    /// Gives back a stream taken with `kind`; it is reset here, so whatever state it was left
    /// in (a failed message, say) does not reach the next message.
    func give(_ lease: Lease, as kind: Kind) {
        if kind.compresses { deflateReset(lease.stream) } else { inflateReset(lease.stream) }
        let kept = idle.withLock { idle in
            guard idle.leases[kind, default: []].count < ZlibStreamPool.maxIdle else { return false }
            idle.leases[kind, default: []].append(lease)
            return true
        }
        guard !kept else { return }
        kind.free(lease.stream)
        lease.scratch.deallocate()
    }

    /// Streams of `kind` waiting to be reused (for tests).
    func idleCount(_ kind: Kind) -> Int { idle.withLock { $0.leases[kind]?.count ?? 0 } }
}
