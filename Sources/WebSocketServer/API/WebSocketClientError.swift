import WebSocketCore

/// Why a client connection could not be opened. Once it is open, errors reach the
/// ``WebSocket``'s handlers as ``WebSocketError``, as on a server.
public enum WebSocketClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URL is not a WebSocket URL.
    case invalidURL(WebSocketURLError)
    /// The request cannot be sent as given (a subprotocol or header that is not valid HTTP, a
    /// `wss://` URL without TLS): what is wrong.
    case invalidRequest(String)
    /// The host name did not resolve (`getaddrinfo`'s reason).
    case resolutionFailed(host: String, reason: String)
    /// No address of the host accepted the TCP connection: each address tried and its error.
    case connectFailed(host: String, attempts: [ConnectAttempt])
    /// No address accepted the TCP connection within the connect timeout.
    case connectTimedOut(host: String)
    /// TLS could not be set up, or its handshake failed (an unknown authority, a certificate
    /// for another host, an alert from the server): OpenSSL's reason.
    case tls(String)
    /// The socket failed during the opening handshake.
    case transport(SystemError)
    /// The server closed the connection before its answer was complete.
    case closedDuringHandshake
    /// No complete answer to the opening request within the handshake timeout.
    case handshakeTimedOut
    /// The server answered with another status than 101 (a 401, a redirect, a 503 ...): its
    /// head and up to 64 KiB of its body. Redirects are not followed, as in browsers.
    case unexpectedResponse(HTTPResponseHead, body: [UInt8])
    /// A 101 that fails the client's checks (RFC 6455 §4.1): a wrong `Sec-WebSocket-Accept`,
    /// no `Upgrade: websocket`, a subprotocol or extension that was not offered. The connection
    /// is dropped.
    case invalidHandshake(String)

    /// One address a connection was tried at, and how it failed.
    public struct ConnectAttempt: Sendable, Hashable {
        /// The address.
        public var address: SocketAddress
        /// The error of `connect` (ECONNREFUSED, ENETUNREACH ...).
        public var error: SystemError
    }

    public var description: String {
        switch self {
        case .invalidURL(let error): "invalid URL: \(error)"
        case .invalidRequest(let reason): "invalid request: \(reason)"
        case .resolutionFailed(let host, let reason): "cannot resolve \(host): \(reason)"
        case .connectFailed(let host, let attempts):
            "cannot connect to \(host): " + attempts.map { "\($0.address): \($0.error)" }.joined(separator: "; ")
        case .connectTimedOut(let host): "connecting to \(host) timed out"
        case .tls(let reason): "TLS: \(reason)"
        case .transport(let error): "the connection failed during the handshake: \(error)"
        case .closedDuringHandshake: "the server closed the connection during the handshake"
        case .handshakeTimedOut: "the server did not answer the opening handshake in time"
        case .unexpectedResponse(let head, let body):
            "the server answered \(head.status) \(head.reasonPhrase)" + (body.isEmpty ? "" : ": \(String(decoding: body.prefix(200), as: UTF8.self))")
        case .invalidHandshake(let reason): "invalid handshake response: \(reason)"
        }
    }
}
