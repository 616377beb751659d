import Testing
@testable import WebSocketCore

private let contextTakeover = PerMessageDeflate.Agreement(serverNoContextTakeover: false, clientNoContextTakeover: false, serverWindowBits: 15, clientWindowBits: 15, perFrame: false)

private func deflateServer(_ agreement: PerMessageDeflate.Agreement = contextTakeover, configuration: WebSocketEngine.Configuration = .init()) -> WebSocketEngine {
    WebSocketEngine(role: .server, configuration: configuration, extensionCodec: DeflateCodec(agreement: agreement, role: .server))
}

private func hexBytes(_ text: String) -> [UInt8] {
    text.split(separator: " ").map { UInt8($0, radix: 16)! }
}

@Suite struct RFC7692VectorTests {
    // RFC 7692 §7.2.3. Client frames are masked here; the payloads are the RFC's.
    @Test func helloCompressed() throws {
        var server = deflateServer()
        server.receive(clientFrame(0x1, hexBytes("f2 48 cd c9 c9 07 00"), rsv: 0x40))
        #expect(server.takeEvents() == [.message(.text("Hello"))])
        // And the server compresses "Hello" to the same bytes.
        try server.send("Hello", compress: true)
        #expect(server.takeOutboundBytes() == hexBytes("c1 07 f2 48 cd c9 c9 07 00"))
    }

    @Test func secondHelloUsesTheSharedWindow() throws {
        var server = deflateServer()
        server.receive(clientFrame(0x1, hexBytes("f2 48 cd c9 c9 07 00"), rsv: 0x40) + clientFrame(0x1, hexBytes("f2 00 11 00 00"), rsv: 0x40))
        #expect(server.takeEvents() == [.message(.text("Hello")), .message(.text("Hello"))])
        try server.send("Hello", compress: true)
        try server.send("Hello", compress: true)
        #expect(server.takeOutboundBytes() == hexBytes("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"))
    }

    @Test func uncompressedBlock() {
        var server = deflateServer()
        server.receive(clientFrame(0x1, hexBytes("00 05 00 fa ff 48 65 6c 6c 6f 00"), rsv: 0x40))
        #expect(server.takeEvents() == [.message(.text("Hello"))])
    }

    @Test func fragmentedCompressedMessage() {
        var server = deflateServer()
        server.receive(clientFrame(0x1, hexBytes("f2 48 cd"), fin: false, rsv: 0x40) + clientFrame(0x0, hexBytes("c9 c9 07 00")))
        #expect(server.takeEvents() == [.message(.text("Hello"))])
    }

    @Test func finalBlockAndTwoBlocks() {
        var server = deflateServer()
        server.receive(clientFrame(0x1, hexBytes("f3 48 cd c9 c9 07 00 00"), rsv: 0x40)
                       + clientFrame(0x1, hexBytes("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"), rsv: 0x40))
        #expect(server.takeEvents() == [.message(.text("Hello")), .message(.text("Hello"))])
    }

    @Test func emptyMessageIsOneZeroByte() throws {
        var server = deflateServer()
        try server.send("", compress: true)
        #expect(server.takeOutboundBytes() == [0xC1, 0x01, 0x00])
        server.receive(clientFrame(0x2, [0x00], rsv: 0x40))
        #expect(server.takeEvents() == [.message(.binary([]))])
    }
}

@Suite struct DeflateRuleTests {
    @Test func rsv1OnAContinuationFrameFails() {
        var server = deflateServer()
        server.receive(clientFrame(0x1, hexBytes("f2 48 cd"), fin: false, rsv: 0x40) + clientFrame(0x0, hexBytes("c9 c9 07 00"), rsv: 0x40))
        #expect(server.nextEvent()?.failureCode == .protocolError)
    }

    @Test func rsv1WithoutNegotiationFails() {
        #expect(serverRun(clientFrame(0x1, hexBytes("f2 48 cd c9 c9 07 00"), rsv: 0x40)).events.first?.failureCode == .protocolError)
    }

    @Test func rsv1OnControlFramesFails() {
        var server = deflateServer()
        server.receive(clientFrame(0x9, [], rsv: 0x40))
        #expect(server.nextEvent()?.failureCode == .protocolError)
    }

    @Test func rsv2And3StayErrors() {
        var server = deflateServer()
        server.receive(clientFrame(0x1, [0x41], rsv: 0x20))
        #expect(server.nextEvent()?.failureCode == .protocolError)
    }

