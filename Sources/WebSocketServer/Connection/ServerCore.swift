import Dispatch
import Synchronization
import WebSocketCore
import CWebSocketShims
#if canImport(Glibc)
import Glibc
#endif

/// What a server shares with its connections: configuration, routes, counters, the set of
/// open WebSockets and the shutdown state.
final class ServerCore: Sendable {
    let configuration: WebSocketServer.Configuration
    let routes = Routes()
    let metrics = Metrics()
    /// The application's upgrade hooks and async handlers, running.
    let userTasks = UserTasks()
    let loops: [EventLoop]
    /// The configuration's timeouts, as every connection's timers use them.
    let timerSettings: ConnectionTimers.Settings
    /// Bytes all connections hold for messages still arriving (bounded by
    /// `configuration.maxUnfinishedMessageBytes`).
    let unfinishedMessageBytes = Atomic<Int>(0)
    private let registry = Locked<[ObjectIdentifier: (socket: WebSocket, path: String)]>([:])
    private let idleWaiters = Locked<[CheckedContinuation<Void, Never>]>([])
    private let nextLoop = Atomic<Int>(0)

    init(configuration: WebSocketServer.Configuration) {
        self.configuration = configuration
        timerSettings = ConnectionTimers.Settings(configuration)
        loops = (0..<max(1, configuration.loopCount)).map {
            EventLoop(index: $0, readBufferSize: configuration.readBufferSize, resolution: configuration.timerResolution)
        }
        for loop in loops { loop.start() }
    }

    func pickLoop() -> EventLoop {
        loops[nextLoop.add(1, ordering: .relaxed).newValue % loops.count]
    }

    func opened(_ socket: WebSocket, path: String) {
        metrics.openWebSockets.add(1, ordering: .relaxed)
        registry.withLock { $0[ObjectIdentifier(socket)] = (socket, path) }
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
        registry.withLock { r in r.values.filter { path == nil || $0.path == path }.map(\.socket) }
    }

    /// Whether a line of `level` would reach the log handler.
    func logs(_ level: LogLevel) -> Bool { level >= configuration.logLevel && configuration.logHandler != nil }

    /// Passes a line to the log handler; the metadata is built only if the line is wanted.
    func log(_ level: LogLevel, _ message: String, _ metadata: @autoclosure () -> [String: String] = [:]) {
        guard level >= configuration.logLevel, let handler = configuration.logHandler else { return }
        handler(level, message, metadata())
    }
}
