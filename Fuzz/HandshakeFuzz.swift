// libFuzzer entry point for the HTTP head parser and the server handshake.
// Built by Fuzz/run.sh together with the WebSocketCore sources.
//
// Invariants: no crash; any split gives the same head (or the same error status); a head that
// validates produces a 101 response whose accept value is right for its key (checked against the
// general SHA-1 path), and its headers survive a round trip through strings.

@_cdecl("LLVMFuzzerTestOneInput")
public func handshakeFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let limits = HTTPHeadLimits(maxHeadSize: 2048, maxHeaderCount: 20)

    func parse(step: Int) -> Result<HTTPRequestHead?, HTTPParseError> {
        var parser = HTTPHeadParser(limits: limits)
        var index = 0
        while index < input.count {
            let end = min(index + step, input.count)
            do {
                if case .complete(let head, _) = try parser.parseRequest(UnsafeRawBufferPointer(rebasing: input[index..<end])) {
                    return .success(head)
                }
            } catch {
                return .failure(error)
            }
            index = end
        }
        return .success(nil)
    }

    let whole = parse(step: max(input.count, 1))
    let pieces = parse(step: 1 + size % 7)
    switch (whole, pieces) {
    case (.success(let a), .success(let b)):
        precondition(a == b, "split input gave a different head")
    case (.failure(let a), .failure(let b)):
        precondition(a.status == b.status, "split input gave a different error")
    default:
        // A head that completes before the limit in one feed completes in pieces too.
        preconditionFailure("split input changed success into failure or back")
    }
    if case .success(let head?) = whole {
        do {
            let request = try ServerHandshake.validate(head)
            let offered = request.subprotocols.first
            let response = try ServerHandshake.acceptResponse(for: request, subprotocol: offered)
            // The accept value against SHA-1 and Base64 taken the long way (no two-block shortcut).
            let expected = Base64.encode(SHA1.hash(Array((request.key + ServerHandshake.guid).utf8)))
            precondition(response.headers["Sec-WebSocket-Accept"] == expected)
            // The parsed headers keep every field: rebuilding them from strings gives equal headers
            // (when every byte is valid UTF-8; obs-text values are repaired on the way to String).
            var isUTF8 = true
            head.headers.forEachField { name, value in
                if String(validating: name, as: UTF8.self) == nil || String(validating: value, as: UTF8.self) == nil { isUTF8 = false }
            }
            precondition(!isUTF8 || HTTPHeaders(head.headers.fields) == head.headers)
            _ = response.serialized()
        } catch {
            precondition([400, 405, 426].contains(error.status))
            _ = error.response.serialized()
        }
    }
    return 0
}
