import Testing
@testable import WebSocketCore

@Suite struct FramingRuleTests {
    @Test("Text and binary of every length form", arguments: [0, 1, 125, 126, 127, 128, 65535, 65536, 100_000])
    func lengths(length: Int) {
        let payload = [UInt8](repeating: 0x2A, count: length)
        #expect(serverRun(clientFrame(0x1, payload)).events == [.message(Message(kind: .text, data: payload))])
        #expect(serverRun(clientFrame(0x2, payload)).events == [.message(.binary(payload))])
    }

    /// A frame read in pieces (a 64 KiB frame arrives as 65,522 bytes, then 14): the message
    /// buffer gets room for the whole frame at the first piece, so it is allocated once, at the
    /// frame's size, instead of doubling; a header announcing more than 1 MiB gets 1 MiB of room.
    @Test func aFrameReadInPiecesIsBufferedOnce() {
        for (length, firstPiece) in [(65_536, 65_522), (1 << 20, 65_522), (3 << 20, 65_522)] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
            let frame = clientFrame(0x2, payload)
            var engine = WebSocketEngine(role: .server, configuration: .init(maxFrameSize: 4 << 20, maxMessageSize: 4 << 20))
            engine.receive(Array(frame[..<(14 + firstPiece)]))
            engine.receive(Array(frame[(14 + firstPiece)...]))
            guard case .message(let message) = engine.nextEvent() else {
                Issue.record("no message for \(length) bytes")
                continue
            }
            #expect(message.data == payload)
            if length <= 1 << 20 {
                #expect(message.data.capacity < length + 4096, "\(length) bytes in a buffer of \(message.data.capacity)")
            }
        }
    }

    /// The engine is a value: a copy made after this end's Close keeps its own record of the
    /// ending (the record lives out of line and is copied when shared).
    @Test func aCopiedEngineKeepsItsOwnEnding() throws {
        var original = WebSocketEngine(role: .server)
        try original.close(code: .goingAway, reason: "bye")
        var copy = original
        copy.receive(clientFrame(0x8, [0x03, 0xE8]))
        _ = copy.takeEvents()
        #expect(copy.closeReceived?.code == .normalClosure)
        #expect(original.closeReceived == nil)
        #expect(original.closeSent?.code == .goingAway && copy.closeSent?.code == .goingAway)
        #expect(original.failure == nil && copy.failure == nil)
    }

    @Test func unmaskedClientFrameFailsWith1002() {
        let run = serverRun([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        #expect(run.events.first?.failureCode == .protocolError)
        #expect(run.engine.readyState == .closed)
        // The server answered with a Close frame carrying 1002.
        #expect(run.output[0] == 0x88)
        #expect(Array(run.output[2..<4]) == [0x03, 0xEA])
    }

    @Test func maskedServerFrameFailsTheClient() {
        var client = WebSocketEngine(role: .client)
        client.receive(clientFrame(0x1, [0x41]))
        #expect(client.nextEvent()?.failureCode == .protocolError)
    }

    @Test func lengthWithTopBitSetFails() {
        let bytes: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        #expect(serverRun(bytes).events.first?.failureCode == .protocolError)
        // Also when the header arrives a byte at a time.
        var engine = WebSocketEngine(role: .server)
        for byte in bytes { engine.receive([byte]) }
        #expect(engine.nextEvent()?.failureCode == .protocolError)
    }

    @Test("Reserved opcodes fail with 1002", arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func reservedOpcodes(opcode: UInt8) {
        // A valid message first, then the reserved opcode, then a message that must not be seen.
        let bytes = clientFrame(0x1, Array("ok".utf8)) + clientFrame(opcode, []) + clientFrame(0x1, Array("after".utf8))
        let run = serverRun(bytes)
        #expect(run.events.count == 2)
        #expect(run.events.first == .message(.text("ok")))
        #expect(run.events.last?.failureCode == .protocolError)
    }

    @Test("Reserved bits without an extension fail with 1002", arguments: [0x40, 0x20, 0x10, 0x70] as [UInt8])
    func reservedBits(rsv: UInt8) {
        #expect(serverRun(clientFrame(0x1, Array("x".utf8), rsv: rsv)).events.first?.failureCode == .protocolError)
        #expect(serverRun(clientFrame(0x9, [], rsv: rsv)).events.first?.failureCode == .protocolError)
        #expect(serverRun(clientFrame(0x2, [], rsv: rsv)).events.first?.failureCode == .protocolError)
    }

    @Test func controlFramesOver125BytesFail() {
        #expect(serverRun(clientFrame(0x9, [UInt8](repeating: 1, count: 125))).events == [.ping([UInt8](repeating: 1, count: 125))])
        #expect(serverRun(clientFrame(0x9, [UInt8](repeating: 1, count: 126))).events.first?.failureCode == .protocolError)
        #expect(serverRun(clientFrame(0xA, [UInt8](repeating: 1, count: 126))).events.first?.failureCode == .protocolError)
        #expect(serverRun(clientFrame(0x8, [0x03, 0xE8] + [UInt8](repeating: 0x61, count: 124))).events.first?.failureCode == .protocolError)
    }

    @Test func fragmentedControlFramesFail() {
        #expect(serverRun(clientFrame(0x9, [1], fin: false)).events.first?.failureCode == .protocolError)
        #expect(serverRun(clientFrame(0x8, [0x03, 0xE8], fin: false)).events.first?.failureCode == .protocolError)
    }
}

@Suite struct PingPongTests {
    @Test func pingIsAnsweredWithTheSamePayload() {
        let run = serverRun(clientFrame(0x9, Array("hello".utf8)))
        #expect(run.events == [.ping(Array("hello".utf8))])
        #expect(run.output == [0x8A, 0x05] + Array("hello".utf8))
    }

    @Test func emptyPingAndManyPings() {
        var bytes: [UInt8] = []
        for i in 0..<10 { bytes += clientFrame(0x9, [UInt8(i)]) }
        let run = serverRun(bytes + clientFrame(0x9, []))
        #expect(run.events.count == 11)
        #expect(clientDecode(run.output) == (0..<10).map { .pong([UInt8($0)]) } + [.pong([])])
    }

    @Test func unsolicitedPongIsReportedAndNotAnswered() {
        let run = serverRun(clientFrame(0xA, [9, 9]))
        #expect(run.events == [.pong([9, 9])])
        #expect(run.output.isEmpty)
    }

    @Test func pingRepliesCanBeTurnedOff() {
        let run = serverRun(clientFrame(0x9, [1]), configuration: .init(repliesToPings: false))
        #expect(run.events == [.ping([1])])
        #expect(run.output.isEmpty)
    }

    @Test func sendingPingValidatesTheLength() throws {
        var engine = WebSocketEngine(role: .server)
        try engine.ping([1, 2])
        #expect(engine.takeOutboundBytes() == [0x89, 0x02, 1, 2])
        #expect(throws: WebSocketEngine.SendError.controlPayloadTooLarge) { try engine.ping([UInt8](repeating: 0, count: 126)) }
    }
}

@Suite struct FragmentationTests {
    @Test func fragmentsWithInterleavedControlFrames() {
        let bytes = clientFrame(0x1, Array("Hel".utf8), fin: false) + clientFrame(0x9, [7])
            + clientFrame(0x0, [], fin: false) + clientFrame(0xA, []) + clientFrame(0x0, Array("lo".utf8))
        let run = serverRun(bytes)
        #expect(run.events == [.ping([7]), .pong([]), .message(.text("Hello"))])
    }

    @Test func continuationWithoutAMessageFails() {
        #expect(serverRun(clientFrame(0x0, [1])).events.first?.failureCode == .protocolError)
        #expect(serverRun(clientFrame(0x0, [1], fin: false)).events.first?.failureCode == .protocolError)
    }

    @Test func newMessageInsideAnOpenOneFails() {
        let bytes = clientFrame(0x1, [0x41], fin: false) + clientFrame(0x1, [0x42])
        #expect(serverRun(bytes).events.first?.failureCode == .protocolError)
        let binary = clientFrame(0x2, [1], fin: false) + clientFrame(0x2, [2], fin: false)
        #expect(serverRun(binary).events.first?.failureCode == .protocolError)
    }

    @Test func emptyFragmentsMakeAnEmptyMessage() {
        let bytes = clientFrame(0x1, [], fin: false) + clientFrame(0x0, [], fin: false) + clientFrame(0x0, [])
        #expect(serverRun(bytes).events == [.message(.text(""))])
    }

    @Test func streamingDeliversPiecesAsTheyArrive() {
        var engine = WebSocketEngine(role: .server, configuration: .init(deliversFragments: true))
        let frame = clientFrame(0x2, [1, 2, 3, 4, 5, 6], fin: false) + clientFrame(0x0, [7, 8])
        engine.receive(Array(frame[0..<9]))  // header (6) + 3 payload bytes
        #expect(engine.takeEvents() == [.fragment(MessageFragment(kind: .binary, data: [1, 2, 3], isFirst: true, isFinal: false))])
        engine.receive(Array(frame[9...]))
        #expect(engine.takeEvents() == [
            .fragment(MessageFragment(kind: .binary, data: [4, 5, 6], isFirst: false, isFinal: false)),
            .fragment(MessageFragment(kind: .binary, data: [7, 8], isFirst: false, isFinal: true)),
        ])
    }

    @Test func sendingFragmentsSplitsTheMessage() throws {
        var engine = WebSocketEngine(role: .server)
        try engine.send(.text("abcdefg"), fragmentSize: 3)
        let frames = engine.takeOutbound()
        #expect(frames.map { $0.header.bytes[0] } == [0x01, 0x00, 0x80])
        #expect(clientDecode(frames.flatMap(\.bytes)) == [.message(.text("abcdefg"))])
    }
}

