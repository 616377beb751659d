// The adapters the README's "Integrations" section shows. Each is a few lines: copy them into
// an application rather than depend on this package, if you prefer.
import CoreMetrics
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import WebSocketServer

// MARK: - swift-service-lifecycle

/// A server as a `Service` in a `ServiceGroup`: runs the server, and turns the group's graceful
/// shutdown into the server's (1001 to every client, waiting for closing handshakes). A plain
/// `extension WebSocketServer: Service {}` would run too, but only the group's cancellation,
/// not its graceful shutdown, would reach it.
public struct WebSocketService: Service {
    /// The server it runs.
    public let server: WebSocketServer

    /// A service running `server`.
    public init(_ server: WebSocketServer) { self.server = server }

    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await server.run() }
    }
}

// MARK: - swift-log

extension LogLevel {
    /// The swift-log level of the same name.
    public var swiftLogLevel: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        }
    }
}

extension WebSocketServer.Configuration {
    /// Sends the server's log lines to `logger`, at the logger's level (lines below it are not
    /// even built: the server checks the level first).
    public mutating func log(to logger: Logger) {
        logLevel = switch logger.logLevel {
        case .trace, .debug: .debug
        case .info, .notice: .info
        case .warning: .warning
        case .error, .critical: .error
        }
        logHandler = { level, message, metadata in
            logger.log(level: level.swiftLogLevel, "\(message)", metadata: metadata.mapValues { .string($0) })
        }
    }
}

// MARK: - swift-metrics

/// Copies a server's counters into swift-metrics every `interval`: gauges for what is open now,
/// counters (incremented by what changed since the last copy) for the rest, with the status or
/// close code as a dimension. Run it beside the server (in the same `ServiceGroup`).
public struct MetricsReporter: Service {
    let server: WebSocketServer
    let interval: Duration
    let prefix: String

    /// A reporter for `server`, copying every `interval` under metric names starting `prefix`.
    public init(server: WebSocketServer, interval: Duration = .seconds(10), prefix: String = "websocket") {
        self.server = server
        self.interval = interval
        self.prefix = prefix
    }

    /// Copies until the task is cancelled (a `ServiceGroup` shutdown), then once more.
    public func run() async throws {
        var last: ServerMetrics?
        while !Task.isCancelled {
            last = report(since: last)
            try? await Task.sleep(for: interval)
        }
        _ = report(since: last)
    }

    /// Reports the counters now, as gauges and as increments over `previous`; returns them.
    @discardableResult
    public func report(since previous: ServerMetrics?) -> ServerMetrics {
        let now = server.metrics
        Gauge(label: "\(prefix)_open_connections").record(now.openConnections)
        Gauge(label: "\(prefix)_open_websockets").record(now.openWebSockets)
        func count(_ name: String, _ value: Int, _ before: Int?, _ dimensions: [(String, String)] = []) {
            let delta = value - (before ?? 0)
            if delta > 0 { Counter(label: "\(prefix)_\(name)", dimensions: dimensions).increment(by: delta) }
        }
        count("handshakes_accepted_total", now.handshakesAccepted, previous?.handshakesAccepted)
        count("messages_in_total", now.messagesIn, previous?.messagesIn)
        count("messages_out_total", now.messagesOut, previous?.messagesOut)
        count("bytes_in_total", now.bytesIn, previous?.bytesIn)
        count("bytes_out_total", now.bytesOut, previous?.bytesOut)
        count("backpressure_pauses_total", now.backpressurePauses, previous?.backpressurePauses)
        count("compression_input_bytes_total", now.bytesBeforeDeflate, previous?.bytesBeforeDeflate, [("direction", "out")])
        count("compression_output_bytes_total", now.bytesAfterDeflate, previous?.bytesAfterDeflate, [("direction", "out")])
        count("compression_input_bytes_total", now.bytesBeforeInflate, previous?.bytesBeforeInflate, [("direction", "in")])
        count("compression_output_bytes_total", now.bytesAfterInflate, previous?.bytesAfterInflate, [("direction", "in")])
        for (status, value) in now.handshakesRejected {
            count("handshakes_rejected_total", value, previous?.handshakesRejected[status], [("status", String(status))])
        }
        for (code, value) in now.closes {
            count("closes_total", value, previous?.closes[code], [("code", String(code))])
        }
        return now
    }
}
