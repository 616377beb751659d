/// The state of a connection, with the names of the browser's `WebSocket.readyState`.
public enum ReadyState: Int, Sendable, Hashable {
    /// The opening handshake has not finished.
    case connecting = 0
    /// The connection is open: messages flow both ways.
    case open = 1
    /// A Close frame has been sent, and the peer's has not been received yet.
    case closing = 2
    /// The closing handshake has finished, or the connection has failed.
    case closed = 3
}
