import Dispatch
import Synchronization
import WebSocketCore
import CWebSocketShims
#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket server (RFC 6455) on non-blocking POSIX sockets and Dispatch, which also serves
/// plain HTTP routes.
///
/// ```swift
/// let server = WebSocketServer(configuration: .init(host: "127.0.0.1", port: 8080))
/// server.webSocket("/echo") { socket in
///     socket.onMessage { socket, message in socket.send(message) }
/// }
/// let address = try server.start()
/// ```
///
/// Connections are spread over a few serial queues (one per core by default); each
/// connection's callbacks run on its queue. Several servers can run in one process. A server
/// that was started keeps running, and stays in memory, until ``shutdown(timeout:)``.
public final class WebSocketServer: Sendable {
    /// The configuration the server was made with.
    public let configuration: Configuration
    let core: Endpoint
    /// Whether the server made its loops itself (and stops them at shutdown).
    private let ownsLoops: Bool
    private let listener = Locked<ListenerState>(ListenerState())

    private struct ListenerState: @unchecked Sendable {
        // `@unchecked`: the Dispatch source is only touched under the lock (start, shutdown) or by
        // its own handler; Dispatch sources are thread-safe, the overlay just does not say so.
        var source: DispatchSourceRead?
        var address: SocketAddress?
        /// Makes each accepted connection's TLS, when the configuration asks for TLS.
        var security: (any SecureTransportFactory)?
        /// Told of topics the backplane may have lost messages of.
        var onDiscontinuity: (@Sendable ([String]) -> Void)?
        /// Whether shutdown(timeout:) has finished, and who waits for it (run()).
        var hasShutDown = false
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Makes a server; nothing listens until ``start()``. Connections handed over with
    /// ``adopt(socket:head:bytes:)`` are served from now on.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        ownsLoops = configuration.eventLoops == nil
        let loops = configuration.eventLoops
            ?? EventLoops(count: configuration.loopCount, readBufferSize: configuration.readBufferSize, timerResolution: configuration.timerResolution)
        let backplane = configuration.backplane
        core = Endpoint(settings: ConnectionSettings(configuration), eventLoops: loops) { topic, joined in
            if joined { backplane?.subscribe(topic) } else { backplane?.unsubscribe(topic) }
        }
    }

    /// The loops the server's connections run on; a client in the same process can use them
    /// too (its configuration's `eventLoops`).
    public var eventLoops: EventLoops { core.eventLoops }

    // MARK: - Routes
    // Add every route before the server serves its first request (before start(), or before
    // the first adopt()): the table is then fixed, so routing takes no lock.

    /// Serves WebSocket connections on `path` (`*` for any path without a route of its own),
    /// with callbacks.
    ///
    /// - Parameters:
    ///   - path: the request path, without the query; or a pattern with parameters and a
    ///     trailing wildcard (`/rooms/:room`, `/files/*`), whose values the socket's
    ///     ``WebSocket/parameters`` and the hook's ``UpgradeContext/parameters`` carry.
    ///   - allowedOrigins: when set, a request whose `Origin` is not in the set gets 403;
    ///     requests without `Origin` (non-browser clients) are let through.
    ///   - upgrade: decides each upgrade before the 101: accept (with a subprotocol, headers,
    ///     user state) or reject with a response. It may be async (an auth lookup).
    ///   - onOpen: runs on the connection's queue once it is open, before the 101 is written:
    ///     the callbacks set and the topics joined here are in place before the peer can send
    ///     anything, or miss a publication. What it sends follows the 101.
    public func webSocket(_ path: String, allowedOrigins: Set<String>? = nil, upgrade: UpgradeHook? = nil,
                          onOpen: @escaping @Sendable (WebSocket) -> Void) {
        core.routes.add(path, .webSocket(WebSocketRoute(allowedOrigins: allowedOrigins, upgradeHook: upgrade, onOpen: onOpen, task: nil)))
    }

    /// Serves WebSocket connections on `path` with an async handler, one task per connection.
    /// Read ``WebSocket/messages``; when the handler returns, the connection is closed with
    /// 1000 if it is still open.
    public func asyncWebSocket(_ path: String, allowedOrigins: Set<String>? = nil, upgrade: UpgradeHook? = nil,
                               handler: @escaping @Sendable (WebSocket) async -> Void) {
        precondition(!configuration.engine.deliversFragments,
                     "asyncWebSocket routes deliver whole messages through socket.messages; turn engine.deliversFragments off, or use webSocket(_:) with onFragment")
        core.routes.add(path, .webSocket(WebSocketRoute(allowedOrigins: allowedOrigins, upgradeHook: upgrade, onOpen: nil, task: handler)))
    }

