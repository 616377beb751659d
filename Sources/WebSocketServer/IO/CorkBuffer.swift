import WebSocketCore

/// Where the frames a connection sends while its input is being delivered are laid end to end,
/// one buffer per loop, so that a read full of messages is answered with one `send` straight
/// from here: a payload is copied once, from the application's bytes (or a lent view of the
/// read buffer) to this buffer, and nothing is allocated per frame.
///
/// One connection owns it at a time: from the start of a delivery to its end (see
/// `Connection.beginDelivery()`; a loop delivers to one connection at a time), or for one topic
/// publication (`Connection.sendDirectly(_:accounted:)`). What the socket
/// does not take at the end, or what has to go after a frame queued another way, moves to the
/// owner's write queue (a copy, once per batch). uWebSockets has the same "cork buffer".
struct CorkBuffer {
    /// How many bytes it holds: a batch of small messages, not large ones (those are queued).
    static let capacity = 16 << 10
    /// The longest frame header (RFC 6455 §5.2: 2 bytes, 8 of extended length, 4 of mask).
    private static let maxHeader = 14

    private let storage: UnsafeMutableRawBufferPointer
    /// The id of the connection that owns it; 0 when free.
    private(set) var owner: UInt64 = 0
    /// Bytes laid out so far.
    private(set) var count = 0
    /// The application bytes of the messages here, taken off `bufferedAmount` once written.
    private(set) var accounted = 0

    init() {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: CorkBuffer.capacity, alignment: 16)
    }

    /// Frees the memory; the loop calls it when it ends.
    func deallocate() { storage.deallocate() }

    /// The frames laid out so far.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }

    /// Takes the buffer for connection `id` if it is free; false if another owns it.
    mutating func claim(for id: UInt64) -> Bool {
        guard owner == 0 else { return false }
        owner = id
        return true
    }

    /// Whether a frame of `payloadCount` bytes fits after what is here.
    func hasRoom(forPayload payloadCount: Int) -> Bool {
        count + payloadCount + CorkBuffer.maxHeader <= CorkBuffer.capacity
    }

    /// Whether a frame of `payloadCount` bytes fits in the empty buffer.
    static func canHold(payload payloadCount: Int) -> Bool {
        payloadCount + maxHeader <= capacity
    }

    /// Lays out an unmasked, unencoded server frame of one whole message. The caller checked
    /// ``hasRoom(forPayload:)``.
    mutating func appendFrame(_ kind: MessageKind, payload: UnsafeRawBufferPointer, accounted: Int) {
        // The header written in place (RFC 6455 §5.2): FIN and the opcode, then the length in
        // 7 bits, or 126 and 16 bits (the buffer holds no frame that needs 64). No mask: a
        // server's frame. (Through FrameHeader.encoded this took 1.5 % of a pipelined echo.)
        let base = storage.baseAddress! + count
        base.storeBytes(of: 0x80 | kind.opcode.rawValue, as: UInt8.self)
        if payload.count < 126 {
            base.storeBytes(of: UInt8(payload.count), toByteOffset: 1, as: UInt8.self)
            count += 2
        } else {
            base.storeBytes(of: 126, toByteOffset: 1, as: UInt8.self)
            base.storeBytes(of: UInt16(payload.count).bigEndian, toByteOffset: 2, as: UInt16.self)
            count += 4
        }
        if let source = payload.baseAddress {
            (storage.baseAddress! + count).copyMemory(from: source, byteCount: payload.count)
            count += payload.count
        }
        self.accounted += accounted
    }

    /// Forgets what is laid out (it was written or moved elsewhere); the owner keeps it.
    mutating func empty() {
        count = 0
        accounted = 0
    }

    /// Empties the buffer and frees it for the next connection.
    mutating func release() {
        empty()
        owner = 0
    }
}
