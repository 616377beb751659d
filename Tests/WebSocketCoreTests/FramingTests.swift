import Testing
@testable import WebSocketCore

@Suite struct RFCFrameExamplesTests {
    // RFC 6455 §5.7.
    @Test func singleFrameUnmaskedTextFromTheServer() {
        #expect(clientDecode([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]) == [.message(.text("Hello"))])
    }

    @Test func singleFrameMaskedTextFromTheClient() {
        let bytes: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(serverRun(bytes).events == [.message(.text("Hello"))])
        #expect(clientFrame(0x1, Array("Hello".utf8)) == bytes)
    }

    @Test func fragmentedUnmaskedText() {
        #expect(clientDecode([0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F]) == [.message(.text("Hello"))])
    }

    @Test func unmaskedPingAndMaskedPong() {
        #expect(clientDecode([0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]) == [.ping(Array("Hello".utf8))])
        let pong: [UInt8] = [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(serverRun(pong).events == [.pong(Array("Hello".utf8))])
    }

    @Test func lengthForms() {
        let header256 = FrameHeader(opcode: .binary, payloadLength: 256).encoded.bytes
        #expect(header256 == [0x82, 0x7E, 0x01, 0x00])
        let header64k = FrameHeader(opcode: .binary, payloadLength: 65536).encoded.bytes
        #expect(header64k == [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])
        #expect(FrameHeader(opcode: .binary, payloadLength: 125).encoded.bytes == [0x82, 125])
        #expect(FrameHeader(opcode: .binary, payloadLength: 126).encoded.bytes == [0x82, 0x7E, 0, 126])
        #expect(FrameHeader(opcode: .binary, payloadLength: 65535).encoded.bytes == [0x82, 0x7E, 0xFF, 0xFF])
        let payload = [UInt8](repeating: 7, count: 65536)
        #expect(clientDecode(header64k + payload) == [.message(.binary(payload))])
        #expect(clientDecode(header256 + payload[..<256]) == [.message(.binary(Array(payload[..<256])))])
    }

    @Test func serverFramesAreUnmaskedAndClientFramesMasked() throws {
        var server = WebSocketEngine(role: .server)
        try server.send("Hello")
        #expect(server.takeOutboundBytes() == [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        var client = WebSocketEngine(role: .client)
        try client.send("Hello")
        let frame = client.takeOutboundBytes()
        #expect(frame[1] == 0x85)
        #expect(serverRun(frame).events == [.message(.text("Hello"))])
        // A fresh key for each frame (RFC 6455 §5.3): 200 frames, 200 different keys (two random
        // 32-bit keys collide among 200 with a probability under 5 in a million), and no
        // constant step from one key to the next.
        var keys: [UInt32] = []
        for _ in 0..<200 {
            try client.send("Hello")
            let bytes = client.takeOutboundBytes()
            keys.append(bytes[2..<6].reduce(0) { $0 << 8 | UInt32($1) })
        }
        #expect(Set(keys).count == keys.count)
        #expect(Set(zip(keys.dropFirst(), keys).map { $0 &- $1 }).count > 1)
    }
}

@Suite struct MaskingTests {
    func byteLoop(_ data: [UInt8], key: [UInt8], offset: Int) -> [UInt8] {
        data.enumerated().map { $0.element ^ key[($0.offset + offset) % 4] }
    }

    @Test func matchesTheDefinitionForEveryLengthOffsetAndAlignment() {
        var rng = SeededGenerator(seed: 1)
        let key = MaskingKey(0x12, 0x34, 0x56, 0x78)
        for length in 0..<80 {
            for offset in 0..<4 {
                for alignment in 0..<8 {
                    let data = randomBytes(length + alignment, using: &rng)
                    var buffer = data
                    buffer.withUnsafeMutableBytes { raw in
                        key.apply(to: UnsafeMutableRawBufferPointer(rebasing: raw[alignment...]), offset: offset)
                    }
                    #expect(Array(buffer[alignment...]) == byteLoop(Array(data[alignment...]), key: key.bytes, offset: offset))
                    #expect(Array(buffer[..<alignment]) == Array(data[..<alignment]))
                }
            }
        }
    }

    @Test func maskingInPiecesEqualsMaskingWhole() {
        var rng = SeededGenerator(seed: 2)
        let key = MaskingKey(1, 2, 3, 4)
        let data = randomBytes(1000, using: &rng)
        var whole = data
        key.apply(to: &whole)
        var pieces = data
        var start = 0
        while start < pieces.count {
            let end = min(start + Int.random(in: 1...50, using: &rng), pieces.count)
            let s = start
            pieces.withUnsafeMutableBytes { key.apply(to: UnsafeMutableRawBufferPointer(rebasing: $0[s..<end]), offset: s) }
            start = end
        }
        #expect(whole == pieces)
    }
}

@Suite struct UTF8ValidatorTests {
    @Test func agreesWithTheStandardLibraryOnRandomBytes() {
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<3000 {
            let length = Int.random(in: 0..<12, using: &rng)
            // Bias towards bytes that make interesting sequences.
            let pool: [UInt8] = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
            let bytes = (0..<length).map { _ in pool.randomElement(using: &rng)! }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(UTF8Validator.isValid(bytes) == expected, "\(bytes)")
        }
    }

    @Test("Invalid sequences", arguments: [
        [0xC0, 0x80], [0xC1, 0xBF],               // overlong 2-byte
        [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],   // overlong 3-byte
        [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],  // overlong 4-byte
        [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],   // surrogates
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], // above U+10FFFF
        [0x80], [0xBF], [0xFE], [0xFF],
    ] as [[UInt8]])
    func invalid(bytes: [UInt8]) {
        #expect(!UTF8Validator.isValid(bytes))
    }

    @Test func boundariesAreValid() {
        for scalar: UInt32 in [0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF] {
            let bytes = Array(String(Unicode.Scalar(scalar)!).utf8)
            #expect(UTF8Validator.isValid(bytes))
            // Cut short, the last character is incomplete.
            if bytes.count > 1 {
                var v = UTF8Validator()
                let ok = v.validate(Array(bytes.dropLast()))
                #expect(ok)
                #expect(!v.isAtCharacterBoundary)
            }
        }
    }

    @Test func failsAtTheFirstImpossibleByte() {
        // "κόσμε" then an invalid continuation: the piece with the bad byte fails at once,
        // and a piece that ends mid-character still passes.
        var v = UTF8Validator()
        let first = v.validate(Array("κόσμε".utf8) + [0xCE])
        #expect(first)
        let second = v.validate([0x41])
        #expect(!second)
        var w = UTF8Validator()
        let impossible = w.validate([0xF4, 0x90])  // already impossible after two bytes
        #expect(!impossible)
    }

    @Test func asciiFastPathHandlesHighBytesAtEveryPosition() {
        for position in 0..<40 {
            var bytes = [UInt8](repeating: 0x61, count: 40)
            bytes[position] = 0xFF
            #expect(!UTF8Validator.isValid(bytes))
            bytes[position] = 0xC3
            if position + 1 < bytes.count { bytes[position + 1] = 0xA9; #expect(UTF8Validator.isValid(bytes)) }
        }
    }
}
