/// The client side of the opening handshake (RFC 6455 §4.1): the request to send and the checks
/// on the server's answer. Used by tests, load generators and server-to-server connections.
public struct ClientHandshake: Sendable {
    /// The `Sec-WebSocket-Key` sent: Base64 of 16 random bytes.
    public let key: String
    /// The request head to send.
    public let request: HTTPRequestHead

    /// Builds the request for `path` on `host`.
    ///
    /// - Parameters:
    ///   - host: the `Host` header value (`example.com:8080`).
    ///   - path: the request target, with any query.
    ///   - subprotocols: offered in `Sec-WebSocket-Protocol`, in order of preference.
    ///   - extensions: offered in `Sec-WebSocket-Extensions`.
    ///   - headers: extra fields such as `Origin`.
    ///   - key: the key, random unless given (tests give one).
    public init(host: String, path: String = "/", subprotocols: [String] = [], extensions: [ExtensionOffer] = [], headers: HTTPHeaders = HTTPHeaders(), key: String? = nil) {
        let key = key ?? {
            var generator = SystemRandomNumberGenerator()
            return Base64.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        }()
        self.key = key
        var h = HTTPHeaders([("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                             ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
        if !subprotocols.isEmpty { h.add(name: "Sec-WebSocket-Protocol", value: subprotocols.joined(separator: ", ")) }
        if !extensions.isEmpty { h.add(name: "Sec-WebSocket-Extensions", value: extensions.map(\.description).joined(separator: ", ")) }
        for field in headers { h.add(name: field.name, value: field.value) }
        request = HTTPRequestHead(method: "GET", target: path, headers: h)
    }

    /// The request in wire format.
    public var serializedRequest: [UInt8] {
        var out = Array("GET \(request.target) HTTP/1.1\r\n".utf8)
        for field in request.headers {
            out.append(contentsOf: "\(field.name): \(field.value)\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        return out
    }

    /// What the server agreed to.
    public struct Accepted: Sendable, Hashable {
        /// The subprotocol the server chose, if any.
        public var subprotocol: String?
        /// The extensions the server accepted, with its parameters.
        public var extensions: [ExtensionOffer]
    }

    /// Checks the server's response (RFC 6455 §4.1, the client's checks 1-6).
    public func validate(_ response: HTTPResponseHead) throws(ClientHandshakeError) -> Accepted {
        guard response.status == 101 else {
            throw .unexpectedResponse(response)
        }
        let h = response.headers
        guard h.containsToken("websocket", in: "Upgrade") else {
            throw .invalidUpgrade("The response's Upgrade header is not 'websocket'")
        }
        guard h.containsToken("upgrade", in: "Connection") else {
            throw .invalidUpgrade("The response's Connection header is not 'Upgrade'")
        }
        guard h.values("Sec-WebSocket-Accept") == [ServerHandshake.acceptValue(forKey: key)] else {
            throw .invalidUpgrade("Sec-WebSocket-Accept does not match the key")
        }
        let protocols = h.tokens("Sec-WebSocket-Protocol")
        let offered = request.headers.tokens("Sec-WebSocket-Protocol")
        guard protocols.count <= 1, protocols.allSatisfy(offered.contains) else {
            throw .invalidUpgrade("The server chose a subprotocol that was not offered")
        }
        guard let extensions = ExtensionOffer.parse(h.values("Sec-WebSocket-Extensions")) else {
            throw .invalidUpgrade("Malformed Sec-WebSocket-Extensions in the response")
        }
        let offeredExtensions = ExtensionOffer.parse(request.headers.values("Sec-WebSocket-Extensions")) ?? []
        guard extensions.allSatisfy({ e in offeredExtensions.contains { HTTPHeaders.namesMatch($0.name, e.name) } }) else {
            throw .invalidUpgrade("The server accepted an extension that was not offered")
        }
        return Accepted(subprotocol: protocols.first, extensions: extensions)
    }
}

/// Why a client refused the server's answer to its opening handshake (RFC 6455 §4.1).
public enum ClientHandshakeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered with another status than 101 (a 401, a redirect, a 503 ...): its
    /// head, for the application to look at. Redirects are not followed, as in browsers.
    case unexpectedResponse(HTTPResponseHead)
    /// A 101 that fails one of the client's checks: what was wrong. The client must fail the
    /// connection.
    case invalidUpgrade(String)

    /// `the server answered 401 Unauthorized`, or what was wrong with the 101.
    public var description: String {
        switch self {
        case .unexpectedResponse(let head): "the server answered \(head.status) \(head.reasonPhrase)"
        case .invalidUpgrade(let reason): reason
        }
    }
}
