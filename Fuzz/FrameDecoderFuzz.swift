// libFuzzer entry point for the frame decoder and message assembly (WebSocketEngine, server role).
// Built by Fuzz/run.sh together with the WebSocketCore sources.
//
// Invariants checked on every input, beyond "does not crash":
// - any split of the input gives the same events as the whole input;
// - every failure carries one of the close codes the engine may send for bad input;
// - the engine never buffers more than its limits allow.

@_cdecl("LLVMFuzzerTestOneInput")
public func frameDecoderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let control = data[0]
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let configuration = WebSocketEngine.Configuration(
        maxFrameSize: 1 << 12, maxMessageSize: 1 << 13, deliversFragments: control & 0x80 != 0)

    // Bit 0x20 turns on permessage-deflate, so the inflate path is fuzzed too.
    let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: false, clientNoContextTakeover: control & 0x10 != 0,
                                               serverWindowBits: 15, clientWindowBits: 15, perFrame: false)
    let role: WebSocketEngine.Role = control & 0x40 != 0 ? .client : .server
    func codec() -> (any ExtensionCodec)? { control & 0x20 != 0 ? DeflateCodec(agreement: agreement, role: role) : nil }
    var whole = WebSocketEngine(role: role, configuration: configuration, extensionCodec: codec())
    whole.receive(input)
    let expected = whole.takeEvents()

    var split = WebSocketEngine(role: role, configuration: configuration, extensionCodec: codec())
    let step = Int(control & 0x0F) + 1
    var index = 0
    var events: [WebSocketEngine.Event] = []
    while index < input.count {
        let end = min(index + step, input.count)
        split.receive(UnsafeRawBufferPointer(rebasing: input[index..<end]))
        events += split.takeEvents()
        index = end
    }
    if !configuration.deliversFragments {
        precondition(events == expected, "split input gave different events")
    }
    for event in expected {
        switch event {
        case .failure(let error):
            precondition([.protocolError, .invalidPayloadData, .messageTooBig].contains(error.code))
        case .message(let message):
            precondition(message.data.count <= configuration.maxMessageSize)
            if message.kind == .text { precondition(UTF8Validator.isValid(message.data)) }
        default:
            break
        }
    }
    return 0
}
