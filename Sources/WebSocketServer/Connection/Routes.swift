import Synchronization
import WebSocketCore

/// A WebSocket endpoint: its checks, its upgrade hook and what runs when a connection opens.
final class WebSocketRoute: Sendable {
    let allowedOrigins: Set<String>?
    let upgradeHook: UpgradeHook?
    let onOpen: (@Sendable (WebSocket) -> Void)?
    let task: (@Sendable (WebSocket) async -> Void)?
    /// Whether messages go to ``WebSocket/messages`` (an async route) rather than callbacks.
    var feedsMessageSequence: Bool { task != nil }

    init(allowedOrigins: Set<String>?, upgradeHook: UpgradeHook?, onOpen: (@Sendable (WebSocket) -> Void)?, task: (@Sendable (WebSocket) async -> Void)?) {
        self.allowedOrigins = allowedOrigins
        self.upgradeHook = upgradeHook
        self.onOpen = onOpen
        self.task = task
    }

    /// Runs the open handler (on the connection's queue), or starts the async handler; when
    /// the async handler returns, the connection is closed with 1000 if still open.
    func open(_ socket: WebSocket) {
        if let onOpen { onOpen(socket) }
        if let task {
            Task {
                await task(socket)
                if socket.readyState == .open { try? socket.close() }
            }
        }
    }
}

enum Route: Sendable {
    case http(HTTPHandler)
    case webSocket(WebSocketRoute)
}

/// Routes by exact path; `*` matches any path that has no route of its own.
struct RouteTable: Sendable {
    private var exact: [String: Route] = [:]
    private var wildcard: Route?

    mutating func add(_ path: String, _ route: Route) {
        if path == "*" { wildcard = route } else { exact[path] = route }
    }

    func match(_ path: String) -> Route? { exact[path] ?? wildcard }
}

/// A thread-safe route table.
final class Routes: Sendable {
    private let table = Locked(RouteTable())
    func add(_ path: String, _ route: Route) { table.withLock { $0.add(path, route) } }
    func match(_ path: String) -> Route? { table.withLock { $0.match(path) } }
}
