/// The contents of a Close frame: a code, or none, and a reason.
public struct CloseFrame: Sendable, Hashable {
    /// The status code, or nil when the frame carried none (reported as 1005).
    public var code: CloseCode?
    /// The reason text, possibly empty.
    public var reason: String

    /// Makes a close frame's contents.
    public init(code: CloseCode?, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// The code to report: the frame's, or 1005 (No Status Received) when it had none.
    public var reportedCode: CloseCode { code ?? .noStatusReceived }
}
