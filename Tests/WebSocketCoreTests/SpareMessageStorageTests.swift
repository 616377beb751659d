import Testing
@testable import WebSocketCore

/// `spareMessageStorage`: the array an engine may take, instead of allocating, for the next
/// message that arrives in pieces.
@Suite struct SpareMessageStorageTests {
    /// A spare array of `capacity` that still holds bytes from an earlier message.
    static func usedArray(capacity: Int) -> [UInt8] {
        var array = [UInt8](repeating: 0xEE, count: 100)
        array.reserveCapacity(capacity)
        return array
    }

    static func address(_ array: [UInt8]) -> UnsafeRawPointer? {
        array.withUnsafeBytes { UnsafeRawPointer($0.baseAddress) }
    }

    /// Feeds `frames` in two reads, cut `cut` bytes into the input, and returns the events.
    static func receive(_ engine: inout WebSocketEngine, _ input: [UInt8], cut: Int) -> [WebSocketEngine.Event] {
        engine.receive(Array(input[..<cut]))
        engine.receive(Array(input[cut...]))
        return engine.takeEvents()
    }

    @Test func aMessageInPiecesIsPutTogetherInTheSpareArrayEmptiedFirst() {
        var engine = WebSocketEngine(role: .server)
        engine.spareMessageStorage = SpareMessageStorageTests.usedArray(capacity: 40_000)
        let address = SpareMessageStorageTests.address(engine.spareMessageStorage)
        let payload = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let events = SpareMessageStorageTests.receive(&engine, clientFrame(0x2, payload), cut: 1_000)
        guard case .message(let message)? = events.first, events.count == 1 else {
            Issue.record("expected one message, got \(events)")
            return
        }
        #expect(message.data == payload)  // none of the spare's old bytes are left
        #expect(SpareMessageStorageTests.address(message.data) == address)
        #expect(engine.spareMessageStorage.capacity == 0)
    }

    /// Arrays are values: a spare that someone else still holds is not written to.
    @Test func aSpareHeldElsewhereKeepsItsBytes() {
        var engine = WebSocketEngine(role: .server)
        let kept = SpareMessageStorageTests.usedArray(capacity: 40_000)
        engine.spareMessageStorage = kept
        let payload = [UInt8](repeating: 5, count: 30_000)
        let events = SpareMessageStorageTests.receive(&engine, clientFrame(0x2, payload), cut: 1_000)
        if case .message(let message)? = events.first { #expect(message.data == payload) } else { Issue.record("\(events)") }
        #expect(kept == [UInt8](repeating: 0xEE, count: 100))
    }

    @Test func aSpareTooSmallForTheFrameIsLeftAlone() {
        var engine = WebSocketEngine(role: .server)
        engine.spareMessageStorage = SpareMessageStorageTests.usedArray(capacity: 20_000)
        let capacity = engine.spareMessageStorage.capacity
        let payload = [UInt8](repeating: 9, count: 30_000)
        let events = SpareMessageStorageTests.receive(&engine, clientFrame(0x2, payload), cut: 1_000)
        #expect(events.count == 1)
        if case .message(let message)? = events.first { #expect(message.data == payload) }
        #expect(engine.spareMessageStorage.capacity == capacity)
    }

    @Test func aMessageWholeInOneReadLeavesTheSpareAlone() {
        var engine = WebSocketEngine(role: .server)
        engine.spareMessageStorage = SpareMessageStorageTests.usedArray(capacity: 40_000)
        let payload = [UInt8](repeating: 3, count: 30_000)
        engine.receive(clientFrame(0x2, payload))
        let events = engine.takeEvents()
        if case .message(let message)? = events.first { #expect(message.data == payload) } else { Issue.record("\(events)") }
        #expect(engine.spareMessageStorage.capacity >= 40_000)
    }

    @Test func aLaterFrameOfAFragmentedMessageDoesNotTakeIt() {
        var engine = WebSocketEngine(role: .server)
        engine.spareMessageStorage = SpareMessageStorageTests.usedArray(capacity: 40_000)
        let first = [UInt8](repeating: 1, count: 10), second = [UInt8](repeating: 2, count: 30_000)
        let input = clientFrame(0x2, first, fin: false) + clientFrame(0x0, second)
        let events = SpareMessageStorageTests.receive(&engine, input, cut: 1_000)
        if case .message(let message)? = events.first { #expect(message.data == first + second) } else { Issue.record("\(events)") }
        #expect(engine.spareMessageStorage.capacity >= 40_000)
    }

    @Test func aCompressedMessageDoesNotTakeIt() throws {
        let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: false, clientNoContextTakeover: false,
                                                    serverWindowBits: 15, clientWindowBits: 15, perFrame: false)
        let client = DeflateCodec(agreement: agreement, role: .client)
        var engine = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server))
        engine.spareMessageStorage = SpareMessageStorageTests.usedArray(capacity: 1 << 20)
        var rng = SeededGenerator(seed: 7)
        let payload = randomBytes(30_000, using: &rng)
        let encoded = try #require(client.encode(payload, opcode: .binary, force: true))
        let input = clientFrame(0x2, encoded.payload, rsv: encoded.reservedBits.rawValue)
        let events = SpareMessageStorageTests.receive(&engine, input, cut: 1_000)
        if case .message(let message)? = events.first { #expect(message.data == payload) } else { Issue.record("\(events)") }
        #expect(engine.spareMessageStorage.capacity >= 1 << 20)
    }
}
