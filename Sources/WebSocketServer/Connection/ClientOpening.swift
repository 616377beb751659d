import WebSocketCore

/// What a client connection carries from its request to its open WebSocket: the request and
/// its key, the compression it offered, how messages are delivered, and whom to tell how the
/// opening ended (once).
///
/// A class, so that the connection's phase holds a reference rather than all of this.
/// `@unchecked Sendable`: made before the connection starts, then used on its queue only.
package final class ClientOpening: @unchecked Sendable {
    let handshake: ClientHandshake
    /// The request as the WebSocket reports it (``WebSocket/request``).
    let request: UpgradeRequest
    /// The permessage-deflate settings offered, if any.
    let deflate: PerMessageDeflate.Configuration?
    /// Runs on the connection's queue once open, before any message; without it messages go
    /// to ``WebSocket/messages``.
    let onOpen: (@Sendable (WebSocket) -> Void)?
    private var completion: (@Sendable (Result<WebSocket, WebSocketClientError>) -> Void)?

    package init(handshake: ClientHandshake, request: UpgradeRequest, deflate: PerMessageDeflate.Configuration?,
                 onOpen: (@Sendable (WebSocket) -> Void)?, completion: @escaping @Sendable (Result<WebSocket, WebSocketClientError>) -> Void) {
        self.handshake = handshake
        self.request = request
        self.deflate = deflate
        self.onOpen = onOpen
        self.completion = completion
    }

    /// Reports how the opening ended; only the first report counts.
    package func finish(_ result: Result<WebSocket, WebSocketClientError>) {
        guard let completion else { return }
        self.completion = nil
        completion(result)
    }
}

/// A client connection's opening: the request out, the response in, the checks of RFC 6455
/// §4.1 (done by ``ClientHandshake``), then the engine in the client role.
extension Connection {
    /// Starts a client connection on a connected socket: writes the opening request (over TLS
    /// that write starts the TLS handshake) and reads the answer. On the queue.
    func startClient(_ opening: ClientOpening) {
        loop.register(self)
        phase = .requesting(opening, HTTPHeadParser(limits: endpoint.settings.headLimits))
        writeQueue.append(.init(header: nil, payload: opening.handshake.serializedRequest, accounted: 0))
        flush()
        if !isClosed { readable() }
    }

    /// The opening of a client connection still under way, if this is one.
    var clientOpening: ClientOpening? {
        switch phase {
        case .requesting(let opening, _), .readingRefusal(let opening, _, _): opening
        default: nil
        }
    }

    /// Parses the response head as it arrives. On the queue.
    func parseResponse(_ bytes: UnsafeRawBufferPointer) {
        guard case .requesting(let opening, var parser) = phase else { return }
        phase = .finishing  // lets go of the parser while it parses, as parseHead does
        let progress: HTTPHeadParser.Progress<HTTPResponseHead>
        do {
            progress = try parser.parseResponse(bytes)
        } catch {
            phase = .requesting(opening, parser)
            failOpening(.invalidHandshake("the response is not valid HTTP: \(error.reason)"))
            return
        }
        switch progress {
        case .needMoreData:
            phase = .requesting(opening, parser)
        case .complete(let head, let remainder):
            phase = .requesting(opening, parser)
            received(head, remainder: remainder, for: opening)
        }
    }

    /// Checks the response head; opens the WebSocket, or starts reading a refusal's body, or
    /// fails the connection.
    private func received(_ head: HTTPResponseHead, remainder: [UInt8], for opening: ClientOpening) {
        let accepted: ClientHandshake.Accepted
        do {
            accepted = try opening.handshake.validate(head)
        } catch {
            switch error {
            case .unexpectedResponse:
                phase = .readingRefusal(opening, head, HTTPResponseBody(for: head))
                remainder.withUnsafeBytes { readRefusal($0) }
            case .invalidUpgrade(let reason):
                failOpening(.invalidHandshake(reason))
            }
            return
        }
        var codec: (any ExtensionCodec)?
        if let element = accepted.extensions.first {
            // Only permessage-deflate is ever offered, so it is the one extension a 101 can name.
            guard accepted.extensions.count == 1, let deflate = opening.deflate,
                  let agreement = PerMessageDeflate.clientAgreement(from: element)
            else {
                failOpening(.invalidHandshake("the server's Sec-WebSocket-Extensions cannot be used: \(accepted.extensions.map(\.description))"))
                return
            }
            codec = DeflateCodec(agreement: agreement, configuration: deflate, role: .client)
        }
        let engine = WebSocketEngine(role: .client, configuration: engineConfiguration(), extensionCodec: codec)
        let socket = WebSocket(connection: self, request: opening.request, parameters: [:], subprotocol: accepted.subprotocol,
                               extensions: accepted.extensions, userInfo: nil, feedsMessageSequence: opening.onOpen == nil)
        endpoint.metrics.handshakesAccepted.add(1, ordering: .relaxed)
        open(socket, engine: engine, remainder: remainder) {
            opening.onOpen?(socket)
            opening.finish(.success(socket))
        }
    }

    /// Collects the body of a refusal; once it is complete, the opening fails with it.
    func readRefusal(_ bytes: UnsafeRawBufferPointer) {
        guard case .readingRefusal(let opening, let head, var body) = phase else { return }
        body.receive(Array(bytes))
        phase = .readingRefusal(opening, head, body)
        if body.isComplete { failOpening(.unexpectedResponse(head, body: body.bytes)) }
    }

    /// The opening ended without a WebSocket: reports why, and drops the connection (RFC 6455
    /// §4.1: the client fails it; there is no WebSocket yet to send a Close on).
    func failOpening(_ error: WebSocketClientError) {
        var error = error
        if case .readingRefusal(_, let head, var body) = phase {
            // The server closed (or went quiet) after its refusal: what came of the body is it.
            body.finish()
            error = .unexpectedResponse(head, body: body.bytes)
        }
        log(.debug, "Client handshake failed", ["error": error.description])
        clientOpening?.finish(.failure(error))
        closeSocket()
    }
}