    @Test func invalidCompressedDataFailsWith1007() {
        var server = deflateServer()
        server.receive(clientFrame(0x2, [0xFF, 0xFF, 0xFF, 0xFF], rsv: 0x40))
        #expect(server.nextEvent()?.failureCode == .invalidPayloadData)
    }

    @Test func invalidUTF8InsideCompressedTextFailsWith1007() throws {
        var client = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: contextTakeover, role: .client))
        try client.send(Message(kind: .binary, data: [0x41, 0xFF, 0x42]), compress: true)
        var frame = client.takeOutboundBytes()
        // Turn the binary frame into a text frame (the opcode is in the unmasked first byte).
        frame[0] = (frame[0] & 0xF0) | 0x1
        var server = deflateServer()
        server.receive(frame)
        #expect(server.nextEvent()?.failureCode == .invalidPayloadData)
    }

    @Test func aBombStopsAtTheLimitWithBoundedMemory() throws {
        // 10 MiB of zeros compresses to about 10 KiB; the server's limit is 64 KiB.
        var client = WebSocketEngine(role: .client, configuration: .init(maxFrameSize: 64 << 20, maxMessageSize: 64 << 20),
                                     extensionCodec: DeflateCodec(agreement: contextTakeover, role: .client))
        try client.send(.binary([UInt8](repeating: 0, count: 10 << 20)), compress: true)
        let frame = client.takeOutboundBytes()
        #expect(frame.count < 20_000)
        let codec = DeflateCodec(agreement: contextTakeover, role: .server)
        var server = WebSocketEngine(role: .server, configuration: .init(maxFrameSize: 1 << 20, maxMessageSize: 64 << 10), extensionCodec: codec)
        server.receive(frame)
        let event = server.nextEvent()
        #expect(event?.failureCode == .messageTooBig)
        if case .failure(let error) = event { #expect(error.reason.contains("inflates past")) }
    }

    @Test func uncompressedMessagesDoNotFeedTheWindow() throws {
        // Compressed, then uncompressed, then compressed again: the receiver's window matches
        // only if the uncompressed message never went through the compressor.
        var server = deflateServer()
        try server.send("a repeated phrase, a repeated phrase", compress: true)
        try server.send("something else entirely", compress: false)
        try server.send("a repeated phrase, a repeated phrase", compress: true)
        let frames = server.takeOutbound()
        #expect(frames.map { $0.header.bytes[0] } == [0xC1, 0x81, 0xC1])
        var client = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: contextTakeover, role: .client))
        client.receive(frames.flatMap(\.bytes))
        #expect(client.takeEvents() == [.message(.text("a repeated phrase, a repeated phrase")), .message(.text("something else entirely")),
                                        .message(.text("a repeated phrase, a repeated phrase"))])
    }

    @Test func smallMessagesGoUncompressedUnlessForced() throws {
        var server = deflateServer()
        try server.send("tiny")
        try server.send("tiny", compress: true)
        #expect(server.takeOutbound().map { $0.header.bytes[0] } == [0x81, 0xC1])
    }

    /// Without context takeover a codec borrows the pool's streams for a message and holds
    /// none between messages; the pool hands the same streams to the next message (of any
    /// connection) instead of making new ones. With context takeover the streams stay.
    @Test func streamsAreBorrowedPerMessageWithoutContextTakeover() throws {
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: true, clientNoContextTakeover: true, serverWindowBits: 11, clientWindowBits: 11, perFrame: false)
        let deflateKind = ZlibStreamPool.Kind(compresses: true, windowBits: 11, level: 6, memoryLevel: 8)
        let inflateKind = ZlibStreamPool.Kind(compresses: false, windowBits: 11)
        let pool = ZlibStreamPool()  // this test's own: the shared one serves tests running beside it
        let codec = DeflateCodec(agreement: agreement, role: .server, pool: pool)
        #expect(codec.holdsStreams == (false, false))
        var server = WebSocketEngine(role: .server, extensionCodec: codec)
        var client = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: agreement, role: .client, pool: ZlibStreamPool()))
        let text = String(repeating: "abc", count: 100)
        try server.send(text)
        #expect(codec.holdsStreams == (false, false))
        #expect(pool.idleCount(deflateKind) == 1)
        client.receive(server.takeOutboundBytes())
        #expect(client.takeEvents() == [.message(.text(text))])

        // A message in two frames: the inflater is held from the first to the last.
        try client.send(.text(text), compress: true, fragmentSize: 10)
        let frames = client.takeOutboundBytes()
        server.receive(Array(frames[..<12]))
        #expect(server.takeEvents().isEmpty)
        #expect(codec.holdsStreams == (false, true))
        server.receive(Array(frames[12...]))
        #expect(server.takeEvents() == [.message(.text(text))])
        #expect(codec.holdsStreams == (false, false))
        #expect(pool.idleCount(inflateKind) == 1)

        // Another connection's messages reuse the same streams: the pool does not grow.
        let idle = (pool.idleCount(deflateKind), pool.idleCount(inflateKind))
        var second = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server, pool: pool))
        try second.send(text)
        try client.send(.text(text), compress: true)
        second.receive(client.takeOutboundBytes())
        #expect(second.takeEvents() == [.message(.text(text))])
        #expect((pool.idleCount(deflateKind), pool.idleCount(inflateKind)) == idle)

        let keeping = DeflateCodec(agreement: contextTakeover, role: .server)
        var other = WebSocketEngine(role: .server, extensionCodec: keeping)
        try other.send(text)
        #expect(keeping.holdsStreams == (true, false))
    }

    /// A codec closed in the middle of a compressed message gives its borrowed stream back
    /// reset: the next message that borrows it inflates correctly.
    @Test func aStreamLeftMidMessageGoesBackReset() throws {
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: true, clientNoContextTakeover: true, serverWindowBits: 10, clientWindowBits: 10, perFrame: false)
        let inflateKind = ZlibStreamPool.Kind(compresses: false, windowBits: 10)
        let pool = ZlibStreamPool()
        var client = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: agreement, role: .client, pool: ZlibStreamPool()))
        var rng = SeededGenerator(seed: 5)
        let text = randomText(400, using: &rng)  // compresses little: many frames of 50 bytes
        try client.send(.text(text), compress: true, fragmentSize: 50)
        let frames = client.takeOutboundBytes()
        #expect(frames.count > 500)
        do {
            var server = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server, pool: pool))
            server.receive(Array(frames[..<(frames.count / 2)]))
            #expect(server.takeEvents().isEmpty)
        }  // the engine and its codec are gone here, mid-message
        #expect(pool.idleCount(inflateKind) == 1)
        var server = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server, pool: pool))
        server.receive(frames)
        #expect(server.takeEvents() == [.message(.text(text))])
    }
}

