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

    /// The digest of a message that the caller has already padded to whole blocks.
    static func digest(ofPaddedBlocks blocks: UnsafeRawBufferPointer) -> Digest {
        var sha = SHA1()
        var offset = 0
        while offset < blocks.count {
            sha.compress(UnsafeRawBufferPointer(rebasing: blocks[offset..<(offset + 64)]))
            offset += 64
        }
        return Digest(words: (sha.h0, sha.h1, sha.h2, sha.h3, sha.h4))
    }

    /// Pads the message and returns the 20-byte digest. The hash must not be fed after this.
    public mutating func finalize() -> [UInt8] {
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
        return [UInt8](unsafeUninitializedCapacity: 20) { out, count in
            let raw = UnsafeMutableRawPointer(out.baseAddress!)
            raw.storeBytes(of: h0.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: h1.bigEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: h2.bigEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: h3.bigEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: h4.bigEndian, toByteOffset: 16, as: UInt32.self)
            count = 20
        }
    }

    /// The SHA-1 compression function over one 64-byte block.
    private mutating func compress(_ chunk: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { w in
            for t in 0..<16 {
                w[t] = UInt32(bigEndian: chunk.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self))
            }
            var a = h0, b = h1, c = h2, d = h3, e = h4
            var t = 0
            while t < 80 {
                let s = t & 15
                if t >= 16 {
                    let x = w[(s &+ 13) & 15] ^ w[(s &+ 8) & 15] ^ w[(s &+ 2) & 15] ^ w[s]
                    w[s] = x << 1 | x >> 31
                }
                let f: UInt32, k: UInt32
                if t < 20 {
                    f = (b & c) | (~b & d); k = 0x5A82_7999
                } else if t < 40 {
                    f = b ^ c ^ d; k = 0x6ED9_EBA1
                } else if t < 60 {
                    f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                } else {
                    f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[s]
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = temp
                t &+= 1
            }
            h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d; h4 &+= e
        }
    }
}

/// Base64 with the standard alphabet and padding (RFC 4648 §4), as the handshake uses it.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Encodes a SHA-1 digest (20 bytes) as Base64 text, without an intermediate array.
    public static func encode(_ digest: SHA1.Digest) -> String {
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 4) { raw in
            let w = digest.words
            raw.storeBytes(of: w.0.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: w.1.bigEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: w.2.bigEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: w.3.bigEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: w.4.bigEndian, toByteOffset: 16, as: UInt32.self)
            return encode(UnsafeRawBufferPointer(raw))
        }
    }

    /// Encodes bytes as Base64 text.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: (bytes.count + 2) / 3 * 4) { out in
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
    }

    /// Encodes bytes as Base64 text.
    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            out.append(b1.map { alphabet[Int(($0 & 0x0F) << 2 | (b2 ?? 0) >> 6)] } ?? UInt8(ascii: "="))
            out.append(b2.map { alphabet[Int($0 & 0x3F)] } ?? UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
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
        return text.withUTF8 { chars -> Int? in
            guard chars.count % 4 == 0 else { return nil }
            var padding = 0
            for (index, c) in chars.enumerated() {
                if c == UInt8(ascii: "=") {
                    guard index >= chars.count - 2 else { return nil }
                    padding += 1
                } else {
                    guard padding == 0, let v = value(of: c) else { return nil }
                    // The bits that padding leaves over must be zero.
                    if index == chars.count - 2 && chars[chars.count - 1] == UInt8(ascii: "=") && v & 0x03 != 0 { return nil }
                    if index == chars.count - 3 && chars[chars.count - 2] == UInt8(ascii: "=") && v & 0x0F != 0 { return nil }
                }
            }
            return chars.count / 4 * 3 - padding
        }
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
