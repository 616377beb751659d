import WebSocketCore

/// What a connection reads of its server's or client's configuration.
struct ConnectionSettings: Sendable {
    /// Limits on the request head (a server's) or the response head (a client's).
    var headLimits: HTTPHeadLimits
    /// Frame and message limits and message delivery.
    var engine: WebSocketEngine.Configuration
    /// The extensions a server negotiates (none for a client, whose offer travels with each
    /// connection).
    var extensions: [any ExtensionNegotiator]
    var highWaterMark: Int
    var backpressure: BackpressurePolicy
    var maxUnfinishedMessageBytes: Int
    var timers: ConnectionTimers.Settings
    var logHandler: LogHandler?
    var logLevel: LogLevel
}

extension ConnectionSettings {
    /// A server's connection settings.
    init(_ configuration: WebSocketServer.Configuration) {
        self.init(headLimits: configuration.headLimits, engine: configuration.engine, extensions: configuration.extensions,
                  highWaterMark: configuration.highWaterMark, backpressure: configuration.backpressure,
                  maxUnfinishedMessageBytes: configuration.maxUnfinishedMessageBytes,
                  timers: ConnectionTimers.Settings(handshakeTimeout: configuration.handshakeTimeout, closeTimeout: configuration.closeTimeout,
                                                    pongTimeout: configuration.pongTimeout, idlePingInterval: configuration.idlePingInterval,
                                                    maxLifetime: configuration.maxLifetime),
                  logHandler: configuration.logHandler, logLevel: configuration.logLevel)
    }
}
