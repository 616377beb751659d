/// The state of a connection, with the names of the browser's `WebSocket.readyState`.
public enum ReadyState: Int, Sendable, Hashable {
    /// The opening handshake has not finished: a client's state until the 101 has been
    /// checked. An engine starts open, and so does a server's `WebSocket` (it exists once the
    /// 101 is written).
    case connecting = 0
    /// The connection is open: messages flow both ways.
    case open = 1
    /// A Close frame has been sent, and the peer's has not been received yet.
    case closing = 2
    /// The closing handshake has finished, or the connection has failed.
    case closed = 3
}
