import Testing
@testable import WebSocketCore

/// Feeds `input` to a server engine in the pieces `cuts` makes, and after each piece takes
/// every event, answering each text message with "echo:<text>" the way an application would.
/// Returns the events and the frames the engine wrote, decoded by a client.
private func echoRun(_ input: [UInt8], cuts: [Int], codec: (any ExtensionCodec)? = nil) -> (events: [WebSocketEngine.Event], written: [WebSocketEngine.Event]) {
    var engine = WebSocketEngine(role: .server, extensionCodec: codec)
    var events: [WebSocketEngine.Event] = []
    var output: [UInt8] = []
    var start = 0
    for end in cuts + [input.count] where end >= start {
        engine.receive(Array(input[start..<end]))
        start = end
        while let event = engine.nextEvent() {
            events.append(event)
            if case .message(let message) = event, let text = message.text {
                try? engine.send("echo:" + text)
            }
        }
        output += engine.takeOutboundBytes()
    }
    var client = WebSocketEngine(role: .client)
    client.receive(output)
    var written: [WebSocketEngine.Event] = []
    while let event = client.nextEvent() { written.append(event) }
    return (events, written)
}

/// Every way of cutting `count` bytes in two, and a few in three.
private func splits(_ count: Int) -> [[Int]] {
    (0...count).map { [$0] } + stride(from: 1, to: count, by: 3).map { [$0 / 2, $0] }
}

@Suite struct EventOrderTests {
    @Test func aReplyToAMessageBeforeACloseLeavesBeforeTheAnsweringClose() {
        let input = clientFrame(0x1, Array("hello".utf8)) + clientFrame(0x8, [0x03, 0xE8])
        for cut in splits(input.count) {
            let run = echoRun(input, cuts: cut)
            #expect(run.events == [.message(.text("hello")), .close(CloseFrame(code: .normalClosure))], "cuts \(cut)")
            #expect(run.written == [.message(.text("echo:hello")), .close(CloseFrame(code: .normalClosure))], "cuts \(cut)")
        }
    }

    @Test("A reply to a message before a bad frame leaves before the failing Close", arguments: [
        ("reserved opcode", clientFrame(0x3, [])),
        ("reserved bits", clientFrame(0x1, Array("x".utf8), rsv: 0x20)),
        ("continuation with nothing to continue", clientFrame(0x0, Array("x".utf8))),
        ("unmasked frame", [0x81, 0x01, 0x78]),
        ("invalid UTF-8", clientFrame(0x1, [0xC0, 0x80])),
    ] as [(String, [UInt8])])
    func replyBeforeFailingClose(name: String, bad: [UInt8]) {
        let input = clientFrame(0x1, Array("hello".utf8)) + bad + clientFrame(0x1, Array("never".utf8))
        for cut in splits(input.count) {
            let run = echoRun(input, cuts: cut)
            #expect(run.events.count == 2, "\(name), cuts \(cut)")
            #expect(run.events.first == .message(.text("hello")), "\(name), cuts \(cut)")
            #expect(run.written.first == .message(.text("echo:hello")), "\(name), cuts \(cut)")
            guard case .close(let frame)? = run.written.last, run.written.count == 2 else {
                Issue.record("\(name), cuts \(cut): wrote \(run.written)")
                continue
            }
            #expect(frame.code == run.events.last?.failureCode, "\(name), cuts \(cut)")
        }
    }

    @Test func aFragmentedMessageThenAStrayContinuation() {
        let input = clientFrame(0x1, Array("ab".utf8), fin: false) + clientFrame(0x0, Array("cd".utf8)) + clientFrame(0x0, Array("ef".utf8))
        for cut in splits(input.count) {
            let run = echoRun(input, cuts: cut)
            #expect(run.events.first == .message(.text("abcd")))
            #expect(run.events.last?.failureCode == .protocolError)
            #expect(run.written.first == .message(.text("echo:abcd")), "cuts \(cut)")
            #expect(run.written.count == 2)
        }
    }

