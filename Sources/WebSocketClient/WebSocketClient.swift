// The client's public API. Its connections are the server's `WebSocket` type on the same
// event loops (their I/O lives in WebSocketServer), so this module re-exports what a client
// program names: WebSocket, Message, CloseCode (WebSocketServer, WebSocketCore) and the TLS
// settings (WebSocketTLS).
@_exported import WebSocketCore
@_exported import WebSocketServer
@_exported import WebSocketTLS
import Synchronization

/// Opens WebSocket connections to servers (`ws://` and `wss://`), as a browser's
/// `new WebSocket(url, protocols)` does.
///
/// ```swift
/// let socket = try await WebSocket.connect("wss://example.com/chat", protocols: ["chat.v1"])
/// try await socket.send("Hello")
/// for await message in socket.messages { print(message) }
/// ```
///
/// A client holds what its connections share: the configuration, the TLS context (made at its
/// first `wss://` connection and kept) and the loops. Make one per configuration and keep it;
/// ``shared`` has the defaults. The connection it hands out is a `WebSocket`, the same type a
/// server hands out, with the same callbacks, `messages`, `send`, `ping`, `close`,
/// `bufferedAmount` and keepalive.
public final class WebSocketClient: Sendable {
    /// How a client connects, times out and limits.
    public struct Configuration: Sendable {
        /// Time allowed to resolve the host and set up the TCP connection (all addresses tried).
        public var connectTimeout: Duration
        /// Time allowed from the TCP connection to a checked 101 (the TLS handshake included).
        public var handshakeTimeout: Duration
        /// Time allowed for the closing handshake and for the server to close the TCP
        /// connection after it (RFC 6455 §7.1.1: the server closes first).
        public var closeTimeout: Duration
        /// Send a ping after this long without hearing from the server; nil turns keepalive off.
        public var idlePingInterval: Duration?
        /// Time allowed for a pong (or any frame) after a keepalive ping, else the connection is
        /// dropped and reported as 1006.
        public var pongTimeout: Duration
        /// Frame and message limits (1009 beyond them) and message delivery.
        public var engine: WebSocketEngine.Configuration
        /// permessage-deflate (RFC 7692), offered when set: its window and context-takeover
        /// parameters go in the offer, its level and memory settings apply to what is sent.
        public var compression: PerMessageDeflate.Configuration?
        /// Bytes queued for the server beyond which ``backpressure`` applies.
        public var highWaterMark: Int
        /// What happens above ``highWaterMark``.
        public var backpressure: BackpressurePolicy
        /// The most bytes all this client's connections may hold for messages still arriving.
        public var maxUnfinishedMessageBytes: Int
        /// Limits on the response head.
        public var headLimits: HTTPHeadLimits
        /// TLS for `wss://`: whom to trust (the system's store by default), a client certificate.
        public var tls: TLSClientConfiguration
        /// The loops the connections run on: the process's shared ones by default, or a
        /// server's (`server.eventLoops`) so that one process runs one set.
        public var eventLoops: EventLoops
        /// Where log lines go; nil logs nothing.
        public var logHandler: LogHandler?
        /// The least severe level passed to ``logHandler``.
        public var logLevel: LogLevel

        /// The defaults: 10 s to connect and 10 s to the 101, 5 s to close, a ping after 30 s of
        /// silence, 16 MiB messages, no compression, the system's trusted certificates.
        public init() {
            connectTimeout = .seconds(10)
            handshakeTimeout = .seconds(10)
            closeTimeout = .seconds(5)
            idlePingInterval = .seconds(30)
            pongTimeout = .seconds(10)
            engine = WebSocketEngine.Configuration()
            compression = nil
            highWaterMark = 1 << 20
            backpressure = .pauseReading
            maxUnfinishedMessageBytes = 128 << 20
            headLimits = HTTPHeadLimits()
            tls = TLSClientConfiguration()
            eventLoops = .shared
            logHandler = nil
            logLevel = .info
        }
    }

    /// The configuration the client was made with.
    public let configuration: Configuration
    private let connector: ClientConnector
    /// The TLS context, made at the first `wss://` connection.
    private let tlsContext = Mutex<ClientTLS?>(nil)

    /// A client with the default configuration, for ``WebSocketServer/WebSocket/connect(_:protocols:headers:)``.
    public static let shared = WebSocketClient()