@Suite struct DeflateNegotiationTests {
    func negotiate(_ header: String, _ configuration: PerMessageDeflate.Configuration = .init()) throws -> String? {
        let offers = ExtensionOffer.parse([header])!
        return try PerMessageDeflate(configuration).negotiate(offers)?.response.description
    }

    static let cases: [(String, PerMessageDeflate.Configuration, String?)] = [
        // What browsers send.
        ("permessage-deflate; client_max_window_bits", .init(), "permessage-deflate"),
        ("permessage-deflate", .init(), "permessage-deflate"),
        // Context takeover, asked for by either side.
        ("permessage-deflate; server_no_context_takeover", .init(), "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_no_context_takeover", .init(), "permessage-deflate; client_no_context_takeover"),
        ("permessage-deflate", .init(serverNoContextTakeover: true, clientNoContextTakeover: true),
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        // Windows.
        ("permessage-deflate; server_max_window_bits=10", .init(), "permessage-deflate; server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=12", .init(serverMaxWindowBits: 10), "permessage-deflate; server_max_window_bits=10"),
        ("permessage-deflate", .init(serverMaxWindowBits: 11), "permessage-deflate; server_max_window_bits=11"),
        ("permessage-deflate; client_max_window_bits=9", .init(), "permessage-deflate; client_max_window_bits=9"),
        ("permessage-deflate; client_max_window_bits", .init(clientMaxWindowBits: 10), "permessage-deflate; client_max_window_bits=10"),
        ("permessage-deflate; client_max_window_bits=12", .init(clientMaxWindowBits: 10), "permessage-deflate; client_max_window_bits=10"),
        // The server wants a small client window but the client cannot be limited: declined.
        ("permessage-deflate", .init(clientMaxWindowBits: 10), nil),
        // zlib cannot compress with an 8-bit window.
        ("permessage-deflate; server_max_window_bits=8", .init(), nil),
        // Invalid offers are declined (RFC 7692 §7): unknown, repeated, out of range, value where none is allowed.
        ("permessage-deflate; foo", .init(), nil),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", .init(), nil),
        ("permessage-deflate; server_max_window_bits=16", .init(), nil),
        ("permessage-deflate; server_max_window_bits=7", .init(), nil),
        ("permessage-deflate; server_max_window_bits=010", .init(), nil),
        ("permessage-deflate; server_max_window_bits", .init(), nil),
        ("permessage-deflate; client_max_window_bits=16", .init(), nil),
        ("permessage-deflate; server_no_context_takeover=1", .init(), nil),
        // Several offers: the first acceptable one wins.
        ("permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits", .init(), "permessage-deflate"),
        ("permessage-deflate; foo, permessage-deflate; server_max_window_bits=8", .init(), nil),
        ("permessage-deflate; server_max_window_bits=9; client_max_window_bits, permessage-deflate", .init(),
         "permessage-deflate; server_max_window_bits=9"),
    ]

    @Test("Negotiation table", arguments: cases)
    func table(offer: String, configuration: PerMessageDeflate.Configuration, response: String?) throws {
        #expect(try negotiate(offer, configuration) == response)
    }

    @Test func quotedValuesAreUnquoted() throws {
        #expect(try negotiate("permessage-deflate; server_max_window_bits=\"10\"") == "permessage-deflate; server_max_window_bits=10")
    }

    @Test func offersOnSeveralHeaderLinesThroughTheHandshake() throws {
        let text = rfcRequest.replacingOccurrences("Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; foo\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=11\r\n")
        let request = try ServerHandshake.validate(try parseRequest(text)!)
        let agreements = try ServerHandshake.negotiateExtensions(request, with: [PerMessageDeflate()])
        #expect(agreements.map(\.response.description) == ["permessage-deflate; client_max_window_bits=11"])
        // None acceptable: the connection goes on without compression.
        let none = rfcRequest.replacingOccurrences("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; bar\r\n")
        #expect(try ServerHandshake.negotiateExtensions(try ServerHandshake.validate(try parseRequest(none)!), with: [PerMessageDeflate()]).isEmpty)
    }

    @Test func legacyDeflateFrameOnlyWhenEnabled() throws {
        #expect(try negotiate("x-webkit-deflate-frame") == nil)
        let configuration = PerMessageDeflate.Configuration(acceptsDeflateFrame: true)
        let text = rfcRequest.replacingOccurrences("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n")
        let request = try ServerHandshake.validate(try parseRequest(text)!)
        #expect(try ServerHandshake.negotiateExtensions(request, with: [PerMessageDeflate()]).isEmpty)
        let agreements = try ServerHandshake.negotiateExtensions(request, with: [PerMessageDeflate(configuration)])
        #expect(agreements.map(\.response.description) == ["x-webkit-deflate-frame"])
    }

    @Test func deflateFrameCompressesEachFrame() throws {
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: false, clientNoContextTakeover: false, serverWindowBits: 15, clientWindowBits: 15, perFrame: true)
        var server = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server))
        // Two frames of one message, each compressed on its own with RSV1 set.
        server.receive(clientFrame(0x1, hexBytes("f2 48 cd c9 c9 07 00"), fin: false, rsv: 0x40) + clientFrame(0x0, hexBytes("f2 00 11 00 00"), rsv: 0x40))
        #expect(server.takeEvents() == [.message(.text("HelloHello"))])
    }
}

