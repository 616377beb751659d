import WebSocketCore

/// How much a server logs, from the most to the least detail.
public enum LogLevel: Int, Sendable, Hashable, Comparable {
    /// Every connection event.
    case debug
    /// Start, stop and notable events.
    case info
    /// Something went wrong with one connection or with accepting.
    case warning
    /// The server itself failed.
    case error

    /// Orders levels from `debug` to `error`.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Receives the server's log lines: a level, a message and key-value metadata. Bridge it to
/// your logger (swift-log, os_log, print).
public typealias LogHandler = @Sendable (_ level: LogLevel, _ message: String, _ metadata: [String: String]) -> Void