    /// Serves plain HTTP GET and HEAD on `path` (a page, a file, a health check). Other methods
    /// get 405. The connection stays open for the client's next request (HTTP/1.1 keep-alive,
    /// up to ``Configuration/maxRequestsPerConnection`` requests and
    /// ``Configuration/keepAliveTimeout`` between them) unless the request or the response says
    /// `Connection: close`. A path may also have a WebSocket
    /// route: requests that ask for a WebSocket upgrade go there, all others here.
    public func http(_ path: String, handler: @escaping HTTPHandler) {
        core.routes.add(path, .http { head, _ in handler(head) })
    }

    /// Serves plain HTTP GET and HEAD on a path pattern, handing the handler the values of its
    /// parameters: `/rooms/:room` gives `["room": "lobby"]` for `/rooms/lobby`, and a trailing
    /// `/*` gives the rest of the path under `*` (`/static/*`). Exact paths win over patterns;
    /// patterns are tried in the order they were added. WebSocket routes take patterns too
    /// (``WebSocket/parameters``, ``UpgradeContext/parameters``).
    public func http(_ path: String, handler: @escaping @Sendable (HTTPRequestHead, [String: String]) -> HTTPResponse) {
        core.routes.add(path, .http(handler))
    }

    // MARK: - Listening

    /// Starts listening and returns the bound address (with the port chosen, if 0 was asked).
    ///
    /// With ``Configuration/transportSecurity`` set, the certificates are loaded first; a
    /// missing, unreadable or mismatched file throws an error that names it.
    @discardableResult
    public func start() throws -> SocketAddress {
        let configuration = self.configuration
        let security = try configuration.transportSecurity?.load()
        if let backplane = configuration.backplane {
            let core = self.core, listener = self.listener
            try backplane.start(for: BackplaneNode(
                deliver: { message, topic in
                    _ = core.topics.publish(message, to: topic, excluding: nil, overflow: .skip, on: core.eventLoops)
                },
                discontinuity: { topics in listener.withLock { $0.onDiscontinuity }?(topics) },
                topics: { core.topics.all },
                memberCount: { core.topics.count($0) }))
        }
        let fd = try Socket.listen(host: configuration.host, port: configuration.port,
                                   backlog: configuration.backlog, reusePort: configuration.reusePort)
        let address = Socket.localAddress(of: fd) ?? SocketAddress(host: configuration.host, port: configuration.port)
        // Accepting runs on the first loop's queue: a connection that lands on that loop starts
        // at once, without a hop to another thread.
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: core.eventLoops.loops[0].queue)
        let box = DispatchBox(source)
        source.setEventHandler { [core] in
            WebSocketServer.acceptAll(fd: fd, core: core, configuration: configuration, security: security, source: box.value)
        }
        source.setCancelHandler { _ = Glibc.close(fd) }
        listener.withLock {
            $0.source = source
            $0.address = address
            $0.security = security
        }
        source.resume()
        core.log(.info, "Listening", ["address": address.description])
        return address
    }

    /// Starts the server and serves until the task running this is cancelled, then shuts down
    /// gracefully (``shutdown(timeout:)``) and returns; it also returns when something else
    /// shuts the server down. This is what swift-service-lifecycle asks of a `Service`, so
    /// `extension WebSocketServer: Service {}` makes a server one (its graceful shutdown cancels
    /// `run()`).
    ///
    /// - Parameter shutdownTimeout: how long the shutdown waits for closing handshakes and the
    ///   application's handlers before dropping what is left.
    /// - Throws: what ``start()`` throws (a port in use, a missing certificate).
    public func run(shutdownTimeout: Duration) async throws {
        try start()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let finished = listener.withLock { state -> Bool in
                    if state.hasShutDown { return true }
                    state.shutdownWaiters.append(continuation)
                    return false
                }
                if finished { continuation.resume() }
            }
        } onCancel: {
            Task { await self.shutdown(timeout: shutdownTimeout) }
        }
    }

    /// ``run(shutdownTimeout:)`` with 5 seconds for the shutdown: the signature
    /// swift-service-lifecycle's `Service` asks for.
    public func run() async throws {
        try await run(shutdownTimeout: .seconds(5))
    }

    /// The address the server listens on, once started.
    public var localAddress: SocketAddress? { listener.withLock { $0.address } }

    /// Reads the TLS certificates and keys again from where the configuration names them (a
    /// file replaced by a renewal, for instance). Connections accepted from now on use the new
    /// ones; open connections go on with the ones they started with. Call it when the
    /// certificates change, or on `SIGHUP`.
    ///
    /// - Throws: what is wrong with the new files; the server then goes on with the old ones.
    ///   ``WebSocketServerError/notSecured`` if the server was not started with TLS.
    public func reloadCertificates() throws {
        guard let security = listener.withLock({ $0.security }) else { throw WebSocketServerError.notSecured }
        try security.reload()
        core.log(.info, "Certificates reloaded")
    }

    private static func acceptAll(fd: Int32, core: Endpoint, configuration: Configuration, security: (any SecureTransportFactory)?,
                                  source: DispatchSourceRead) {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    cws_accept_nonblocking(fd, $0, &length)
                }
            }
            if client < 0 {
                switch errno {
                case EINTR, ECONNABORTED, EPROTO: continue
                case EAGAIN, EWOULDBLOCK: return
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: stop accepting for a moment instead of spinning on a
                    // listen socket that stays readable.
                    core.log(.warning, "accept failed; backing off for 100 ms", ["error": SystemError(call: "accept", errno: errno).description])
                    source.suspend()
                    let box = DispatchBox(source)
                    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) { box.value.resume() }
                    return
                default:
                    core.log(.warning, "accept failed", ["error": SystemError(call: "accept", errno: errno).description])
                    return
                }
            }
            let open = core.metrics.openConnections.add(1, ordering: .relaxed).newValue
            if open > configuration.maxConnections {
                core.metrics.rejected(status: 503)
                if security == nil {
                    // On a TLS port, answering would take a TLS handshake, the very work the
                    // server has no room for: the connection is closed without a word.
                    let response = HTTPResponse.text(503, "Too many connections\n", headers: ["Connection": "close", "Retry-After": "1"]).serialized()
                    _ = response.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
                _ = Glibc.close(client)
                core.connectionClosed()
                continue
            }
            Socket.configureAccepted(client, noDelay: configuration.noDelay)
            let place = core.pickLoop()
            let transport = security?.makeServerTransport(fd: client) ?? SocketTransport(fd: client)
            let connection = Connection(transport: transport, on: place, endpoint: core, remoteAddress: Socket.address(from: storage))
            let loop = place.loop
            if loop.isCurrent {
                connection.start()
            } else {
                loop.queue.async { connection.start() }
            }
        }
    }

    // MARK: - Embedding

    /// Takes over a socket that another HTTP server accepted, as Node's `ws` does with
    /// `handleUpgrade`: the request is validated and routed as if this server had read it, and
    /// from then on this server owns (and closes) the descriptor.
    ///
    /// - Parameters:
    ///   - fd: the connected socket; it is made non-blocking.
    ///   - head: the request head, if the other server parsed it; nil to parse `bytes`.
    ///   - bytes: with `head`, the bytes read after the head (early WebSocket frames);
    ///     without it, everything read from the socket so far.
    public func adopt(socket fd: Int32, head: HTTPRequestHead? = nil, bytes: [UInt8] = []) {
        core.metrics.openConnections.add(1, ordering: .relaxed)
        Socket.configureAccepted(fd, noDelay: configuration.noDelay)
        let place = core.pickLoop()
        let connection = Connection(transport: SocketTransport(fd: fd), on: place, endpoint: core, remoteAddress: Socket.remoteAddress(of: fd))
        place.loop.queue.async { connection.start(head: head, initialBytes: bytes) }
    }

    // MARK: - Connections

    /// The open WebSocket connections, on every route or on one path.
    public func connections(path: String? = nil) -> [WebSocket] { core.sockets(path: path) }

    /// The counters since the server was made.
    public var metrics: ServerMetrics { core.metrics.snapshot(loopCounters: core.loopCounters) }

    /// What a broadcast does with a receiver whose queue is over the high-water mark.
    public enum BroadcastOverflow: Sendable, Hashable {
        /// Leave that receiver out of this message.
        case skip
        /// Close that receiver with 1008.
        case close
        /// Queue the message anyway.
        case queue
    }

    /// Sends `message` to every open connection (on `path`, if given), except `excluding`.
    /// The frame is encoded once and shared by every receiver without compression; receivers
    /// with a negotiated compression extension get their own compressed frame.
    ///
    /// - Returns: how many connections the message was queued to.
    @discardableResult
    public func broadcast(_ message: Message, path: String? = nil, excluding: WebSocket? = nil, overflow: BroadcastOverflow = .skip) -> Int {
        let frame = WebSocketEngine.serverFrame(for: message)
        let mark = configuration.highWaterMark
        var count = 0
        for socket in core.sockets(path: path) where socket !== excluding && socket.readyState == .open {
            if socket.bufferedAmount > mark {
                switch overflow {
                case .skip: continue
                case .close:
                    try? socket.close(code: .policyViolation, reason: "Too much data queued")
                    continue
                case .queue: break
                }
            }
            count += 1
            if !socket.extensions.isEmpty {
                socket.send(message)
                continue
            }
            let size = message.data.count
            socket.bufferedAmountChanged(by: size)
            let connection = socket.connection
            connection.loop.execute { _ = connection.send(prebuilt: [frame], accounted: size) }
        }
        return count
    }

    // MARK: - Topics

    /// Sends `message` to every member of `topic` (sockets join with ``WebSocket/subscribe(_:)``)
    /// on this server, and, with a ``Configuration/backplane``, on every other node. The frame
    /// is encoded once for all members without compression; the members on one loop get it in
    /// one turn of that loop, their writes corked together. Returns at once, from any thread.
    ///
    /// - Parameters:
    ///   - message: what to send, text or binary.
    ///   - topic: the topic's name.
    ///   - excluding: a socket that does not get it (the publisher's own, say).
    ///   - overflow: what happens to a member whose queue is over the high-water mark.
    /// - Returns: the members `topic` has on this server (the excluded socket counted, if it is one).
    @discardableResult
    public func publish(_ message: Message, to topic: String, excluding: WebSocket? = nil, overflow: BroadcastOverflow = .skip) -> Int {
        let reached = core.topics.publish(message, to: topic, excluding: excluding, overflow: overflow, on: core.eventLoops)
        configuration.backplane?.publish(message, to: topic)
        return reached
    }

    /// The members `topic` has on this server.
    public func subscriberCount(_ topic: String) -> Int { core.topics.count(topic) }

    /// The members `topic` has on every node sharing this server's backplane: this server's
    /// own count now, plus each other live node's as it last reported it (every few seconds);
    /// without a backplane, or when it cannot tell, this server's count.
    public func subscriberCountAcrossNodes(_ topic: String) async -> Int {
        guard let backplane = configuration.backplane, let count = await backplane.memberCount(of: topic) else {
            return core.topics.count(topic)
        }
        return count
    }

    /// Calls `handler` with the topics whose messages from other nodes may have been lost while
    /// the backplane could not reach its broker, once per outage: the application can resync
    /// those topics (from its database, say).
    public func onDiscontinuity(_ handler: @escaping @Sendable ([String]) -> Void) {
        listener.withLock { $0.onDiscontinuity = handler }
    }

    /// The backplane's health, if the server has one: for a health route.
    public var backplaneStatus: BackplaneStatus? { configuration.backplane?.status }

    // MARK: - Shutdown

    /// Shuts down gracefully: stops accepting, sends 1001 (Going Away) to every WebSocket,
    /// closes HTTP connections, and waits until `timeout` for the closing handshakes and for the
    /// application's upgrade hooks and async handlers to return; then drops whatever is left,
    /// cancels the hooks and handlers still running, and stops the server's loops (unless they
    /// came from its configuration's ``Configuration/eventLoops``, which others may use). It
    /// returns when all of that is done; the server cannot be restarted.
    public func shutdown(timeout: Duration = .seconds(5)) async {
        let source: DispatchSourceRead? = listener.withLock { state in
            defer { state.source = nil }
            return state.source
        }
        source?.cancel()
        let core = self.core
        for loop in core.eventLoops.loops {
            loop.queue.async {
                for connection in core.connections(on: loop) {
                    if connection.isOpen {
                        connection.close(code: .goingAway, reason: "Server shutting down")
                    } else if connection.isBeforeUpgrade {
                        connection.closeSocket()
                    }
                }
            }
        }
        let timedOut = Task {
            try? await Task.sleep(for: timeout)
            return !Task.isCancelled
        }
        let idle = Task {
            await core.waitUntilIdle()
            await core.userTasks.waitUntilDone()
        }
        Task {
            if await timedOut.value {
                for loop in core.eventLoops.loops {
                    loop.queue.async {
                        for connection in core.connections(on: loop) { connection.closeSocket() }
                    }
                }
                core.userTasks.stopWaiting()
            }
        }
        await idle.value
        timedOut.cancel()
        await configuration.backplane?.shutdown()
        if ownsLoops { await core.eventLoops.stop() }
        core.log(.info, "Shut down")
        // Last: run() returns once these resume, and everything above has happened by then.
        let waiters = listener.withLock { state in
            state.hasShutDown = true
            defer { state.shutdownWaiters = [] }
            return state.shutdownWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
