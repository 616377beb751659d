import WebSocketCore

/// What the upgrade hook sees of a handshake.
public struct UpgradeContext: Sendable {
    /// The validated request: path, query, headers, Origin, offered subprotocols and extensions.
    public var request: UpgradeRequest
    /// The peer's address, if known.
    public var remoteAddress: SocketAddress?
    /// The TLS session the request came over (`wss://`), with the client certificate's subject
    /// under mutual TLS; nil for plain `ws://`.
    public var tls: TLSInfo?
    /// The values of the route's parameters (`room` for `/rooms/:room`, `*` for what a
    /// trailing `/*` matched).
    public var parameters: [String: String]

    /// Makes a context; the server makes one per upgrade, tests of a hook make their own.
    public init(request: UpgradeRequest, remoteAddress: SocketAddress? = nil, tls: TLSInfo? = nil, parameters: [String: String] = [:]) {
        self.request = request
        self.remoteAddress = remoteAddress
        self.tls = tls
        self.parameters = parameters
    }
}

/// The upgrade hook's answer.
public enum UpgradeDecision: Sendable {
    /// Accept the connection.
    ///
    /// - Parameters:
    ///   - subprotocol: one of the offered subprotocols, or nil.
    ///   - headers: extra headers for the 101 response.
    ///   - userInfo: per-connection state, available as ``WebSocket/userInfo``.
    case accept(subprotocol: String? = nil, headers: HTTPHeaders = HTTPHeaders(), userInfo: (any Sendable)? = nil)
    /// Refuse it with an HTTP response (a 401, a 403 ...).
    case reject(HTTPResponse)

    /// Accept with no subprotocol, no extra headers and no user state.
    public static var accept: UpgradeDecision { .accept() }
}

/// The hook that decides each upgrade on a route: it may look anything up, asynchronously.
public typealias UpgradeHook = @Sendable (UpgradeContext) async -> UpgradeDecision

/// A plain HTTP handler: the request head in, the response out. HEAD is answered with the GET
/// response's head.
public typealias HTTPHandler = @Sendable (HTTPRequestHead) -> HTTPResponse
