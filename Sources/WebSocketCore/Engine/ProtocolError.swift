/// Why the engine failed a connection: the close code it sent and a reason a person can read.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The close code sent to the peer (1002, 1007, 1009, ...).
    public var code: CloseCode
    /// What was wrong, in words; also sent as the Close frame's reason when it fits.
    public var reason: String

    /// Makes an error with a close code and a reason.
    public init(_ code: CloseCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `1002 (Protocol Error): reason`.
    public var description: String { "\(code): \(reason)" }
}
