/// SHA-1 (FIPS 180-4), used by the opening handshake to compute `Sec-WebSocket-Accept`.
///
/// SHA-1 is broken for collision resistance; RFC 6455 uses it only to prove that the server
/// read the client's key, which it still does. Do not use this type for anything else.
public struct SHA1: Sendable {
    private var h0: UInt32 = 0x6745_2301
    private var h1: UInt32 = 0xEFCD_AB89
    private var h2: UInt32 = 0x98BA_DCFE
    private var h3: UInt32 = 0x1032_5476
    private var h4: UInt32 = 0xC3D2_E1F0
    /// The block being filled, inline (64 bytes).
    private var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var blockCount = 0
    private var totalLength: UInt64 = 0

    /// A hash with nothing fed to it yet.
    public init() {}

    /// The 20-byte digest of `bytes`.
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var sha = SHA1()
        sha.update(bytes)
        return sha.finalize()
    }

    /// Feeds more bytes to the hash.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            let array = Array(bytes)
            array.withUnsafeBytes { update($0) }
        }
    }

    /// Feeds more bytes to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        totalLength &+= UInt64(bytes.count)
        while index < bytes.count {
            let take = min(64 - blockCount, bytes.count - index)
            let offset = blockCount
            withUnsafeMutableBytes(of: &block) { raw in
                raw.baseAddress!.advanced(by: offset).copyMemory(from: bytes.baseAddress!.advanced(by: index), byteCount: take)
            }
            blockCount += take
            index += take
            if blockCount == 64 {
                let copy = block
                withUnsafeBytes(of: copy) { compress($0) }
                blockCount = 0
            }
        }
    }

    /// A 20-byte digest, inline.
    public struct Digest: Sendable {
        var words: (UInt32, UInt32, UInt32, UInt32, UInt32)
    }

    /// Pads the message and returns the 20-byte digest. The hash must not be fed after this.
    public mutating func finalize() -> [UInt8] {
        let digest = finalizeDigest()
        return [UInt8](unsafeUninitializedCapacity: 20) { out, count in
            let raw = UnsafeMutableRawPointer(out.baseAddress!)
            raw.storeBytes(of: digest.words.0.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: digest.words.1.bigEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: digest.words.2.bigEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: digest.words.3.bigEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: digest.words.4.bigEndian, toByteOffset: 16, as: UInt32.self)
            count = 20
        }
    }

    /// Pads the message and returns the digest, inline. The hash must not be fed after this.
    mutating func finalizeDigest() -> Digest {
        let bitLength = totalLength &* 8
        var padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        let padCount = blockCount < 56 ? 56 - blockCount : 120 - blockCount
        withUnsafeMutableBytes(of: &padding) { raw in
            raw[0] = 0x80
            for i in 0..<8 { raw[padCount + i] = UInt8(truncatingIfNeeded: bitLength >> UInt64(56 - 8 * i)) }
            let length = totalLength
            update(UnsafeRawBufferPointer(rebasing: raw[0..<(padCount + 8)]))
            totalLength = length
        }
        return Digest(words: (h0, h1, h2, h3, h4))
    }

    /// The SHA-1 compression function over one 64-byte block.
    private mutating func compress(_ chunk: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { buffer in
            let w = buffer.baseAddress!
            for t in 0..<16 {
                w[t] = UInt32(bigEndian: chunk.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self))
            }
            SHA1.expandSchedule(w)
            compress(schedule: UnsafePointer(w))
        }
    }

    /// Fills `w[16..<80]` from `w[0..<16]` (FIPS 180-4 §6.1.2 step 1).
    @inline(__always)
    private static func expandSchedule(_ w: UnsafeMutablePointer<UInt32>) {
        var t = 16
        while t < 80 {
            let x = w[t &- 3] ^ w[t &- 8] ^ w[t &- 14] ^ w[t &- 16]
            w[t] = x << 1 | x >> 31
            t &+= 1
        }
    }

    /// The 80 rounds over a block's expanded message schedule (FIPS 180-4 §6.1.2 steps 2-4),
    /// written as four loops of twenty so that no round has to ask which function it uses, and
    /// unrolled by five so the working variables trade roles instead of being moved.
    @inline(__always)
    private mutating func compress(schedule w: UnsafePointer<UInt32>) {
        var a = h0, b = h1, c = h2, d = h3, e = h4
        @inline(__always) func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { x << n | x >> (32 &- n) }
        var t = 0
        while t < 20 {
            e = e &+ rotl(a, 5) &+ (d ^ (b & (c ^ d))) &+ 0x5A82_7999 &+ w[t]; b = rotl(b, 30)
            d = d &+ rotl(e, 5) &+ (c ^ (a & (b ^ c))) &+ 0x5A82_7999 &+ w[t &+ 1]; a = rotl(a, 30)
            c = c &+ rotl(d, 5) &+ (b ^ (e & (a ^ b))) &+ 0x5A82_7999 &+ w[t &+ 2]; e = rotl(e, 30)
            b = b &+ rotl(c, 5) &+ (a ^ (d & (e ^ a))) &+ 0x5A82_7999 &+ w[t &+ 3]; d = rotl(d, 30)
            a = a &+ rotl(b, 5) &+ (e ^ (c & (d ^ e))) &+ 0x5A82_7999 &+ w[t &+ 4]; c = rotl(c, 30)
            t &+= 5
        }
        while t < 40 {
            e = e &+ rotl(a, 5) &+ (b ^ c ^ d) &+ 0x6ED9_EBA1 &+ w[t]; b = rotl(b, 30)
            d = d &+ rotl(e, 5) &+ (a ^ b ^ c) &+ 0x6ED9_EBA1 &+ w[t &+ 1]; a = rotl(a, 30)
            c = c &+ rotl(d, 5) &+ (e ^ a ^ b) &+ 0x6ED9_EBA1 &+ w[t &+ 2]; e = rotl(e, 30)
            b = b &+ rotl(c, 5) &+ (d ^ e ^ a) &+ 0x6ED9_EBA1 &+ w[t &+ 3]; d = rotl(d, 30)
            a = a &+ rotl(b, 5) &+ (c ^ d ^ e) &+ 0x6ED9_EBA1 &+ w[t &+ 4]; c = rotl(c, 30)
            t &+= 5
        }
        while t < 60 {
            e = e &+ rotl(a, 5) &+ ((b & c) | (d & (b | c))) &+ 0x8F1B_BCDC &+ w[t]; b = rotl(b, 30)
            d = d &+ rotl(e, 5) &+ ((a & b) | (c & (a | b))) &+ 0x8F1B_BCDC &+ w[t &+ 1]; a = rotl(a, 30)
            c = c &+ rotl(d, 5) &+ ((e & a) | (b & (e | a))) &+ 0x8F1B_BCDC &+ w[t &+ 2]; e = rotl(e, 30)
            b = b &+ rotl(c, 5) &+ ((d & e) | (a & (d | e))) &+ 0x8F1B_BCDC &+ w[t &+ 3]; d = rotl(d, 30)
            a = a &+ rotl(b, 5) &+ ((c & d) | (e & (c | d))) &+ 0x8F1B_BCDC &+ w[t &+ 4]; c = rotl(c, 30)
            t &+= 5
        }
        while t < 80 {
            e = e &+ rotl(a, 5) &+ (b ^ c ^ d) &+ 0xCA62_C1D6 &+ w[t]; b = rotl(b, 30)
            d = d &+ rotl(e, 5) &+ (a ^ b ^ c) &+ 0xCA62_C1D6 &+ w[t &+ 1]; a = rotl(a, 30)
            c = c &+ rotl(d, 5) &+ (e ^ a ^ b) &+ 0xCA62_C1D6 &+ w[t &+ 2]; e = rotl(e, 30)
            b = b &+ rotl(c, 5) &+ (d ^ e ^ a) &+ 0xCA62_C1D6 &+ w[t &+ 3]; d = rotl(d, 30)
            a = a &+ rotl(b, 5) &+ (c ^ d ^ e) &+ 0xCA62_C1D6 &+ w[t &+ 4]; c = rotl(c, 30)
            t &+= 5
        }
        h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d; h4 &+= e
    }

    /// The digest of a 24-byte key followed by the handshake GUID: the one message the
    /// handshake hashes. The 60 bytes pad to two blocks, and the second holds only padding and
    /// the length, so its expanded schedule is the same for every key and is computed once.
    static func digest(ofKey key: UnsafeRawBufferPointer, guid: UnsafeRawBufferPointer) -> Digest {
        precondition(key.count == 24 && guid.count == 36)
        var sha = SHA1()
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { buffer in
            let w = buffer.baseAddress!
            for t in 0..<6 {
                w[t] = UInt32(bigEndian: key.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self))
            }
            for t in 0..<9 {
                w[6 &+ t] = UInt32(bigEndian: guid.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self))
            }
            w[15] = 0x8000_0000  // the padding's first bit, right after the 60 bytes
            SHA1.expandSchedule(w)
            sha.compress(schedule: UnsafePointer(w))
        }
        SHA1.paddingOnlySchedule.withUnsafeBufferPointer { sha.compress(schedule: $0.baseAddress!) }
        return Digest(words: (sha.h0, sha.h1, sha.h2, sha.h3, sha.h4))
    }

    /// The expanded schedule of a block of zeros ending in the bit length 480 (60 bytes).
    private static let paddingOnlySchedule: [UInt32] = {
        var w = [UInt32](repeating: 0, count: 80)
        w[15] = 480
        w.withUnsafeMutableBufferPointer { expandSchedule($0.baseAddress!) }
        return w
    }()
}

