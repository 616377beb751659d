@testable import WebSocketCore

/// Feeds `bytes` to a fresh server engine and returns its events and what it wrote.
func serverRun(_ bytes: [UInt8], configuration: WebSocketEngine.Configuration = .init(), codec: (any ExtensionCodec)? = nil) -> (events: [WebSocketEngine.Event], output: [UInt8], engine: WebSocketEngine) {
    var engine = WebSocketEngine(role: .server, configuration: configuration, extensionCodec: codec)
    engine.receive(bytes)
    let events = engine.takeEvents()
    return (events, engine.takeOutboundBytes(), engine)
}

/// A masked client frame.
func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, key: MaskingKey = MaskingKey(0x37, 0xFA, 0x21, 0x3D)) -> [UInt8] {
    var header = FrameHeader(fin: fin, reservedBits: ReservedBits(rawValue: rsv), opcode: .continuation, maskingKey: key, payloadLength: payload.count)
    header.opcodeValue = opcode
    var masked = payload
    key.apply(to: &masked)
    return header.encoded.bytes + masked
}

/// Decodes server frames with a client engine and returns its events.
func clientDecode(_ bytes: [UInt8]) -> [WebSocketEngine.Event] {
    var client = WebSocketEngine(role: .client)
    client.receive(bytes)
    return client.takeEvents()
}

extension WebSocketEngine.Event {
    var failureCode: CloseCode? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}

/// A small deterministic generator (SplitMix64) so that property tests can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomBytes(_ count: Int, using rng: inout SeededGenerator) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// Random valid UTF-8 text of about `count` scalars, mixing 1- to 4-byte characters.
func randomText(_ count: Int, using rng: inout SeededGenerator) -> String {
    var scalars = String.UnicodeScalarView()
    for _ in 0..<count {
        let ranges: [ClosedRange<UInt32>] = [0x20...0x7E, 0x80...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF]
        let range = ranges[Int.random(in: 0..<ranges.count, using: &rng)]
        scalars.append(Unicode.Scalar(UInt32.random(in: range, using: &rng))!)
    }
    return String(scalars)
}
