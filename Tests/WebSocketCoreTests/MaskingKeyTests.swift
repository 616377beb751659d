import Testing
import WebSocketCore

/// RFC 6455 §5.3 and §10.3: a client's masking keys are fresh and unpredictable for every frame.
@Suite struct MaskingKeyTests {
    /// The masking keys of `count` frames a client engine sends.
    func keys(_ count: Int) throws -> [UInt32] {
        var engine = WebSocketEngine(role: .client)
        var keys: [UInt32] = []
        for _ in 0..<count {
            try engine.send(.binary([1, 2, 3]))
            for frame in engine.takeOutbound() {
                let header = frame.header.bytes
                #expect(header[1] & 0x80 != 0, "a client frame must be masked")
                keys.append(header[2..<6].reduce(0) { $0 << 8 | UInt32($1) })
            }
        }
        return keys
    }

    @Test func keysDoNotRepeatOrFollowAPattern() throws {
        let keys = try keys(20_000)
        // 20,000 random 32-bit keys collide about 0.05 times on average.
        #expect(Set(keys).count >= keys.count - 2)
        // Every bit is set in about half the keys (a stuck or biased bit would show).
        for bit in 0..<32 {
            let ones = keys.filter { $0 >> bit & 1 == 1 }.count
            #expect((9_000...11_000).contains(ones), "bit \(bit) set in \(ones) of 20000 keys")
        }
        // No constant step from one key to the next (a counter), by XOR or by difference.
        let xors = Set(zip(keys, keys.dropFirst()).map { $0 ^ $1 })
        let steps = Set(zip(keys, keys.dropFirst()).map { $1 &- $0 })
        #expect(xors.count > 19_000 && steps.count > 19_000)
    }
}