@Suite struct DeflateRoundTripTests {
    @Test(arguments: [9, 10, 11, 12, 13, 14, 15], [false, true])
    func randomMessagesEveryWindow(bits: Int, noContext: Bool) throws {
        var rng = SeededGenerator(seed: UInt64(bits * 2 + (noContext ? 1 : 0)))
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: noContext, clientNoContextTakeover: !noContext,
                                                   serverWindowBits: bits, clientWindowBits: bits, perFrame: false)
        for (sender, receiver) in [(WebSocketEngine.Role.client, WebSocketEngine.Role.server), (.server, .client)] {
            var out = WebSocketEngine(role: sender, extensionCodec: DeflateCodec(agreement: agreement, role: sender))
            var expected: [WebSocketEngine.Event] = []
            for _ in 0..<25 {
                let message: Message = Bool.random(using: &rng)
                    ? .text(String(repeating: randomText(Int.random(in: 1..<40, using: &rng), using: &rng), count: Int.random(in: 1..<80, using: &rng)))
                    : .binary(randomBytes(Int.random(in: 0..<3000, using: &rng), using: &rng))
                let compress: Bool? = [nil, true, false].randomElement(using: &rng)!
                try out.send(message, compress: compress, fragmentSize: Bool.random(using: &rng) ? Int.random(in: 1...300, using: &rng) : nil)
                expected.append(.message(message))
            }
            let stream = out.takeOutboundBytes()
            var input = WebSocketEngine(role: receiver, extensionCodec: DeflateCodec(agreement: agreement, role: receiver))
            var index = 0
            while index < stream.count {
                let end = min(index + Int.random(in: 1...500, using: &rng), stream.count)
                input.receive(Array(stream[index..<end]))
                index = end
            }
            #expect(input.takeEvents() == expected)
        }
    }

    @Test func compressesTypicalJSON() throws {
        var server = deflateServer()
        let json = "{\"type\":\"trade\",\"symbol\":\"BTC-USD\",\"price\":\"43125.50\",\"size\":\"0.0125\",\"side\":\"buy\",\"ts\":1700000000123}"
        try server.send(json)
        let first = server.takeOutbound()[0].payload.count
        try server.send(json)
        let second = server.takeOutbound()[0].payload.count
        #expect(first < json.utf8.count)
        #expect(second < first / 3)  // the shared window makes repeats nearly free
    }
}

