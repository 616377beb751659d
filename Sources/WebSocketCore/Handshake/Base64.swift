/// Base64 with the standard alphabet and padding (RFC 4648 §4), as the handshake uses it
/// (internal: the handshake's own, not a general-purpose encoder).
enum Base64 {
    /// The alphabet in static memory, read through a pointer (no bounds checks, no lazy
    /// initialisation).
    private static let alphabetText: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// Writes the 28 Base64 characters of a SHA-1 digest to `out`; returns 28.
    @discardableResult
    static func encode(_ digest: SHA1.Digest, into out: UnsafeMutablePointer<UInt8>) -> Int {
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 4) { raw in
            let w = digest.words
            raw.storeBytes(of: w.0.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: w.1.bigEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: w.2.bigEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: w.3.bigEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: w.4.bigEndian, toByteOffset: 16, as: UInt32.self)
            return encode(UnsafeRawBufferPointer(raw), into: out)
        }
    }

    /// Encodes bytes as Base64 text.
    static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: (bytes.count + 2) / 3 * 4) { encode(bytes, into: $0.baseAddress!) }
    }

    /// Writes the Base64 of `bytes` to `out`, which has room for `(bytes.count + 2) / 3 * 4`
    /// characters; returns that count.
    static func encode(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let alphabet = alphabetText.utf8Start
        var i = 0, o = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out[o] = alphabet[Int(n >> 18)]
            out[o + 1] = alphabet[Int(n >> 12 & 0x3F)]
            out[o + 2] = alphabet[Int(n >> 6 & 0x3F)]
            out[o + 3] = alphabet[Int(n & 0x3F)]
            i += 3
            o += 4
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out[o] = alphabet[Int(n >> 18)]
            out[o + 1] = alphabet[Int(n >> 12 & 0x3F)]
            out[o + 2] = rest == 2 ? alphabet[Int(n >> 6 & 0x3F)] : UInt8(ascii: "=")
            out[o + 3] = UInt8(ascii: "=")
            o += 4
        }
        return o
    }

    /// Encodes bytes as Base64 text.
    static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let contiguous: String? = bytes.withContiguousStorageIfAvailable { encode(UnsafeRawBufferPointer($0)) }
        return contiguous ?? Array(bytes).withUnsafeBytes { encode($0) }
    }

    /// Decodes canonical padded Base64 text, or returns nil if it is not that.
    ///
    /// The length must be a multiple of 4, padding only at the end, and the bits that padding
    /// leaves over must be zero, so every byte string has exactly one accepted encoding.
    static func decode<Text: StringProtocol>(_ text: Text) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { decode($0) }
    }

    /// Decodes canonical padded Base64 from UTF-8 bytes, or returns nil if it is not that.
    static func decode(_ chars: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard chars.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 4 * 3)
        var index = 0
        while index < chars.count {
            let isLast = index + 4 == chars.count
            var group: UInt32 = 0
            var padding = 0
            for j in 0..<4 {
                let c = chars[index + j]
                group <<= 6
                if c == UInt8(ascii: "=") {
                    // Padding may fill only the last one or two places of the last group.
                    guard isLast, j >= 2 else { return nil }
                    padding += 1
                    continue
                }
                guard padding == 0, let v = value(of: c) else { return nil }
                group |= UInt32(v)
            }
            // The bits that padding leaves over must be zero.
            guard padding == 0 || group & (padding == 2 ? 0xFFFF : 0xFF) == 0 else { return nil }
            out.append(UInt8(truncatingIfNeeded: group >> 16))
            if padding < 2 { out.append(UInt8(truncatingIfNeeded: group >> 8)) }
            if padding < 1 { out.append(UInt8(truncatingIfNeeded: group)) }
            index += 4
        }
        return out
    }

    /// The number of bytes `text` decodes to, or nil if it is not canonical padded Base64;
    /// like ``decode(_:)-(Text)`` without building the bytes.
    static func decodedCount<Text: StringProtocol>(_ text: Text) -> Int? {
        var text = String(text)
        return text.withUTF8 { decodedCount($0) }
    }

    /// The number of bytes that UTF-8 `chars` decode to, or nil if they are not canonical
    /// padded Base64.
    static func decodedCount(_ chars: UnsafeBufferPointer<UInt8>) -> Int? {
        guard chars.count % 4 == 0 else { return nil }
        guard !chars.isEmpty else { return 0 }
        // Up to two `=` at the end, and nothing but the alphabet before them.
        var padding = 0
        if chars[chars.count - 1] == UInt8(ascii: "=") { padding = chars[chars.count - 2] == UInt8(ascii: "=") ? 2 : 1 }
        for c in chars[..<(chars.count - padding)] where !isAlphabetCharacter(c) { return nil }
        // The bits that padding leaves over must be zero.
        if padding > 0, let v = value(of: chars[chars.count - padding - 1]), v & (padding == 1 ? 0x03 : 0x0F) != 0 { return nil }
        return chars.count / 4 * 3 - padding
    }

    /// Whether `c` is one of the 64 characters of the alphabet, looked up in a 128-bit set.
    @inline(__always)
    private static func isAlphabetCharacter(_ c: UInt8) -> Bool {
        let low: UInt64 = 0x03FF_8800_0000_0000   // + / 0-9
        let high: UInt64 = 0x07FF_FFFE_07FF_FFFE  // A-Z a-z
        let bit = UInt64(1) << UInt64(c & 63)
        return c < 64 ? low & bit != 0 : (c < 128 && high & bit != 0)
    }

    private static func value(of c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