@Suite struct UTF8RuleTests {
    @Test func invalidTextFailsWith1007() {
        #expect(serverRun(clientFrame(0x1, [0xCE, 0xBA, 0xFF])).events.first?.failureCode == .invalidPayloadData)
        // Valid bytes in a binary message are never checked.
        #expect(serverRun(clientFrame(0x2, [0xFF])).events == [.message(.binary([0xFF]))])
    }

    @Test func textCutShortAtTheEndOfTheMessageFails() {
        #expect(serverRun(clientFrame(0x1, [0x41, 0xE2, 0x82])).events.first?.failureCode == .invalidPayloadData)
    }

    @Test func aCharacterMaySpanFragments() {
        let euro = Array("€".utf8)  // E2 82 AC
        let bytes = clientFrame(0x1, [euro[0]], fin: false) + clientFrame(0x0, [euro[1]], fin: false) + clientFrame(0x0, [euro[2]])
        #expect(serverRun(bytes).events == [.message(.text("€"))])
    }

    @Test func failsFastInsideAnIncompleteFrame() {
        // A 100-byte text frame whose 3rd byte is invalid: the failure comes before the rest arrives.
        var payload = [UInt8](repeating: 0x41, count: 100)
        payload[2] = 0xFF
        let frame = clientFrame(0x1, payload)
        var engine = WebSocketEngine(role: .server)
        engine.receive(Array(frame[0..<(6 + 10)]))
        #expect(engine.nextEvent()?.failureCode == .invalidPayloadData)
    }

