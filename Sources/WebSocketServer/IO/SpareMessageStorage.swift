import WebSocketCore

/// One emptied message array that a loop keeps for the next message that arrives in pieces on
/// any of its connections (see `WebSocketEngine.lendMessageStorage(_:)`).
///
/// A message longer than one read is put together in an array of its own, which goes when the
/// message has been delivered. For a large one the allocator then hands the memory back to the
/// system, and the next message faults the pages in again: over TLS, where a 64 KiB message
/// arrives in 16 KiB records, that was about 4 % of the server's CPU (page faults, `madvise`,
/// `malloc`). A message that only ``WebSocket/onMessageView(_:)`` saw is known to be unshared
/// (a view cannot outlive its call), so its array comes here and serves the next one instead.
///
/// It holds one array, of at most ``largest`` bytes, and lets it go at the first tick of the
/// loop (100 ms by default) in which no connection used it: a loop that stops receiving large
/// messages holds nothing for them.
struct SpareMessageStorage {
    private var array: [UInt8] = []
    /// Whether the array is lent to an engine (see lend(to:)).
    private var isLent = false
    private var usedSinceTick = false

    /// Arrays smaller than this come cheaply from the allocator's free lists.
    static let smallest = 16 << 10
    /// The largest array kept: the engine reserves at most 1 MiB ahead for a message.
    static let largest = 2 << 20

    /// The capacity of the array held (0 for none).
    var capacity: Int { array.capacity }

    /// Keeps `storage` if it is larger than the array held (and within bounds). Its bytes are
    /// not read again: the engine empties the array when it takes it.
    mutating func offer(_ storage: [UInt8]) {
        let capacity = storage.capacity
        guard capacity >= SpareMessageStorage.smallest, capacity <= SpareMessageStorage.largest, capacity > array.capacity else { return }
        array = storage
    }

    /// Lends the array, if there is one, to `engine` for a call that passes it input.
    mutating func lend(to engine: inout WebSocketEngine) {
        guard array.capacity != 0 else { return }
        engine.lendMessageStorage(&array)
        isLent = array.capacity == 0
    }

    /// Takes back what ``lend(to:)`` lent, unless the engine used it for a message. Either way
    /// the engine holds no spare array afterwards.
    mutating func takeBack(from engine: inout WebSocketEngine) {
        guard isLent else { return }
        isLent = false
        let returned = engine.reclaimMessageStorage()
        if returned.capacity == 0 {
            usedSinceTick = true
        } else {
            offer(returned)  // a message delivered meanwhile may have left a larger one
        }
    }

    /// Called at each tick of the loop: lets the array go if no message used it since the last.
    mutating func tick() {
        if !usedSinceTick { array = [] }
        usedSinceTick = false
    }
}
