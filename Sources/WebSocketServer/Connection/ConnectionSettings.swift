import WebSocketCore

/// What a connection reads of its server's or client's configuration.
package struct ConnectionSettings: Sendable {
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
    /// Requests to HTTP routes one connection may make (a server's; 1 for a client).
    var maxRequestsPerConnection: Int
    var timers: ConnectionTimers.Settings
    var logHandler: LogHandler?
    var logLevel: LogLevel
}

extension ConnectionSettings {
    /// Settings from their values, for a client (the `WebSocketClient` module).
    package init(headLimits: HTTPHeadLimits, engine: WebSocketEngine.Configuration, highWaterMark: Int, backpressure: BackpressurePolicy,
                 maxUnfinishedMessageBytes: Int, handshakeTimeout: Duration, closeTimeout: Duration, pongTimeout: Duration,
                 idlePingInterval: Duration?, logHandler: LogHandler?, logLevel: LogLevel) {
        self.init(headLimits: headLimits, engine: engine, extensions: [], highWaterMark: highWaterMark, backpressure: backpressure,
                  maxUnfinishedMessageBytes: maxUnfinishedMessageBytes, maxRequestsPerConnection: 1,
                  timers: ConnectionTimers.Settings(handshakeTimeout: handshakeTimeout, closeTimeout: closeTimeout, pongTimeout: pongTimeout,
                                                    idlePingInterval: idlePingInterval, maxLifetime: nil, keepAliveTimeout: .zero),
                  logHandler: logHandler, logLevel: logLevel)
    }

    /// A server's connection settings.
    init(_ configuration: WebSocketServer.Configuration) {
        self.init(headLimits: configuration.headLimits, engine: configuration.engine, extensions: configuration.extensions,
                  highWaterMark: configuration.highWaterMark, backpressure: configuration.backpressure,
                  maxUnfinishedMessageBytes: configuration.maxUnfinishedMessageBytes,
                  maxRequestsPerConnection: max(1, configuration.maxRequestsPerConnection),
                  timers: ConnectionTimers.Settings(handshakeTimeout: configuration.handshakeTimeout, closeTimeout: configuration.closeTimeout,
                                                    pongTimeout: configuration.pongTimeout, idlePingInterval: configuration.idlePingInterval,
                                                    maxLifetime: configuration.maxLifetime, keepAliveTimeout: configuration.keepAliveTimeout),
                  logHandler: configuration.logHandler, logLevel: configuration.logLevel)
    }
}