    @Test func failsFastOnAnInvalidFragmentBeforeTheMessageEnds() {
        let bytes = clientFrame(0x1, Array("ok".utf8), fin: false) + clientFrame(0x0, [0xC0, 0x80], fin: false)
        #expect(serverRun(bytes).events.first?.failureCode == .invalidPayloadData)
    }
}

@Suite struct CloseTests {
    @Test func closeWithCodeAndReasonIsEchoed() {
        let run = serverRun(clientFrame(0x8, [0x03, 0xE8] + Array("bye".utf8)))
        #expect(run.events == [.close(CloseFrame(code: .normalClosure, reason: "bye"))])
        #expect(run.output == [0x88, 0x02, 0x03, 0xE8])
        #expect(run.engine.readyState == .closed)
    }

    @Test func emptyCloseIsReportedAs1005AndAnsweredWithoutACode() {
        let run = serverRun(clientFrame(0x8, []))
        #expect(run.events == [.close(CloseFrame(code: nil))])
        if case .close(let frame) = run.events[0] { #expect(frame.reportedCode == .noStatusReceived) }
        #expect(run.output == [0x88, 0x00])
    }

    @Test func oneBytePayloadFails() {
        #expect(serverRun(clientFrame(0x8, [0x03])).events.first?.failureCode == .protocolError)
    }

    @Test("Codes that may not be received fail with 1002",
          arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] as [UInt16])
    func invalidCodes(code: UInt16) {
        let run = serverRun(clientFrame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)]))
        #expect(run.events.first?.failureCode == .protocolError)
    }

    @Test("Codes that may be received", arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] as [UInt16])
    func validCodes(code: UInt16) {
        let run = serverRun(clientFrame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)]))
        #expect(run.events == [.close(CloseFrame(code: CloseCode(code)))])
        #expect(run.output == [0x88, 0x02, UInt8(code >> 8), UInt8(code & 0xFF)])
    }

    @Test func reasonMustBeUTF8() {
        #expect(serverRun(clientFrame(0x8, [0x03, 0xE8, 0xFF])).events.first?.failureCode == .invalidPayloadData)
        let long = [UInt8](repeating: 0x61, count: 123)
        #expect(serverRun(clientFrame(0x8, [0x03, 0xE8] + long)).events == [.close(CloseFrame(code: .normalClosure, reason: String(repeating: "a", count: 123)))])
    }

    @Test func dataAfterCloseIsIgnored() {
        let run = serverRun(clientFrame(0x8, [0x03, 0xE8]) + clientFrame(0x1, Array("late".utf8)) + clientFrame(0x9, []))
        #expect(run.events.count == 1)
        #expect(run.output == [0x88, 0x02, 0x03, 0xE8])
    }

    @Test func closingHandshakeStartedHere() throws {
        var server = WebSocketEngine(role: .server)
        try server.close(code: .goingAway, reason: "restart")
        #expect(server.readyState == .closing)
        #expect(server.takeOutboundBytes() == [0x88, 0x09, 0x03, 0xE9] + Array("restart".utf8))
        // Nothing but close after close: sends are refused, pings not answered.
        #expect(throws: WebSocketEngine.SendError.notOpen) { try server.send("x") }
        server.receive(clientFrame(0x9, [1]) + clientFrame(0x1, Array("in flight".utf8)))
        #expect(server.takeEvents() == [.ping([1]), .message(.text("in flight"))])
        #expect(!server.hasOutbound)
        server.receive(clientFrame(0x8, [0x03, 0xE9]))
        #expect(server.takeEvents() == [.close(CloseFrame(code: .goingAway))])
        #expect(server.readyState == .closed)
        #expect(!server.hasOutbound)  // no second Close
    }

    @Test func closeRefusesCodesThatMayNotBeSent() {
        var engine = WebSocketEngine(role: .server)
        for code: UInt16 in [999, 1005, 1006, 1015, 2000, 5000] {
            #expect(throws: WebSocketEngine.SendError.invalidCloseCode(CloseCode(code))) { try engine.close(code: CloseCode(code)) }
        }
        #expect(throws: WebSocketEngine.SendError.closeReasonTooLong) { try engine.close(reason: String(repeating: "a", count: 124)) }
        #expect(engine.readyState == .open)
    }

    @Test func failureReasonIsCutToFitAClose() {
        let reason = WebSocketEngine.truncatedReason(String(repeating: "é", count: 100))
        #expect(reason.utf8.count <= 123)
        #expect(reason == String(repeating: "é", count: 61))
    }

    @Test func closeNamesAndWireRule() {
        #expect(CloseCode.normalClosure.description == "1000 (Normal Closure)")
        #expect(CloseCode(4001).description == "4001")
        #expect(!CloseCode.abnormalClosure.isValidOnWire)
        #expect(CloseCode.tryAgainLater.isValidOnWire)
    }
}