@Suite struct DeflateFuzzRegressionTests {
    /// Found by FrameDecoderFuzz: invalid compressed text split across receive calls must fail
    /// the same way however it is split (the first error in stream order wins).
    @Test func compressedFrameSplitAcrossInputs() {
        let input: [UInt8] = [0xc1, 0xdd, 0x8a, 0x01, 0x1d, 0xba, 0x50, 0x2d, 0xc1, 0xdd, 0x8a, 0x01, 0x1d, 0xba, 0x50,
                              0x07, 0x28, 0x2e, 0x07, 0x28, 0x2e, 0x6f, 0x6f, 0x97]
        var results: [[WebSocketEngine.Event]] = []
        for step in [input.count, 14, 1] {
            var engine = deflateServer(configuration: .init(maxFrameSize: 1 << 12, maxMessageSize: 1 << 13))
            var index = 0
            while index < input.count {
                let end = min(index + step, input.count)
                engine.receive(Array(input[index..<end]))
                index = end
            }
            results.append(engine.takeEvents())
        }
        #expect(results[0] == results[1])
        #expect(results[0] == results[2])
    }
}

/// RFC 7692 §7.2.3.5 lets a sender end a message's data with a block whose BFINAL bit is set.
/// What may follow it is only the rest of the empty stored block appended before the tail was
/// removed; anything that inflates to data is hidden after the end and fails with 1007.
@Suite struct FinalBlockTests {
    /// "Hello" as a whole raw deflate stream (its one block has BFINAL set).
    private let helloFinal = hexBytes("f3 48 cd c9 c9 07 00")
    /// "World" likewise.
    private let worldFinal = hexBytes("0b cf 2f ca 49 01 00")

    @Test func aSecondStreamAfterTheFinalBlockFailsWith1007() {
        let input = clientFrame(0x1, helloFinal + worldFinal, rsv: 0x40)
        for cut in 0...input.count {
            var server = deflateServer()
            server.receive(Array(input[..<cut]))
            server.receive(Array(input[cut...]))
            #expect(server.takeEvents().map(\.failureCode) == [.invalidPayloadData], "cut at \(cut)")
        }
    }

    @Test func dataAfterTheFinalBlockInALaterFrameFailsToo() {
        var server = deflateServer()
        server.receive(clientFrame(0x1, helloFinal, fin: false, rsv: 0x40) + clientFrame(0x0, worldFinal))
        #expect(server.takeEvents().map(\.failureCode) == [.invalidPayloadData])
    }

    @Test func anEmptyStoredBlockAfterTheFinalBlockIsPadding() {
        let input = clientFrame(0x1, helloFinal + hexBytes("00 00 00 ff ff"), rsv: 0x40) + clientFrame(0x1, hexBytes("f2 48 cd c9 c9 07 00"), rsv: 0x40)
        for cut in 0...input.count {
            var server = deflateServer()
            server.receive(Array(input[..<cut]))
            server.receive(Array(input[cut...]))
            // The next message starts a new stream and inflates on its own.
            #expect(server.takeEvents() == [.message(.text("Hello")), .message(.text("Hello"))], "cut at \(cut)")
        }
    }

    @Test func garbageAfterTheFinalBlockFailsWith1007() {
        var server = deflateServer()
        server.receive(clientFrame(0x1, helloFinal + [0xFF, 0xFF, 0xFF], rsv: 0x40))
        #expect(server.takeEvents().map(\.failureCode) == [.invalidPayloadData])
    }
}