    @Test func stateChangesWhenTheCloseIsTakenNotWhenItIsParsed() throws {
        var engine = WebSocketEngine(role: .server)
        engine.receive(clientFrame(0x1, Array("hi".utf8)) + clientFrame(0x8, [0x03, 0xE8]))
        #expect(engine.readyState == .open)
        #expect(!engine.hasOutbound)
        #expect(engine.nextEvent() == .message(.text("hi")))
        // Still open: a reply to "hi" may be sent.
        #expect(engine.readyState == .open)
        try engine.send("reply")
        #expect(engine.closeReceived == nil)
        #expect(engine.nextEvent() == .close(CloseFrame(code: .normalClosure)))
        #expect(engine.readyState == .closed)
        #expect(engine.closeReceived == CloseFrame(code: .normalClosure))
        #expect(throws: WebSocketEngine.SendError.notOpen) { try engine.send("late") }
        #expect(clientDecode(engine.takeOutboundBytes()) == [.message(.text("reply")), .close(CloseFrame(code: .normalClosure))])
    }

    @Test func theFailureIsRecordedWhenTaken() {
        var engine = WebSocketEngine(role: .server)
        engine.receive(clientFrame(0x1, Array("hi".utf8)) + clientFrame(0x7, []))
        #expect(engine.failure == nil)
        #expect(engine.readyState == .open)
        _ = engine.nextEvent()
        #expect(engine.nextEvent()?.failureCode == .protocolError)
        #expect(engine.failure?.code == .protocolError)
        #expect(engine.readyState == .closed)
    }

    @Test func aPingIsAnsweredWhenItsEventIsTaken() throws {
        var engine = WebSocketEngine(role: .server)
        engine.receive(clientFrame(0x1, Array("m".utf8)) + clientFrame(0x9, [7]))
        #expect(!engine.hasOutbound)
        #expect(engine.nextEvent() == .message(.text("m")))
        try engine.send("reply to m")
        #expect(engine.nextEvent() == .ping([7]))
        #expect(clientDecode(engine.takeOutboundBytes()) == [.message(.text("reply to m")), .pong([7])])
    }

    @Test func nothingAfterThePeersCloseIsRead() {
        let run = serverRun(clientFrame(0x8, [0x03, 0xE8]) + clientFrame(0x1, Array("after".utf8)) + clientFrame(0x9, []))
        #expect(run.events == [.close(CloseFrame(code: .normalClosure))])
        #expect(clientDecode(run.output) == [.close(CloseFrame(code: .normalClosure))])
    }

    @Test func aCloseThisEndSentIsNotAnsweredAgain() throws {
        var engine = WebSocketEngine(role: .server)
        try engine.close(code: .goingAway)
        engine.receive(clientFrame(0x8, [0x03, 0xE9]))
        #expect(engine.readyState == .closing)
        #expect(engine.nextEvent() == .close(CloseFrame(code: .goingAway)))
        #expect(engine.readyState == .closed)
        #expect(clientDecode(engine.takeOutboundBytes()) == [.close(CloseFrame(code: .goingAway))])
    }
}

@Suite struct EventBacklogTests {
    @Test func aReadOfTinyFramesIsParsedAFewHundredEventsAtATime() {
        var input: [UInt8] = []
        for i in 0..<2_000 { input += clientFrame(0x2, [UInt8(truncatingIfNeeded: i)]) }
        var engine = WebSocketEngine(role: .server)
        engine.receive(input)
        #expect(engine.hasUnprocessedInput)
        #expect(engine.hasEvents)
        var taken = 0
        var mostPending = 0
        while let event = engine.nextEvent() {
            #expect(event == .message(.binary([UInt8(truncatingIfNeeded: taken)])))
            taken += 1
            mostPending = max(mostPending, engine.pendingEventCount)
        }
        #expect(taken == 2_000)
        #expect(mostPending < WebSocketEngine.maxEventBacklog)
        #expect(!engine.hasUnprocessedInput)
        #expect(!engine.hasEvents)
    }

