import Dispatch
import Synchronization
import WebSocketCore

/// How a connection ended, as the browser's `CloseEvent` reports it.
public struct CloseEvent: Sendable, Hashable, CustomStringConvertible {
    // The reason first: the code and the flag then fit in the string's last word's shadow
    // (19 bytes instead of 25; a closed WebSocket holds one).

    /// The reason that came with the code.
    public var reason: String
    /// The close code: the peer's (1005 if its Close had none), the code this side failed the
    /// connection with, or 1006 when the connection ended without a closing handshake.
    public var code: CloseCode
    /// Whether the closing handshake completed.
    public var wasClean: Bool

    /// Makes a close event.
    public init(code: CloseCode, reason: String, wasClean: Bool) {
        self.code = code
        self.reason = reason
        self.wasClean = wasClean
    }

    /// `1000 (Normal Closure) "bye" clean`.
    public var description: String { "\(code) \"\(reason)\" \(wasClean ? "clean" : "not clean")" }
}
