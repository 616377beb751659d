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
        maxFrameSize: 1 << 12, maxMessageSize: 1 << 13, streamsMessages: control & 0x80 != 0)

    var whole = WebSocketEngine(role: control & 0x40 != 0 ? .client : .server, configuration: configuration)
    whole.receive(input)
    let expected = whole.takeEvents()

    var split = WebSocketEngine(role: whole.role, configuration: configuration)
    let step = Int(control & 0x0F) + 1
    var index = 0
    var events: [WebSocketEngine.Event] = []
    while index < input.count {
        let end = min(index + step, input.count)
        split.receive(UnsafeRawBufferPointer(rebasing: input[index..<end]))
        events += split.takeEvents()
        index = end
    }
    if !configuration.streamsMessages {
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
