/// A request accepted by ``ServerHandshake/accept(_:subprotocol:headers:extensions:engine:)``:
/// the 101 to write and the engine that carries the connection from there.
public struct UpgradeAcceptance {
    /// The `101 Switching Protocols` response, in wire format.
    public var response: [UInt8]
    /// The engine for the connection, with the agreed extension's codec.
    public var engine: WebSocketEngine
    /// The extensions agreed, as answered to the client.
    public var extensions: [ExtensionOffer]
}

@available(*, unavailable, message: "An UpgradeAcceptance holds an engine, which belongs to one connection")
extension UpgradeAcceptance: Sendable {}

extension ServerHandshake {
    /// Accepts a validated request (RFC 6455 §4.2.2): negotiates the extensions, writes the 101
    /// and makes the engine with the agreed extension's codec.
    ///
    /// - Parameters:
    ///   - request: a request that passed ``validate(_:)``.
    ///   - subprotocol: one of the subprotocols the client offered, or nil.
    ///   - headers: extra header fields for the 101 (cookies, for instance).
    ///   - extensions: the extensions the server offers, in order of preference.
    ///   - configuration: the engine's limits and behaviour.
    /// - Throws: 400 when an extension offer is invalid by that extension's rules, 500 when
    ///   `subprotocol` was not offered.
    public static func accept(_ request: UpgradeRequest, subprotocol: String? = nil, headers: HTTPHeaders = HTTPHeaders(),
                              extensions: [any ExtensionNegotiator] = [], engine configuration: WebSocketEngine.Configuration = .init())
        throws(HandshakeError) -> UpgradeAcceptance {
        let agreements = try negotiateExtensions(request, with: extensions)
        let agreed = agreements.map(\.response)
        let response = try acceptResponse(for: request, subprotocol: subprotocol, extensions: agreed, headers: headers)
        let engine = WebSocketEngine(role: .server, configuration: configuration, extensionCodec: agreements.first?.makeCodec())
        return UpgradeAcceptance(response: response.serialized(), engine: engine, extensions: agreed)
    }
}

/// The server's opening handshake as one sans-I/O step, for a program that runs its own
/// sockets (RFC 6455 §4.2): feed it what the connection sends until it returns the request,
/// decide, then write what ``accept(subprotocol:headers:)`` or ``reject(_:)`` returns. An
/// accepted connection comes with its engine, which has already been given the bytes that
/// followed the request.
///
/// ```swift
/// var upgrade = ServerUpgrade()
/// var request: UpgradeRequest?
/// do {
///     while request == nil { request = try upgrade.receive(read()) }
/// } catch {
///     write(error.response.serialized())  // 400, 403, 426, 431, 505 ...
///     return
/// }
/// let accepted = try upgrade.accept()
/// write(accepted.response)
/// var engine = accepted.engine  // has already received what followed the request
/// ```
///
/// `WebSocketServer` makes the same steps with the same functions (``HTTPHeadParser``,
/// ``ServerHandshake/validate(_:)``, ``ServerHandshake/accept(_:subprotocol:headers:extensions:engine:)``),
/// with routing between them.
public struct ServerUpgrade {
    /// What the handshake accepts and how the connection runs.
    public struct Configuration: Sendable {
        /// Limits on the request head (431 beyond them).
        public var headLimits: HTTPHeadLimits
        /// When set, a request whose `Origin` is not in the set gets 403; requests without
        /// `Origin` (programs, not browser pages) pass.
        public var allowedOrigins: Set<String>?
        /// The extensions offered to clients, in order of preference (permessage-deflate).
        public var extensions: [any ExtensionNegotiator]
        /// The engine's limits and behaviour.
        public var engine: WebSocketEngine.Configuration

        /// A configuration; by default every origin passes and no extension is offered.
        public init(headLimits: HTTPHeadLimits = HTTPHeadLimits(), allowedOrigins: Set<String>? = nil,
                    extensions: [any ExtensionNegotiator] = [], engine: WebSocketEngine.Configuration = .init()) {
            self.headLimits = headLimits
            self.allowedOrigins = allowedOrigins
            self.extensions = extensions
            self.engine = engine
        }
    }

    /// The configuration.
    public let configuration: Configuration
    private var parser: HTTPHeadParser
    /// The valid request, once it has arrived, and the bytes that followed it.
    private var received: (request: UpgradeRequest, remainder: [UInt8])?

    /// A handshake waiting for its first bytes.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        parser = HTTPHeadParser(limits: configuration.headLimits)
    }

    /// Feeds bytes read from the connection.
    ///
    /// - Returns: the request, once its head is complete and it is a valid upgrade from an
    ///   allowed origin; nil while more bytes are needed. Bytes after the request are kept for
    ///   the engine.
    /// - Throws: the ``HandshakeError`` whose response to write before closing: a malformed head
    ///   (400, 431, 505), a request that is not a valid upgrade (400, 405, 426), an origin that
    ///   is not allowed (403).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) throws(HandshakeError) -> UpgradeRequest? {
        if received != nil {
            received!.remainder.append(contentsOf: bytes)  // early frames, before the decision
            return received!.request
        }
        let progress: HTTPHeadParser.Progress<HTTPRequestHead>
        do {
            progress = try parser.parseRequest(bytes)
        } catch {
            throw HandshakeError(status: error.status, reason: error.reason)
        }
        guard case .complete(let head, let remainder) = progress else { return nil }
        let request = try ServerHandshake.validate(head)
        try ServerHandshake.checkOrigin(request, allowed: configuration.allowedOrigins)
        received = (request, remainder)
        return request
    }

    /// Feeds bytes read from the connection; see ``receive(_:)-(UnsafeRawBufferPointer)``.
    public mutating func receive(_ bytes: [UInt8]) throws(HandshakeError) -> UpgradeRequest? {
        var outcome: Result<UpgradeRequest?, HandshakeError> = .success(nil)
        bytes.withUnsafeBytes { raw in
            do throws(HandshakeError) { outcome = .success(try receive(raw)) } catch { outcome = .failure(error) }
        }
        return try outcome.get()
    }

    /// Accepts the request: the 101 to write, and the engine, which has already received the
    /// bytes that followed the request (take its events before reading more).
    ///
    /// - Throws: what ``ServerHandshake/accept(_:subprotocol:headers:extensions:engine:)`` throws,
    ///   and 500 if no request has arrived yet.
    public func accept(subprotocol: String? = nil, headers: HTTPHeaders = HTTPHeaders()) throws(HandshakeError) -> UpgradeAcceptance {
        guard let received else { throw HandshakeError(status: 500, reason: "accept() before a request arrived") }
        var acceptance = try ServerHandshake.accept(received.request, subprotocol: subprotocol, headers: headers,
                                                    extensions: configuration.extensions, engine: configuration.engine)
        acceptance.engine.receive(received.remainder)
        return acceptance
    }

    /// Refuses the request with `response` (a 401, a 403 ...), which asks the client to close.
    public func reject(_ response: HTTPResponse) -> [UInt8] {
        var response = response
        response.headers.replaceOrAdd(name: "Connection", value: "close")
        return response.serialized()
    }
}

extension ServerHandshake {
    /// 403 when `allowed` is set, the request carries an `Origin` and the set does not hold
    /// it. Requests without `Origin` come from programs, not browser pages, and pass.
    public static func checkOrigin(_ request: UpgradeRequest, allowed: Set<String>?) throws(HandshakeError) {
        guard let allowed, let origin = request.origin, !allowed.contains(origin) else { return }
        throw HandshakeError(status: 403, reason: "Origin not allowed")
    }
}