@Suite struct LimitTests {
    @Test func frameOverTheLimitFailsFromTheHeader() {
        let config = WebSocketEngine.Configuration(maxFrameSize: 1000, maxMessageSize: 10_000)
        // Only the header of a 1001-byte frame: the engine fails before any payload.
        let header = FrameHeader(opcode: .binary, maskingKey: MaskingKey(1, 2, 3, 4), payloadLength: 1001).encoded.bytes
        #expect(serverRun(header, configuration: config).events.first?.failureCode == .messageTooBig)
        let ok = serverRun(clientFrame(0x2, [UInt8](repeating: 0, count: 1000)), configuration: config)
        #expect(ok.events.count == 1 && ok.events[0].failureCode == nil)
    }

    @Test func messageOverTheLimitAcrossFragmentsFails() {
        let config = WebSocketEngine.Configuration(maxFrameSize: 100, maxMessageSize: 250)
        let chunk = [UInt8](repeating: 0x61, count: 100)
        let fits = clientFrame(0x1, chunk, fin: false) + clientFrame(0x0, chunk, fin: false) + clientFrame(0x0, Array(chunk[..<50]))
        #expect(serverRun(fits, configuration: config).events == [.message(.text(String(repeating: "a", count: 250)))])
        let over = clientFrame(0x1, chunk, fin: false) + clientFrame(0x0, chunk, fin: false) + clientFrame(0x0, Array(chunk[..<51]))
        let run = serverRun(over, configuration: config)
        #expect(run.events.first?.failureCode == .messageTooBig)
        #expect(Array(run.output[2..<4]) == [0x03, 0xF1])
    }

    @Test func aLongHeaderlessStreamHoldsNoMemory() {
        // A 2^62-byte frame header, then payload in pieces: fails at once, buffers nothing.
        let header: [UInt8] = [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        var engine = WebSocketEngine(role: .server)
        engine.receive(header)
        let piece = [UInt8](repeating: 7, count: 64 << 10)
        for _ in 0..<64 { engine.receive(piece) }
        #expect(engine.takeEvents().map(\.failureCode) == [.messageTooBig])
        #expect(engine.partialMessageBytes == 0)
        #expect(!engine.hasUnprocessedInput)
        #expect(engine.readyState == .closed)
    }
}