/// Base64 with the standard alphabet and padding (RFC 4648 §4), as the handshake uses it.
public enum Base64 {
    /// The alphabet in static memory, read through a pointer (no bounds checks, no lazy
    /// initialisation).
    private static let alphabetText: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// Encodes a SHA-1 digest (20 bytes) as Base64 text, without an intermediate array.
    public static func encode(_ digest: SHA1.Digest) -> String {
        String(unsafeUninitializedCapacity: 28) { encode(digest, into: $0.baseAddress!) }
    }

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
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
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
    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let contiguous: String? = bytes.withContiguousStorageIfAvailable { encode(UnsafeRawBufferPointer($0)) }
        return contiguous ?? Array(bytes).withUnsafeBytes { encode($0) }
    }

    /// Decodes canonical padded Base64 text, or returns nil if it is not that.
    ///
    /// The length must be a multiple of 4, padding only at the end, and the bits that padding
    /// leaves over must be zero, so every byte string has exactly one accepted encoding.
    public static func decode<Text: StringProtocol>(_ text: Text) -> [UInt8]? {
        var text = String(text)
        return text.withUTF8 { decode($0) }
    }

    /// Decodes canonical padded Base64 from UTF-8 bytes, or returns nil if it is not that.
    public static func decode(_ chars: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
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
    public static func decodedCount<Text: StringProtocol>(_ text: Text) -> Int? {
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