    @Test func inputArrivingWhileTheBacklogIsFullKeepsItsOrder() {
        var engine = WebSocketEngine(role: .server)
        var first: [UInt8] = []
        for i in 0..<600 { first += clientFrame(0x1, Array("\(i)".utf8)) }
        engine.receive(first)
        // A frame split across the waiting input and the next read.
        let next = clientFrame(0x1, Array("600".utf8))
        engine.receive(Array(next[0..<3]))
        engine.receive(Array(next[3...]))
        let texts = engine.takeEvents().compactMap { event -> String? in
            if case .message(let m) = event { return m.text }
            return nil
        }
        #expect(texts == (0...600).map { "\($0)" })
    }
}

@Suite struct UnfinishedMessageTests {
    @Test func partialMessageBytesFollowTheMessage() {
        var engine = WebSocketEngine(role: .server)
        #expect(engine.partialMessageBytes == 0)
        engine.receive(clientFrame(0x2, [UInt8](repeating: 1, count: 10_000), fin: false))
        #expect(engine.partialMessageBytes == 10_000)
        engine.receive(clientFrame(0x0, [UInt8](repeating: 2, count: 10_000)))
        #expect(engine.partialMessageBytes == 0)
        #expect(engine.nextEvent() == .message(.binary([UInt8](repeating: 1, count: 10_000) + [UInt8](repeating: 2, count: 10_000))))
    }

    @Test func aMessageOverTheAllowanceFailsWith1013AfterWhatCameBefore() throws {
        // Fragments, and one frame cut by the end of the input: both are held while they arrive.
        let fragmented = clientFrame(0x2, [UInt8](repeating: 1, count: 600), fin: false) + clientFrame(0x0, [UInt8](repeating: 1, count: 600))
        let oneFrame = clientFrame(0x2, [UInt8](repeating: 1, count: 1_200))
        for held in [fragmented, Array(oneFrame.dropLast(10))] {
            var engine = WebSocketEngine(role: .server)
            engine.partialMessageAllowance = 1_000
            engine.receive(clientFrame(0x1, Array("first".utf8)) + held)
            #expect(engine.nextEvent() == .message(.text("first")))
            try engine.send("reply")
            #expect(engine.nextEvent()?.failureCode == .tryAgainLater)
            #expect(engine.partialMessageBytes == 0)
            #expect(clientDecode(engine.takeOutboundBytes()).map { event -> CloseCode? in
                if case .close(let frame) = event { return frame.code }
                return nil
            } == [nil, .tryAgainLater])
        }
    }

    @Test func aWholeMessageInOneInputIsNeverHeld() {
        var engine = WebSocketEngine(role: .server)
        engine.partialMessageAllowance = 0
        engine.receive(clientFrame(0x2, [UInt8](repeating: 1, count: 5_000)))
        #expect(engine.nextEvent() == .message(.binary([UInt8](repeating: 1, count: 5_000))))
    }

    @Test func anInflatingMessageStopsAtTheAllowance() throws {
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: false, clientNoContextTakeover: false, serverWindowBits: 15, clientWindowBits: 15, perFrame: false)
        var client = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: agreement, role: .client))
        try client.send(.binary([UInt8](repeating: 0, count: 1 << 20)), compress: true, fragmentSize: 200)
        var frames = client.takeOutbound()
        frames.removeLast()  // unfinished
        var engine = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server))
        engine.partialMessageAllowance = 100_000
        for frame in frames { engine.receive(frame.bytes) }
        #expect(engine.nextEvent()?.failureCode == .tryAgainLater)
        // Without an allowance, the same frames are only held.
        var unlimited = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server))
        for frame in frames { unlimited.receive(frame.bytes) }
        #expect(unlimited.nextEvent() == nil)
        #expect(unlimited.partialMessageBytes > 100_000)
    }
}
