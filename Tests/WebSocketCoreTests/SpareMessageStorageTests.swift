import Testing
@testable import WebSocketCore

/// `lendMessageStorage(_:)` and `reclaimMessageStorage()`: an array the engine puts the next
/// message that arrives in pieces together in, instead of allocating one.
@Suite struct SpareMessageStorageTests {
    /// An array of `capacity` that still holds bytes from an earlier message.
    static func usedArray(capacity: Int) -> [UInt8] {
        var array = [UInt8](repeating: 0xEE, count: 100)
        array.reserveCapacity(capacity)
        return array
    }

    static func address(_ array: [UInt8]) -> UnsafeRawPointer? {
        array.withUnsafeBytes { UnsafeRawPointer($0.baseAddress) }
    }

    /// Passes `input` in two calls, cut `cut` bytes in, and returns the events.
    static func receive(_ engine: inout WebSocketEngine, _ input: [UInt8], cut: Int) -> [WebSocketEngine.Event] {
        engine.receive(Array(input[..<cut]))
        engine.receive(Array(input[cut...]))
        return engine.takeEvents()
    }

    static func onlyMessage(_ events: [WebSocketEngine.Event], sourceLocation: SourceLocation = #_sourceLocation) -> Message? {
        guard events.count == 1, case .message(let message) = events[0] else {
            Issue.record("expected one message, got \(events)", sourceLocation: sourceLocation)
            return nil
        }
        return message
    }

    @Test func aMessageInPiecesIsPutTogetherInTheLentArrayEmptiedFirst() {
        var engine = WebSocketEngine(role: .server)
        var storage = SpareMessageStorageTests.usedArray(capacity: 40_000)
        let address = SpareMessageStorageTests.address(storage)
        engine.lendMessageStorage(&storage)
        #expect(storage.capacity == 0)
        let payload = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let events = SpareMessageStorageTests.receive(&engine, clientFrame(0x2, payload), cut: 1_000)
        let message = SpareMessageStorageTests.onlyMessage(events)
        #expect(message?.data == payload)  // none of the array's old bytes are left
        #expect(message.map { SpareMessageStorageTests.address($0.data) } == address)
        #expect(engine.reclaimMessageStorage().capacity == 0)  // it went with the message
    }

    /// Arrays are values: a lent array that someone else still holds is not written to.
    @Test func aLentArrayHeldElsewhereKeepsItsBytes() {
        var engine = WebSocketEngine(role: .server)
        let kept = SpareMessageStorageTests.usedArray(capacity: 40_000)
        var storage = kept
        engine.lendMessageStorage(&storage)
        let payload = [UInt8](repeating: 5, count: 30_000)
        let events = SpareMessageStorageTests.receive(&engine, clientFrame(0x2, payload), cut: 1_000)
        #expect(SpareMessageStorageTests.onlyMessage(events)?.data == payload)
        #expect(kept == [UInt8](repeating: 0xEE, count: 100))
    }

    @Test func anArrayNoMessageUsedIsReclaimed() {
        var engine = WebSocketEngine(role: .server)
        var storage = SpareMessageStorageTests.usedArray(capacity: 40_000)
        let address = SpareMessageStorageTests.address(storage)
        engine.lendMessageStorage(&storage)
        let payload = [UInt8](repeating: 3, count: 30_000)
        engine.receive(clientFrame(0x2, payload))  // whole in one call: copied out, not put together
        #expect(SpareMessageStorageTests.onlyMessage(engine.takeEvents())?.data == payload)
        let reclaimed = engine.reclaimMessageStorage()
        #expect(SpareMessageStorageTests.address(reclaimed) == address)
        #expect(reclaimed.isEmpty && reclaimed.capacity >= 40_000)
        #expect(engine.reclaimMessageStorage().capacity == 0)  // the engine holds no array now
    }

    /// While part of a message is held, a lent array is not taken, and reclaiming leaves the
    /// part where it is.
    @Test func nothingIsTakenOrReclaimedWhileAMessageIsHeld() {
        var engine = WebSocketEngine(role: .server)
        let payload = (0..<30_000).map { UInt8(truncatingIfNeeded: $0) }
        let input = clientFrame(0x2, payload)
        engine.receive(Array(input[..<1_000]))
        var storage = SpareMessageStorageTests.usedArray(capacity: 40_000)
        engine.lendMessageStorage(&storage)
        #expect(storage.count == 100)
        #expect(engine.reclaimMessageStorage().capacity == 0)
        #expect(engine.partialMessageBytes == 1_000 - (input.count - payload.count))
        engine.receive(Array(input[1_000...]))
        #expect(SpareMessageStorageTests.onlyMessage(engine.takeEvents())?.data == payload)
    }

    @Test func aLentArrayTooSmallForTheFrameStillGivesTheWholeMessage() {
        var engine = WebSocketEngine(role: .server)
        var storage = SpareMessageStorageTests.usedArray(capacity: 20_000)
        engine.lendMessageStorage(&storage)
        let payload = [UInt8](repeating: 9, count: 30_000)
        let events = SpareMessageStorageTests.receive(&engine, clientFrame(0x2, payload), cut: 1_000)
        #expect(SpareMessageStorageTests.onlyMessage(events)?.data == payload)
    }

    @Test func aFragmentedMessageIsPutTogetherInIt() {
        var engine = WebSocketEngine(role: .server)
        var storage = SpareMessageStorageTests.usedArray(capacity: 40_000)
        engine.lendMessageStorage(&storage)
        let first = [UInt8](repeating: 1, count: 10), second = [UInt8](repeating: 2, count: 30_000)
        let input = clientFrame(0x2, first, fin: false) + clientFrame(0x0, second)
        let events = SpareMessageStorageTests.receive(&engine, input, cut: 1_000)
        #expect(SpareMessageStorageTests.onlyMessage(events)?.data == first + second)
    }

    @Test func aCompressedMessageInflatesIntoIt() throws {
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: false, clientNoContextTakeover: false,
                                                    serverWindowBits: 15, clientWindowBits: 15, perFrame: false)
        let client = DeflateCodec(agreement: agreement, role: .client)
        var engine = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server))
        var storage = SpareMessageStorageTests.usedArray(capacity: 40_000)
        engine.lendMessageStorage(&storage)
        var rng = SeededGenerator(seed: 7)
        let payload = randomBytes(30_000, using: &rng)
        let encoded = try #require(client.encode(payload, opcode: .binary, force: true))
        let input = clientFrame(0x2, encoded.payload, rsv: encoded.reservedBits.rawValue)
        let events = SpareMessageStorageTests.receive(&engine, input, cut: 1_000)
        #expect(SpareMessageStorageTests.onlyMessage(events)?.data == payload)
    }
}
