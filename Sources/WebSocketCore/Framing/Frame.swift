/// A frame's opcode (RFC 6455 §5.2).
public enum Opcode: UInt8, Sendable, Hashable {
    /// 0x0: a continuation of the message that an earlier frame started.
    case continuation = 0x0
    /// 0x1: the first frame of a text message.
    case text = 0x1
    /// 0x2: the first frame of a binary message.
    case binary = 0x2
    /// 0x8: a Close frame.
    case close = 0x8
    /// 0x9: a Ping frame.
    case ping = 0x9
    /// 0xA: a Pong frame.
    case pong = 0xA

    /// Whether this is a control opcode (Close, Ping, Pong): at most 125 bytes, never fragmented.
    @inlinable public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// The three reserved bits of a frame header (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10, in the
/// positions they have in the header's first byte). Extensions claim them by negotiation.
public struct ReservedBits: OptionSet, Sendable, Hashable {
    /// The bits in the positions they have in the first header byte.
    public var rawValue: UInt8
    /// Makes a set from bits in their header positions; other bits are dropped.
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x70 }
    /// RSV1, used by permessage-deflate to mark a compressed message.
    public static let rsv1 = ReservedBits(rawValue: 0x40)
    /// RSV2.
    public static let rsv2 = ReservedBits(rawValue: 0x20)
    /// RSV3.
    public static let rsv3 = ReservedBits(rawValue: 0x10)
}

/// The fixed part of a frame (RFC 6455 §5.2): everything but the payload.
public struct FrameHeader: Sendable, Hashable {
    // Widest first, so that the header takes 16 bytes, not 24 (an engine holds one).

    /// The payload length in bytes.
    public var payloadLength: UInt64
    /// The masking key, present on every client-to-server frame.
    public var maskingKey: MaskingKey?
    /// Whether this is the last frame of its message.
    public var fin: Bool
    /// The reserved bits that are set.
    public var reservedBits: ReservedBits
    /// The opcode's raw 4-bit value; may be a reserved one when decoding.
    public var opcodeValue: UInt8

    /// Makes a header.
    public init(fin: Bool = true, reservedBits: ReservedBits = [], opcode: Opcode, maskingKey: MaskingKey? = nil, payloadLength: Int) {
        self.fin = fin
        self.reservedBits = reservedBits
        self.opcodeValue = opcode.rawValue
        self.maskingKey = maskingKey
        self.payloadLength = UInt64(payloadLength)
    }

    /// The opcode, or nil if the raw value is a reserved one (3-7, 0xB-0xF).
    @inlinable public var opcode: Opcode? { Opcode(rawValue: opcodeValue) }

    /// Why a header could not be decoded.
    public enum DecodingError: Error, Sendable, Hashable {
        /// The 64-bit payload length had its most significant bit set.
        case lengthTopBitSet
    }

    /// The result of decoding a header from the front of a buffer.
    public enum DecodingResult: Sendable, Hashable {
        /// The buffer holds less than a whole header; at least `needed` bytes are required.
        case incomplete(needed: Int)
        /// A header, and how many bytes of the buffer it took.
        case header(FrameHeader, size: Int)
    }

    /// Decodes a header from the front of `buffer`. Only the wire format is checked here; the
    /// rules about opcodes, masking and control frames belong to the connection (``WebSocketEngine``).
    @inlinable
    public static func decode(_ buffer: UnsafeRawBufferPointer) throws(DecodingError) -> DecodingResult {
        let count = buffer.count
        guard count >= 2 else { return .incomplete(needed: 2) }
        let b0 = buffer[0]
        let b1 = buffer[1]
        let masked = b1 & 0x80 != 0
        var size = 2
        var length = UInt64(b1 & 0x7F)
        if length == 126 {
            size = 4
        } else if length == 127 {
            size = 10
        }
        if masked { size += 4 }
        guard count >= size else { return .incomplete(needed: size) }
        if length == 126 {
            length = UInt64(buffer[2]) << 8 | UInt64(buffer[3])
        } else if length == 127 {
            length = 0
            for i in 2..<10 { length = length << 8 | UInt64(buffer[i]) }
            guard length & (1 << 63) == 0 else { throw .lengthTopBitSet }
        }
        let key = masked ? MaskingKey(loadingFrom: buffer.baseAddress! + (size - 4)) : nil
        var header = FrameHeader(fin: b0 & 0x80 != 0, reservedBits: ReservedBits(rawValue: b0), opcode: .continuation, maskingKey: key, payloadLength: 0)
        header.opcodeValue = b0 & 0x0F
        header.payloadLength = length
        return .header(header, size: size)
    }

    /// The header in wire format: 2 to 14 bytes, kept inline so that a writer can send it and
    /// the payload (left where it is) with one `writev`.
    public var encoded: EncodedFrameHeader { EncodedFrameHeader(self) }
}

/// A frame header in wire format, at most 14 bytes, stored inline without a heap allocation.
public struct EncodedFrameHeader: Sendable, Hashable {
    @usableFromInline var storage: (UInt64, UInt64) = (0, 0)
    /// The number of header bytes (2-14).
    public private(set) var count: Int = 0

    /// Encodes `header`, choosing the shortest length form (7, 16 or 64 bits) as RFC 6455 §5.2 requires.
    public init(_ header: FrameHeader) {
        var c = 0
        let length = header.payloadLength
        withUnsafeMutableBytes(of: &storage) { raw in
            raw[0] = (header.fin ? 0x80 : 0) | header.reservedBits.rawValue | (header.opcodeValue & 0x0F)
            let maskBit: UInt8 = header.maskingKey == nil ? 0 : 0x80
            if length < 126 {
                raw[1] = maskBit | UInt8(length)
                c = 2
            } else if length <= 0xFFFF {
                raw[1] = maskBit | 126
                raw[2] = UInt8(truncatingIfNeeded: length >> 8)
                raw[3] = UInt8(truncatingIfNeeded: length)
                c = 4
            } else {
                raw[1] = maskBit | 127
                for i in 0..<8 { raw[2 + i] = UInt8(truncatingIfNeeded: length >> UInt64(56 - 8 * i)) }
                c = 10
            }
            if let key = header.maskingKey {
                Swift.withUnsafeBytes(of: key.word) { keyBytes in
                    for i in 0..<4 { raw[c + i] = keyBytes[i] }
                }
                c += 4
            }
        }
        count = c
    }

    /// Calls `body` with the header bytes.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage) { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }

    /// The header bytes as an array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Two headers are equal when their bytes are.
    public static func == (lhs: EncodedFrameHeader, rhs: EncodedFrameHeader) -> Bool { lhs.bytes == rhs.bytes }

    /// Hashes the header bytes.
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}

/// A frame ready to be written: its header, inline, and its payload, left where it was.
///
/// Write `header` then `payload` (one `writev` does both). Several connections may share one
/// `OutboundFrame`: a server frame is unmasked, so the same bytes go to every receiver.
public struct OutboundFrame: Sendable {
    /// The encoded header.
    public var header: EncodedFrameHeader
    /// The payload, masked already if the frame is a client's.
    public var payload: [UInt8]

    /// Pairs an encoded header with its payload.
    public init(header: EncodedFrameHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    /// The number of bytes the frame takes on the wire.
    @inlinable public var count: Int { header.count + payload.count }

    /// Header and payload as one array (a copy; for tests and simple writers).
    public var bytes: [UInt8] {
        var out = header.bytes
        out.append(contentsOf: payload)
        return out
    }
}
