/// An incremental UTF-8 validator (RFC 3629) that fails at the first byte that can no longer
/// begin valid UTF-8.
///
/// Feed it the bytes of a text message in pieces of any size with ``validate(_:)-([UInt8])``; when the
/// message ends, ``isAtCharacterBoundary`` says whether the last character was complete.
/// Overlong forms, UTF-16 surrogates (U+D800-U+DFFF) and code points above U+10FFFF are invalid.
/// Runs of ASCII are checked 16 bytes at a step.
public struct UTF8Validator: Sendable, Hashable {
    /// Continuation bytes still expected in the current character.
    @usableFromInline var pending: UInt8 = 0
    /// Allowed range of the next byte (narrower than 0x80...0xBF right after E0, ED, F0, F4).
    @usableFromInline var low: UInt8 = 0x80
    @usableFromInline var high: UInt8 = 0xBF

    /// A validator at the start of a text.
    public init() {}

    /// Whether everything fed so far ends on a character boundary (no character is cut short).
    @inlinable public var isAtCharacterBoundary: Bool { pending == 0 }

    /// Checks the next piece of the text. Returns false at the first invalid byte; the
    /// validator must not be used again after that.
    @inlinable
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i < count {
            if pending == 0 {
                // ASCII fast path: two words at a time while no byte has its top bit set.
                while i &+ 16 <= count {
                    let a = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    let b = base.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
                    if (a | b) & 0x8080_8080_8080_8080 != 0 { break }
                    i &+= 16
                }
                if i >= count { break }
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: pending = 1; low = 0x80; high = 0xBF
                case 0xE0: pending = 2; low = 0xA0; high = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: pending = 2; low = 0x80; high = 0xBF
                case 0xED: pending = 2; low = 0x80; high = 0x9F
                case 0xF0: pending = 3; low = 0x90; high = 0xBF
                case 0xF1...0xF3: pending = 3; low = 0x80; high = 0xBF
                case 0xF4: pending = 3; low = 0x80; high = 0x8F
                default: return false  // 0x80-0xC1 (continuation or overlong lead), 0xF5-0xFF
                }
            } else {
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                guard byte >= low && byte <= high else { return false }
                i &+= 1
                pending &-= 1
                low = 0x80
                high = 0xBF
            }
        }
        return true
    }

    /// Checks the next piece of the text.
    @inlinable
    public mutating func validate(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { validate($0) }
    }

    /// Whether `bytes` is one complete, valid UTF-8 text.
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isAtCharacterBoundary
    }

    /// Whether `bytes` is one complete, valid UTF-8 text.
    @inlinable
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValid($0) }
    }
}
