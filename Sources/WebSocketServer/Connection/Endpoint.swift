import Dispatch
import Synchronization
import WebSocketCore

/// What a server, or a client, shares with its connections: their settings, the server's
/// routes, counters, the set of open WebSockets, the application's tasks and the shutdown state.
final class Endpoint: Sendable {
    let settings: ConnectionSettings
    /// The server's routes; a client's endpoint has none.
    let routes = Routes()
    let metrics = Metrics()
    /// The application's upgrade hooks and async handlers, running.
    let userTasks = UserTasks()
    /// The loops this endpoint's connections run on (maybe shared with other endpoints).
    let eventLoops: EventLoops
    /// This endpoint's per-message counters on each loop, by the loop's index: a loop shared
    /// with another endpoint counts each one's messages apart.
    let loopCounters: [LoopCounters]
    /// Bytes all connections hold for messages still arriving (bounded by
    /// `settings.maxUnfinishedMessageBytes`).
    let unfinishedMessageBytes = Atomic<Int>(0)
    /// The open WebSockets. Their paths are read from their requests when asked: a path here
    /// too would take each entry from 16 bytes to 32, for every connection, all the time.
    private let registry = Locked<[ObjectIdentifier: WebSocket]>([:])
    private let idleWaiters = Locked<[CheckedContinuation<Void, Never>]>([])

    /// Topic membership and publications (a server's).
    let topics: Topics

    init(settings: ConnectionSettings, eventLoops: EventLoops, topicsChanged: @escaping @Sendable (String, Bool) -> Void = { _, _ in }) {
        self.settings = settings
        self.eventLoops = eventLoops
        loopCounters = eventLoops.loops.map { _ in LoopCounters() }
        topics = Topics(loopCount: eventLoops.count, firstJoinedOrLastLeft: topicsChanged)
    }

    /// The loop for the next connection, and this endpoint's counters on it.
    func pickLoop() -> (loop: EventLoop, counters: LoopCounters) {
        let loop = eventLoops.next()
        return (loop, loopCounters[loop.index])
    }

    func opened(_ socket: WebSocket) {
        metrics.openWebSockets.add(1, ordering: .relaxed)
        registry.withLock { $0[ObjectIdentifier(socket)] = socket }
    }

    func closed(_ socket: WebSocket) {
        metrics.openWebSockets.subtract(1, ordering: .relaxed)
        registry.withLock { $0[ObjectIdentifier(socket)] = nil }
    }

    func connectionClosed() {
        let left = metrics.openConnections.subtract(1, ordering: .relaxed).newValue
        if left == 0 {
            let waiters = idleWaiters.withLock { w in defer { w = [] }; return w }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Waits until no socket is open.
    func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let resumeNow = idleWaiters.withLock { w -> Bool in
                if metrics.openConnections.load(ordering: .relaxed) == 0 { return true }
                w.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func sockets(path: String?) -> [WebSocket] {
        registry.withLock { r in r.values.filter { path == nil || $0.request.path == path } }
    }

    /// This endpoint's connections on `loop`. On the loop's queue.
    func connections(on loop: EventLoop) -> [Connection] {
        loop.connections.filter { $0.endpoint === self }
    }

    /// Whether a line of `level` would reach the log handler.
    func logs(_ level: LogLevel) -> Bool { level >= settings.logLevel && settings.logHandler != nil }

    /// Passes a line to the log handler; the metadata is built only if the line is wanted.
    func log(_ level: LogLevel, _ message: String, _ metadata: @autoclosure () -> [String: String] = [:]) {
        guard level >= settings.logLevel, let handler = settings.logHandler else { return }
        handler(level, message, metadata())
    }
}
