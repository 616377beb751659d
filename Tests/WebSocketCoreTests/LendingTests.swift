import Testing
@testable import WebSocketCore

/// `receive(lending:)`: a message that lies whole in the input is handed back as a place in it,
/// unmasked in place, instead of being copied into an event; everything else is as with
/// `receive(_:)`.
@Suite struct LendingTests {
    /// Feeds `input` as one read the way a server does: lends until the input is used, and
    /// returns what arrived in order (lent messages as `.message`) and how many were lent.
    static func lendingRead(_ engine: inout WebSocketEngine, _ input: [UInt8]) -> (events: [WebSocketEngine.Event], lent: Int) {
        var buffer = input
        var events: [WebSocketEngine.Event] = []
        var lent = 0
        buffer.withUnsafeMutableBytes { bytes in
            var rest = bytes
            while !rest.isEmpty {
                let (used, message) = engine.receive(lending: rest)
                if let message {
                    // Nothing may wait before a lent message: it is delivered first.
                    #expect(!engine.hasEvents)
                    let payload = UnsafeRawBufferPointer(rebasing: rest[message.payload])
                    events.append(.message(Message(kind: message.kind, data: Array(payload))))
                    lent += 1
                } else {
                    events += engine.takeEvents()
                }
                #expect(used > 0)
                rest = UnsafeMutableRawBufferPointer(rebasing: rest[used...])
            }
        }
        return (events, lent)
    }

    @Test func aWholeMessageIsLentUnmaskedInPlace() {
        var engine = WebSocketEngine(role: .server)
        var input = clientFrame(0x1, Array("Hello".utf8))
        input.withUnsafeMutableBytes { bytes in
            let (used, lent) = engine.receive(lending: bytes)
            #expect(used == 11)
            #expect(lent == LentMessage(kind: .text, payload: 6..<11))
        }
        #expect(Array(input[6...]) == Array("Hello".utf8))
        #expect(!engine.hasEvents)
    }

    @Test func parsingStopsAfterEachLentMessage() {
        var engine = WebSocketEngine(role: .server)
        let first = clientFrame(0x2, [1, 2, 3]), second = clientFrame(0x1, [])
        var input = first + second
        input.withUnsafeMutableBytes { bytes in
            let (used, lent) = engine.receive(lending: bytes)
            #expect(used == first.count)
            #expect(lent == LentMessage(kind: .binary, payload: 6..<9))
            let rest = UnsafeMutableRawBufferPointer(rebasing: bytes[used...])
            let (usedAgain, lentAgain) = engine.receive(lending: rest)
            #expect(usedAgain == second.count)
            #expect(lentAgain == LentMessage(kind: .text, payload: 6..<6))
        }
    }

    @Test func parsingStopsAfterAnEventSoTheNextMessageCanBeLent() {
        var engine = WebSocketEngine(role: .server)
        let ping = clientFrame(0x9, [7])
        var input = ping + clientFrame(0x1, Array("after".utf8))
        input.withUnsafeMutableBytes { bytes in
            let (used, lent) = engine.receive(lending: bytes)
            #expect(used == ping.count && lent == nil)
            #expect(engine.nextEvent() == .ping([7]))
            #expect(engine.receive(lending: UnsafeMutableRawBufferPointer(rebasing: bytes[used...])).lent?.kind == .text)
        }
    }

    @Test func whileAnEventWaitsNothingIsLentAndNothingOvertakesIt() {
        var engine = WebSocketEngine(role: .server)
        var input = clientFrame(0x9, [7])
        input.withUnsafeMutableBytes { _ = engine.receive(lending: $0) }
        var more = clientFrame(0x1, Array("after".utf8))
        more.withUnsafeMutableBytes { bytes in
            #expect(engine.receive(lending: bytes) == (used: bytes.count, lent: nil))
        }
        #expect(engine.takeEvents() == [.ping([7]), .message(.text("after"))])
    }

