/// SHA-1 (FIPS 180-4), used by the opening handshake to compute `Sec-WebSocket-Accept`.
///
/// SHA-1 is broken for collision resistance; RFC 6455 uses it only to prove that the server
/// read the client's key, which it still does. Do not use this type for anything else.
struct SHA1: Sendable {
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
    init() {}

    /// The 20-byte digest of `bytes`.
    static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var sha = SHA1()
        sha.update(bytes)
        return sha.finalize()
    }

    /// Feeds more bytes to the hash.
    mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            let array = Array(bytes)
            array.withUnsafeBytes { update($0) }
        }
    }

    /// Feeds more bytes to the hash.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
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
    struct Digest: Sendable {
        var words: (UInt32, UInt32, UInt32, UInt32, UInt32)
    }

    /// Pads the message and returns the 20-byte digest. The hash must not be fed after this.
    mutating func finalize() -> [UInt8] {
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
