import WebSocketCore
#if canImport(Glibc)
import Glibc
#endif

/// The bytes a connection has queued for its peer, in order: frames (header and payload kept
/// apart, so a payload is never copied) and HTTP responses.
///
/// A ring buffer: appending and taking from the front are O(1), so draining N queued frames
/// is O(N) however many there are. It counts what it holds as ``cost``: every byte still to be
/// written, headers, pongs and Close frames included, plus ``itemOverhead`` per item, since a
/// flood of empty frames costs memory too. Backpressure reads ``cost``.
///
/// It has no socket: ``withIOVecs(max:headerScratch:iovecs:_:)`` lays the front of the queue
/// out for one `sendmsg`, and ``consume(_:)`` drops what was written, so it is tested alone.
struct WriteQueue {
    /// One thing to write: a frame header (nil for HTTP bytes) and a payload.
    struct Item {
        var header: EncodedFrameHeader?
        var payload: [UInt8]
        /// Application bytes this item completes, taken off `bufferedAmount` once written.
        var accounted: Int

        var count: Int { (header?.count ?? 0) + payload.count }

        static let empty = Item(header: nil, payload: [], accounted: 0)
    }

    /// What one queued item costs beyond its bytes: its slot here (48 bytes) and the heap
    /// block of a non-empty payload. Counted so that tiny frames cannot add up unseen.
    static let itemOverhead = 64

    /// Room for a power of two of items; `head` is the front's slot.
    private var slots: [Item] = []
    private var head = 0
    /// Items queued.
    private(set) var count = 0
    /// Bytes of the front item already written.
    private var frontOffset = 0
    /// Bytes queued and not yet written.
    private(set) var bytes = 0

    /// What the queue holds, for backpressure: unwritten bytes plus ``itemOverhead`` per item.
    var cost: Int { bytes + count * WriteQueue.itemOverhead }

    var isEmpty: Bool { count == 0 }

    /// Adds an item at the back.
    mutating func append(_ item: Item) {
        if count == slots.count { grow() }
        slots[(head + count) & (slots.count - 1)] = item
        count += 1
        bytes += item.count
    }

    /// Adds a frame at the back.
    mutating func append(_ frame: OutboundFrame, accounted: Int = 0) {
        append(Item(header: frame.header, payload: frame.payload, accounted: accounted))
    }

    /// Adds to the accounting of the last item (the last frame of a message completes it).
    mutating func addAccounting(_ amount: Int) {
        precondition(count > 0)
        slots[(head + count - 1) & (slots.count - 1)].accounted += amount
    }

    private mutating func grow() {
        // From one slot: most connections queue one frame at a time; a busy one keeps its
        // ring between bursts (releaseStorageIfLarge()), an idle one gives it back
        // (releaseStorageIfEmpty()).
        var larger = [Item](repeating: .empty, count: max(1, slots.count * 2))
        for i in 0..<count { larger[i] = slots[(head + i) & (slots.count - 1)] }
        slots = larger
        head = 0
    }

    /// Drops `written` bytes from the front. Returns the application bytes of the items that
    /// were completed.
    mutating func consume(_ written: Int) -> Int {
        var left = written
        var released = 0
        bytes -= written
        while left > 0 && count > 0 {
            let remaining = slots[head].count - frontOffset
            if left < remaining {
                frontOffset += left
                break
            }
            left -= remaining
            released += slots[head].accounted
            slots[head] = .empty
            head = (head + 1) & (slots.count - 1)
            count -= 1
            frontOffset = 0
        }
        if count == 0 { releaseStorageIfLarge() }
        return released
    }

    /// Empties the queue. Returns the application bytes of everything that was in it.
    mutating func removeAll() -> Int {
        var released = 0
        for i in 0..<count { released += slots[(head + i) & (slots.count - 1)].accounted }
        slots = []
        head = 0
        count = 0
        frontOffset = 0
        bytes = 0
        return released
    }

    /// Gives the ring back if the queue is empty: an idle connection then holds none (the
    /// loop's timer calls it; the next burst makes a new one).
    mutating func releaseStorageIfEmpty() {
        guard count == 0, !slots.isEmpty else { return }
        slots = []
        head = 0
    }

    /// An empty queue keeps a small ring for the next burst (no allocation per message) and
    /// gives a larger one back, so a connection that once queued a lot holds little while idle.
    private mutating func releaseStorageIfLarge() {
        head = 0
        if slots.count > 16 { slots = [] }
    }

    /// Describes up to `max` items from the front as iovecs (a header iovec, copied into
    /// `headerScratch` at 16 bytes a slot, and a payload iovec each, skipping what was written
    /// already) and calls `body` with the iovec count while every payload is pinned.
    func withIOVecs<Result>(max: Int, headerScratch: UnsafeMutableRawPointer, iovecs: UnsafeMutablePointer<iovec>,
                            _ body: (Int) -> Result) -> Result {
        let end = Swift.min(count, max)
        let mask = slots.count - 1
        // Recursive so that every payload stays pinned (inside its withUnsafeBytes) until the
        // one call that writes them all; the state travels in the arguments.
        func fill(_ index: Int, _ iovCount: Int) -> Result {
            if index == end { return body(iovCount) }
            var iovCount = iovCount
            var skip = index == 0 ? frontOffset : 0
            let item = slots[(head + index) & mask]
            if let header = item.header {
                if skip < header.count {
                    let slot = headerScratch + 16 * index
                    header.withUnsafeBytes { slot.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    iovecs[iovCount] = iovec(iov_base: slot + skip, iov_len: header.count - skip)
                    iovCount += 1
                    skip = 0
                } else {
                    skip -= header.count
                }
            }
            return item.payload.withUnsafeBytes { payload in
                guard payload.count > skip else { return fill(index + 1, iovCount) }
                iovecs[iovCount] = iovec(iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress! + skip), iov_len: payload.count - skip)
                return fill(index + 1, iovCount + 1)
            }
        }
        return fill(0, 0)
    }
}
