import Testing
@testable import WebSocketCore

@Suite struct RoundTripPropertyTests {
    /// Random messages, sent with random fragmentation and random control frames between them,
    /// arrive whole and in order however the byte stream is split.
    @Test(arguments: [WebSocketEngine.Role.client, .server], [UInt64(11), 12, 13])
    func randomMessagesSurviveAnySplit(sender: WebSocketEngine.Role, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var out = WebSocketEngine(role: sender)
        var expected: [WebSocketEngine.Event] = []
        for _ in 0..<60 {
            let message: Message
            if Bool.random(using: &rng) {
                message = .text(randomText(Int.random(in: 0..<300, using: &rng), using: &rng))
            } else {
                let sizes = [0, 1, 125, 126, 1000, 70_000]
                message = .binary(randomBytes(sizes.randomElement(using: &rng)!, using: &rng))
            }
            let fragment = Bool.random(using: &rng) ? Int.random(in: 1...200, using: &rng) : nil
            try out.send(message, fragmentSize: fragment)
            expected.append(.message(message))
            if Int.random(in: 0..<4, using: &rng) == 0 {
                let payload = randomBytes(Int.random(in: 0...125, using: &rng), using: &rng)
                try out.pong(payload)
                expected.append(.pong(payload))
            }
        }
        let stream = out.takeOutboundBytes()
        let receiverRole: WebSocketEngine.Role = sender == .client ? .server : .client

        // Whole, then in random pieces, then byte by byte for a prefix.
        for mode in 0..<3 {
            var receiver = WebSocketEngine(role: receiverRole, configuration: .init(maxFrameSize: 1 << 20, maxMessageSize: 1 << 20))
            var index = 0
            while index < stream.count {
                let size: Int
                switch mode {
                case 0: size = stream.count
                case 1: size = Int.random(in: 1...3000, using: &rng)
                default: size = index < 5000 ? 1 : Int.random(in: 1...100_000, using: &rng)
                }
                let end = min(index + size, stream.count)
                receiver.receive(Array(stream[index..<end]))
                index = end
            }
            #expect(receiver.takeEvents() == expected, "mode \(mode)")
            #expect(receiver.readyState == .open)
        }
    }

    /// Streaming mode delivers the same bytes as whole-message mode, however the input is split.
    @Test func streamingConcatenatesToTheWholeMessage() throws {
        var rng = SeededGenerator(seed: 21)
        var client = WebSocketEngine(role: .client)
        var messages: [Message] = []
        for _ in 0..<20 {
            let m = Message.text(randomText(Int.random(in: 0..<2000, using: &rng), using: &rng))
            messages.append(m)
            try client.send(m, fragmentSize: Int.random(in: 1...500, using: &rng))
        }
        let stream = client.takeOutboundBytes()
        var server = WebSocketEngine(role: .server, configuration: .init(deliversFragments: true))
        var index = 0
        while index < stream.count {
            let end = min(index + Int.random(in: 1...700, using: &rng), stream.count)
            server.receive(Array(stream[index..<end]))
            index = end
        }
        var rebuilt: [Message] = []
        var current: [UInt8] = []
        for event in server.takeEvents() {
            guard case .fragment(let f) = event else { Issue.record("\(event)"); continue }
            if f.isFirst { current = [] }
            current += f.data
            if f.isFinal { rebuilt.append(Message(kind: f.kind, data: current)) }
        }
        #expect(rebuilt == messages)
    }

    /// Random garbage never crashes the engine, and it always ends closed or still open with
    /// its buffers within the limits.
    @Test func randomBytesNeverCrash() {
        var rng = SeededGenerator(seed: 99)
        for _ in 0..<2000 {
            var engine = WebSocketEngine(role: .server, configuration: .init(maxFrameSize: 4096, maxMessageSize: 8192))
            var bytes = randomBytes(Int.random(in: 0..<64, using: &rng), using: &rng)
            if !bytes.isEmpty { bytes[0] = bytes[0] & 0x8F }  // keep RSV clear more often
            if bytes.count > 1 { bytes[1] |= 0x80 }
            engine.receive(bytes)
            for event in engine.takeEvents() {
                if case .failure(let error) = event { #expect([.protocolError, .invalidPayloadData, .messageTooBig].contains(error.code)) }
            }
        }
    }
}
