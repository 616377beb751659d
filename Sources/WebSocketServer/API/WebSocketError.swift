import WebSocketCore

/// Errors a connection reports. What a send can refuse has the same names as the engine's
/// `WebSocketEngine.SendError`, from which it converts.
public enum WebSocketError: Error, Sendable, Hashable {
    /// The peer broke the protocol; the connection is being closed with the error's code.
    case protocolError(ProtocolError)
    /// The socket failed (reset by the peer, for instance).
    case transport(SystemError)
    /// The TLS layer failed: a bad record, an alert from the peer, a failed handshake. The
    /// text is OpenSSL's reason.
    case tls(String)
    /// The connection is closing or closed, so the message was not sent.
    case notOpen
    /// A close code that may not be sent (below 1000, 1004-1006, 1015, 1016-2999, 5000 and up).
    case invalidCloseCode(CloseCode)
    /// A close reason over 123 bytes of UTF-8.
    case closeReasonTooLong
    /// A Ping (or Pong) payload over 125 bytes.
    case controlPayloadTooLarge

    /// The error for what the engine refused.
    public init(_ error: WebSocketEngine.SendError) {
        switch error {
        case .notOpen: self = .notOpen
        case .controlPayloadTooLarge: self = .controlPayloadTooLarge
        case .invalidCloseCode(let code): self = .invalidCloseCode(code)
        case .closeReasonTooLong: self = .closeReasonTooLong
        }
    }
}
