/// A request that passed RFC 6455 §4.2.1's checks: everything the application needs to decide
/// whether to accept it. It is immutable: what was validated is what is answered.
public struct UpgradeRequest: Sendable, Hashable {
    /// The request head: method, target, every header field.
    public let head: HTTPRequestHead
    /// The `Sec-WebSocket-Key` value.
    public var key: String { head.headers.value(at: keyIndex) }
    /// Which header field holds the key (the accept value is computed from its bytes).
    var keyIndex: Int { Int(keyField) }
    // Four bytes beside the head's last ones rather than a word of its own: a server keeps the
    // request of every open WebSocket.
    private let keyField: UInt32
    /// The subprotocols offered in `Sec-WebSocket-Protocol`, in order.
    public let subprotocols: [String]
    /// The extensions offered in `Sec-WebSocket-Extensions`, in order.
    public let extensionOffers: [ExtensionOffer]

    /// Validates `head` as ``ServerHandshake/validate(_:)`` does; for tests of upgrade hooks,
    /// for instance.
    public init(validating head: HTTPRequestHead) throws(HandshakeError) {
        self = try ServerHandshake.validate(head)
    }

    init(head: HTTPRequestHead, keyIndex: Int, subprotocols: [String], extensionOffers: [ExtensionOffer]) {
        self.head = head
        keyField = UInt32(keyIndex)
        self.subprotocols = subprotocols
        self.extensionOffers = extensionOffers
    }

    /// The path part of the request target.
    public var path: String { head.path }
    /// The query part of the request target, if any.
    public var query: String? { head.query }
    /// The `Origin` header, sent by browsers (RFC 6455 §10.2).
    public var origin: String? { head.headers["Origin"] }
    /// The host the request was sent to: the authority of an absolute-form target, else the
    /// `Host` header (RFC 9112 §3.2.2).
    public var host: String? { head.targetAuthority ?? head.headers["Host"] }
    /// The header fields.
    public var headers: HTTPHeaders { head.headers }

    /// Whether `Origin` names the host the request was sent to: an `http` or `https` origin
    /// whose host and port (the scheme's default when left out) equal ``host``'s, ignoring
    /// ASCII case. This is what a page served by this server sends, and what another site's
    /// page cannot (RFC 6455 §10.2, RFC 6454). False when either header is missing.
    public var originMatchesHost: Bool {
        guard let origin = origin?.lowercased(), let host = host?.lowercased() else { return false }
        let defaultPort: String
        let authority: Substring
        if origin.hasPrefix("http://") {
            (defaultPort, authority) = ("80", origin.dropFirst(7))
        } else if origin.hasPrefix("https://") {
            (defaultPort, authority) = ("443", origin.dropFirst(8))
        } else {
            return false
        }
        /// `host[:port]` with the port made explicit; an IPv6 literal keeps its brackets.
        func withPort(_ value: Substring) -> Substring {
            let portColon = value.lastIndex(of: ":").flatMap { value[$0...].contains("]") ? nil : $0 }
            return portColon == nil ? value + ":" + defaultPort : value
        }
        return !authority.isEmpty && !authority.contains("/") && withPort(authority) == withPort(host[...])
    }
}
