/// The 32-bit masking key of a client-to-server frame (RFC 6455 §5.3).
///
/// Byte `i` of a masked payload is XORed with byte `i % 4` of the key. Masking and unmasking
/// are the same operation; this type does both a machine word at a time.
public struct MaskingKey: Hashable, Sendable {
    /// The four key bytes as they appear on the wire, loaded as a native integer.
    @usableFromInline var word: UInt32

    /// Makes a key from its four bytes in wire order.
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        var w: UInt32 = 0
        withUnsafeMutableBytes(of: &w) { raw in
            raw[0] = b0; raw[1] = b1; raw[2] = b2; raw[3] = b3
        }
        word = w
    }

    /// Makes a key from four bytes in wire order, read from `pointer`.
    @inlinable
    init(loadingFrom pointer: UnsafeRawPointer) {
        word = pointer.loadUnaligned(as: UInt32.self)
    }

    /// A key from the system's cryptographically secure generator, as RFC 6455 §5.3 requires.
    public static func random() -> MaskingKey {
        var generator = SystemRandomNumberGenerator()
        return MaskingKey(word: generator.next())
    }

    @usableFromInline init(word: UInt32) { self.word = word }

    /// The four key bytes in wire order.
    public var bytes: [UInt8] { withUnsafeBytes(of: word) { Array($0) } }

    /// The key's bytes in memory order, rotated so that memory byte 0 lines up with payload
    /// byte `offset`, then repeated to fill 64 bits.
    @inlinable
    func pattern(startingAt offset: Int) -> UInt64 {
        let shift = UInt32((offset & 3) * 8)
        #if _endian(little)
        let rotated = shift == 0 ? word : (word >> shift) | (word << (32 - shift))
        #else
        let rotated = shift == 0 ? word : (word << shift) | (word >> (32 - shift))
        #endif
        return UInt64(rotated) | (UInt64(rotated) << 32)
    }

    /// XORs `buffer` with the key in place. `offset` is the position of the buffer's first byte
    /// within the frame's payload, so a payload can be unmasked in pieces as it arrives.
    @inlinable
    public func apply(to buffer: UnsafeMutableRawBufferPointer, offset: Int = 0) {
        guard let base = buffer.baseAddress else { return }
        apply(from: UnsafeRawPointer(base), to: base, count: buffer.count, offset: offset)
    }

    /// XORs `buffer` with the key in place, starting at payload position `offset`.
    @inlinable
    public func apply(to buffer: inout [UInt8], offset: Int = 0) {
        buffer.withUnsafeMutableBytes { apply(to: $0, offset: offset) }
    }

    /// Reads `count` bytes from `source`, XORs them with the key and writes them to
    /// `destination` in one pass. The two may be the same address; they must not otherwise overlap.
    @inlinable
    public func apply(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int, offset: Int) {
        let pattern = pattern(startingAt: offset)
        var i = 0
        // 32 bytes a step: four independent 64-bit words, which the optimiser turns into vector code.
        while i &+ 32 <= count {
            let a = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let b = source.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
            let c = source.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self)
            let d = source.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)
            destination.storeBytes(of: a ^ pattern, toByteOffset: i, as: UInt64.self)
            destination.storeBytes(of: b ^ pattern, toByteOffset: i &+ 8, as: UInt64.self)
            destination.storeBytes(of: c ^ pattern, toByteOffset: i &+ 16, as: UInt64.self)
            destination.storeBytes(of: d ^ pattern, toByteOffset: i &+ 24, as: UInt64.self)
            i &+= 32
        }
        while i &+ 8 <= count {
            let a = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            destination.storeBytes(of: a ^ pattern, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        // The tail: 8 divides every step above, so the pattern still starts at byte 0 of its word.
        var tail = pattern
        while i < count {
            let byte = source.load(fromByteOffset: i, as: UInt8.self)
            #if _endian(little)
            destination.storeBytes(of: byte ^ UInt8(truncatingIfNeeded: tail), toByteOffset: i, as: UInt8.self)
            tail >>= 8
            #else
            destination.storeBytes(of: byte ^ UInt8(truncatingIfNeeded: tail >> 56), toByteOffset: i, as: UInt8.self)
            tail <<= 8
            #endif
            i &+= 1
        }
    }
}
