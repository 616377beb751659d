import WebSocketCore

/// What a connection does when more than ``WebSocketServer/Configuration/highWaterMark`` bytes
/// are waiting to be written to a slow peer.
public enum BackpressurePolicy: Sendable, Hashable {
    /// Stop reading from the peer until its queue drains below the mark. An echo or a
    /// request-response protocol then slows to the peer's pace; memory stays near the mark.
    case pauseReading
    /// Close the connection with 1008 (Policy Violation).
    case close
    /// Do nothing; the application watches ``WebSocket/bufferedAmount`` and ``WebSocket/onDrain(_:)``.
    case report
}

extension WebSocketServer {
    /// Everything about how a server listens, times out and limits.
    public struct Configuration: Sendable {
        /// The address to listen on: `127.0.0.1`, `0.0.0.0`, `::1`, `::`, `localhost`.
        public var host: String
        /// The port; 0 picks a free one (``WebSocketServer/localAddress`` tells which).
        public var port: Int
        /// The listen backlog.
        public var backlog: Int32
        /// Set `SO_REUSEPORT`, so that several processes can listen on one port.
        public var reusePort: Bool
        /// Set `TCP_NODELAY` on every connection (no Nagle delay for small messages).
        public var noDelay: Bool
        /// The loops to run connections on, shared with other servers or clients (``EventLoops/shared``,
        /// say); nil makes the server loops of its own from ``loopCount``, ``readBufferSize`` and
        /// ``timerResolution``, which its shutdown stops.
        public var eventLoops: EventLoops?
        /// Serial queues that connections are spread over, when the server makes its own
        /// loops; default one per core.
        public var loopCount: Int
        /// Bytes read from a socket at a time, into a buffer each loop owns (own loops only);
        /// ``EventLoops/defaultReadBufferSize`` by default.
        public var readBufferSize: Int

        /// Time allowed from accept until the request head has arrived (slowloris guard).
        public var handshakeTimeout: Duration
        /// Send a ping after this long without hearing from the peer; nil turns keepalive off.
        public var idlePingInterval: Duration?
        /// Time allowed for a pong (or any frame) after a keepalive ping, else the connection
        /// is dropped and reported as 1006.
        public var pongTimeout: Duration
        /// Time allowed for the closing handshake and the TCP close after it.
        public var closeTimeout: Duration
        /// Close connections with 1001 after this long, if set.
        public var maxLifetime: Duration?
        /// How long a connection that has had an HTTP route's response waits for its next
        /// request (HTTP/1.1 keep-alive) before it is closed; also how long the peer may take to
        /// read a response while more pipelined requests wait.
        public var keepAliveTimeout: Duration
        /// The most requests one connection may make to HTTP routes; the response to the last
        /// says `Connection: close`. 1 closes after every response.
        public var maxRequestsPerConnection: Int
        /// How often deadlines are checked; timeouts fire within this of their time (own loops only).
        public var timerResolution: Duration

        /// The most connections at once (HTTP and WebSocket); the excess gets 503 (on a TLS
        /// port it is closed at once: answering would take a TLS handshake).
        public var maxConnections: Int
        /// Limits on the request head (431 beyond them).
        public var headLimits: HTTPHeadLimits
        /// Frame and message limits (1009 beyond them) and message delivery.
        public var engine: WebSocketEngine.Configuration
        /// The most bytes all connections together may hold for messages that have not fully
        /// arrived (fragments so far, or a message longer than one read), counted after
        /// decompression. A connection whose unfinished message would take the total past it is
        /// closed with 1013 (Try Again Later) as the bytes arrive, while the others go on. Each
        /// message is also bounded by the engine's `maxMessageSize`; this bounds many unfinished
        /// messages at once. Connections on different loops may claim the last room at the
        /// same moment, so the total can pass the budget by that room once per extra loop.
        public var maxUnfinishedMessageBytes: Int
        /// Bytes queued for a peer beyond which ``backpressure`` applies. Everything queued
        /// counts: frames with their headers, pongs, Close frames, and 64 bytes per queued frame.
        public var highWaterMark: Int
        /// What happens above ``highWaterMark``.
        public var backpressure: BackpressurePolicy
        /// Extensions offered to clients, in order of preference (permessage-deflate).
        public var extensions: [any ExtensionNegotiator]
        /// TLS for every accepted connection (`https://` and `wss://`), from the
        /// `WebSocketTLS` module; nil serves plain TCP. ``WebSocketServer/start()`` loads the
        /// certificates and throws if one is missing or wrong.
        public var transportSecurity: TransportSecurity?
        /// Carries ``WebSocketServer/publish(_:to:excluding:overflow:)`` to other server
        /// processes that serve the same topics (the `WebSocketRedis` module's, say); nil keeps
        /// topics within this process.
        public var backplane: (any Backplane)?
        /// Where log lines go; nil logs nothing.
        public var logHandler: LogHandler?
        /// The least severe level passed to ``logHandler``.
        public var logLevel: LogLevel

        /// A configuration for `host:port` with sensible defaults for everything else.
        public init(host: String = "127.0.0.1", port: Int = 8080) {
            self.host = host
            self.port = port
            backlog = 1024
            reusePort = false
            noDelay = true
            eventLoops = nil
            loopCount = max(1, System.coreCount)
            readBufferSize = EventLoops.defaultReadBufferSize
            handshakeTimeout = .seconds(10)
            idlePingInterval = .seconds(30)
            pongTimeout = .seconds(10)
            closeTimeout = .seconds(5)
            maxLifetime = nil
            keepAliveTimeout = .seconds(5)
            maxRequestsPerConnection = 100
            timerResolution = .milliseconds(100)
            maxConnections = 10_000
            headLimits = HTTPHeadLimits()
            engine = WebSocketEngine.Configuration()
            maxUnfinishedMessageBytes = 128 << 20
            highWaterMark = 1 << 20
            backpressure = .pauseReading
            extensions = []
            transportSecurity = nil
            backplane = nil
            logHandler = nil
            logLevel = .info
        }
    }
}