    /// Makes a client; nothing connects until ``connect(_:subprotocols:headers:)``.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let settings = ConnectionSettings(
            headLimits: configuration.headLimits, engine: configuration.engine, highWaterMark: configuration.highWaterMark,
            backpressure: configuration.backpressure, maxUnfinishedMessageBytes: configuration.maxUnfinishedMessageBytes,
            handshakeTimeout: configuration.handshakeTimeout, closeTimeout: configuration.closeTimeout,
            pongTimeout: configuration.pongTimeout, idlePingInterval: configuration.idlePingInterval,
            logHandler: configuration.logHandler, logLevel: configuration.logLevel)
        connector = ClientConnector(settings: settings, eventLoops: configuration.eventLoops)
    }

    /// Connects to `url` and returns the open WebSocket; read its messages from
    /// `WebSocket.messages` (reading from the server pauses while 16 wait unread).
    ///
    /// - Parameters:
    ///   - url: `ws://` or `wss://` (or `http://`, `https://`), host name or IP address.
    ///   - subprotocols: offered in `Sec-WebSocket-Protocol`; the chosen one is
    ///     `WebSocket.subprotocol`.
    ///   - headers: extra request headers (`Authorization`, `Cookie`, `Origin` ...).
    /// - Throws: `WebSocketClientError`: what went wrong, with the server's status, headers and
    ///   body when it answered something else than 101.
    public func connect(_ url: String, subprotocols: [String] = [], headers: HTTPHeaders = HTTPHeaders()) async throws(WebSocketClientError) -> WebSocket {
        precondition(!configuration.engine.deliversFragments,
                     "socket.messages delivers whole messages; turn engine.deliversFragments off, or connect with onOpen and use onFragment")
        return try await open(url, subprotocols: subprotocols, headers: headers, onOpen: nil)
    }

    /// Connects to `url` and returns the open WebSocket, whose callbacks `onOpen` sets: it runs
    /// on the connection's queue before any message is delivered.
    public func connect(_ url: String, subprotocols: [String] = [], headers: HTTPHeaders = HTTPHeaders(),
                        onOpen: @escaping @Sendable (WebSocket) -> Void) async throws(WebSocketClientError) -> WebSocket {
        try await open(url, subprotocols: subprotocols, headers: headers, onOpen: onOpen)
    }

    private func open(_ text: String, subprotocols: [String], headers: HTTPHeaders,
                      onOpen: (@Sendable (WebSocket) -> Void)?) async throws(WebSocketClientError) -> WebSocket {
        let url: WebSocketURL
        do { url = try WebSocketURL(text) } catch { throw .invalidURL(error) }
        var offers: [ExtensionOffer] = []
        if let deflate = configuration.compression {
            offers.append(PerMessageDeflate.clientOffer(
                serverNoContextTakeover: deflate.serverNoContextTakeover, clientNoContextTakeover: deflate.clientNoContextTakeover,
                serverMaxWindowBits: deflate.serverMaxWindowBits < 15 ? deflate.serverMaxWindowBits : nil,
                clientMaxWindowBits: deflate.clientMaxWindowBits < 15 ? deflate.clientMaxWindowBits : nil))
        }
        let handshake = ClientHandshake(host: url.authority, path: url.resourceName, subprotocols: subprotocols, extensions: offers, headers: headers)
        // The request must be one a server would accept: this catches a bad subprotocol token,
        // or headers that clash with the handshake's own.
        let request: UpgradeRequest
        do { request = try UpgradeRequest(validating: handshake.request) } catch { throw .invalidRequest(error.reason) }
        let makeTransport: (@Sendable (Int32) -> any Transport)?
        if url.isSecure {
            let tls = try tlsContextForConnecting()
            makeTransport = { fd in tls.makeTransport(fd: fd, host: url.host) }
        } else {
            makeTransport = nil
        }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<WebSocket, WebSocketClientError>, Never>) in
            let opening = ClientOpening(handshake: handshake, request: request, deflate: configuration.compression, onOpen: onOpen) {
                continuation.resume(returning: $0)
            }
            connector.connect(to: url, opening: opening, connectTimeout: configuration.connectTimeout, makeTransport: makeTransport)
        }
        return try result.get()
    }

    /// The TLS context, made once (loading the trusted certificates is the slow part).
    private func tlsContextForConnecting() throws(WebSocketClientError) -> ClientTLS {
        let made: Result<ClientTLS, TLSError> = tlsContext.withLock { context in
            if let context { return .success(context) }
            do throws(TLSError) {
                let fresh = try ClientTLS(configuration.tls)
                context = fresh
                return .success(fresh)
            } catch {
                return .failure(error)
            }
        }
        do { return try made.get() } catch { throw .tls(error.message) }
    }
}

extension WebSocket {
    /// Opens a WebSocket to `url` with ``WebSocketClient/shared`` (the default configuration),
    /// as a browser's `new WebSocket(url, protocols)` does, and returns it once open. Its
    /// messages arrive on `WebSocket.messages`.
    ///
    /// ```swift
    /// let socket = try await WebSocket.connect("ws://localhost:9001/")
    /// try await socket.send("Hello")
    /// for await message in socket.messages { print(message.text ?? "binary") }
    /// ```
    public static func connect(_ url: String, protocols: [String] = [], headers: HTTPHeaders = HTTPHeaders()) async throws(WebSocketClientError) -> WebSocket {
        try await WebSocketClient.shared.connect(url, subprotocols: protocols, headers: headers)
    }
}