    @Test func aMessageCutByTheEndOfTheInputIsNotLent() {
        var engine = WebSocketEngine(role: .server)
        let frame = clientFrame(0x2, Array(repeating: 9, count: 300))
        var (events, lent) = LendingTests.lendingRead(&engine, Array(frame[..<100]))
        #expect(events.isEmpty && lent == 0)
        (events, lent) = LendingTests.lendingRead(&engine, Array(frame[100...]))
        #expect(lent == 0)
        #expect(events == [.message(.binary(Array(repeating: 9, count: 300)))])
    }

    @Test func fragmentedMessagesAreNotLent() {
        var engine = WebSocketEngine(role: .server)
        let input = clientFrame(0x1, Array("ab".utf8), fin: false) + clientFrame(0x0, Array("c".utf8))
        let (events, lent) = LendingTests.lendingRead(&engine, input)
        #expect(lent == 0)
        #expect(events == [.message(.text("abc"))])
    }

    @Test func invalidTextFailsAsWithoutLending() {
        var engine = WebSocketEngine(role: .server)
        let input = clientFrame(0x1, [0xC3, 0x28]) + clientFrame(0x1, Array("never".utf8))
        let (events, lent) = LendingTests.lendingRead(&engine, input)
        #expect(lent == 0)
        #expect(events.map(\.failureCode) == [.invalidPayloadData])
        #expect(engine.readyState == .closed)
    }

    @Test func streamingEnginesDoNotLend() {
        var engine = WebSocketEngine(role: .server, configuration: .init(deliversFragments: true))
        let (events, lent) = LendingTests.lendingRead(&engine, clientFrame(0x2, [1]))
        #expect(lent == 0)
        #expect(events == [.fragment(MessageFragment(kind: .binary, data: [1], isFirst: true, isFinal: true))])
    }

    @Test func compressedMessagesAreNotLent() throws {
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: false, clientNoContextTakeover: false,
                                                    serverWindowBits: 15, clientWindowBits: 15, perFrame: false)
        var client = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: agreement, role: .client))
        try client.send(.text(String(repeating: "squeeze ", count: 50)), compress: true)
        try client.send(.text("plain"), compress: false)
        var server = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server))
        let (events, lent) = LendingTests.lendingRead(&server, client.takeOutboundBytes())
        #expect(lent == 1)  // the plain one
        #expect(events == [.message(.text(String(repeating: "squeeze ", count: 50))), .message(.text("plain"))])
    }

    /// Random messages and control frames, split at random: lending gives exactly the events
    /// `receive(_:)` gives, in the same order, and lends most whole messages.
    @Test(arguments: [UInt64(31), 32, 33])
    func lendingChangesNothingButTheCopies(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var client = WebSocketEngine(role: .client)
        for _ in 0..<200 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: try client.ping(randomBytes(Int.random(in: 0...125, using: &rng), using: &rng))
            case 1: try client.send(.text(randomText(300, using: &rng)), fragmentSize: 100)
            case 2, 3, 4: try client.send(.binary(randomBytes(Int.random(in: 0...2000, using: &rng), using: &rng)))
            default: try client.send(.text(randomText(Int.random(in: 0...40, using: &rng), using: &rng)))
            }
        }
        let stream = client.takeOutboundBytes()
        var plain = WebSocketEngine(role: .server)
        plain.receive(stream)
        let expected = plain.takeEvents()

        var lending = WebSocketEngine(role: .server)
        var events: [WebSocketEngine.Event] = []
        var lentCount = 0
        var index = 0
        while index < stream.count {
            let end = min(stream.count, index + Int.random(in: 1...6000, using: &rng))
            let (read, lent) = LendingTests.lendingRead(&lending, Array(stream[index..<end]))
            events += read
            lentCount += lent
            index = end
        }
        #expect(events == expected)
        #expect(lentCount > expected.count / 2)
    }
}
