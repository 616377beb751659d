/// Errors from calls on a ``WebSocketServer`` itself (its connections report ``WebSocketError``).
public enum WebSocketServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// ``WebSocketServer/reloadCertificates()`` on a server that is not running with
    /// ``WebSocketServer/Configuration/transportSecurity``.
    case notSecured

    public var description: String {
        switch self {
        case .notSecured: "the server has no TLS to reload: start it with configuration.transportSecurity set"
        }
    }
}
