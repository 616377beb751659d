/// Why an opening handshake was refused, and the HTTP response that says so.
public struct HandshakeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status to answer with (400, 403, 405, 426, 431, ...).
    public var status: Int
    /// What was wrong, in words; sent as the response body.
    public var reason: String
    /// Extra header fields the response must carry (`Sec-WebSocket-Version: 13` with a 426).
    public var headers: HTTPHeaders

    /// Makes an error.
    public init(status: Int, reason: String, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// `426: reason`.
    public var description: String { "\(status): \(reason)" }

    /// The response to send; it asks the peer to close the connection.
    public var response: HTTPResponse {
        var h = headers
        h.add(name: "Connection", value: "close")
        return HTTPResponse.text(status, reason + "\n", headers: h)
    }
}
