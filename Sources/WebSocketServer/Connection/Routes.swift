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

    /// Runs the open handler (on the connection's queue), or starts the async handler among
    /// `tasks`; when the async handler returns, the connection is closed with 1000 if still open.
    func open(_ socket: WebSocket, tasks: UserTasks) {
        if let onOpen { onOpen(socket) }
        if let task {
            tasks.run {
                await task(socket)
                if socket.readyState == .open { try? socket.close() }
            }
        }
    }
}

enum Route: Sendable {
    /// A plain HTTP handler, given the route's parameters.
    case http(@Sendable (HTTPRequestHead, [String: String]) -> HTTPResponse)
    case webSocket(WebSocketRoute)
}

/// What serves one path: a plain HTTP handler, a WebSocket route, or both (a page and the
/// socket its script opens, at one address; upgrade requests go to the WebSocket route).
struct PathRoutes: Sendable {
    var http: (@Sendable (HTTPRequestHead, [String: String]) -> HTTPResponse)?
    var webSocket: WebSocketRoute?

    mutating func add(_ route: Route) {
        switch route {
        case .http(let handler): http = handler
        case .webSocket(let route): webSocket = route
        }
    }
}

/// Routes by exact path first, then by pattern (`/rooms/:room`, `/static/*`) in the order they
/// were added; `*` matches any path that has no route of its own.
struct RouteTable: Sendable {
    private var exact: [String: PathRoutes] = [:]
    private var patterns: [(pattern: RoutePattern, routes: PathRoutes)] = []
    private var wildcard: PathRoutes?

    mutating func add(_ path: String, _ route: Route) {
        if path == "*" {
            wildcard = wildcard ?? PathRoutes()
            wildcard!.add(route)
        } else if let pattern = RoutePattern(path) {
            if let index = patterns.firstIndex(where: { $0.pattern == pattern }) {
                patterns[index].routes.add(route)
            } else {
                var routes = PathRoutes()
                routes.add(route)
                patterns.append((pattern, routes))
            }
        } else {
            exact[path, default: PathRoutes()].add(route)
        }
    }

    /// The routes for `path`, and the values of the pattern's parameters.
    func match(_ path: String) -> (routes: PathRoutes, parameters: [String: String])? {
        if let routes = exact[path] { return (routes, [:]) }
        for entry in patterns {
            if let parameters = entry.pattern.match(path) { return (entry.routes, parameters) }
        }
        return wildcard.map { ($0, [:]) }
    }
}

/// A path with parameters (`:name` segments) and maybe a trailing `*`, which takes the rest of
/// the path (under the name `*`).
struct RoutePattern: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(Substring)
        case parameter(String)
    }
    let segments: [Segment]
    let hasTrailingWildcard: Bool

    /// A pattern, or nil for a plain path (no `:` segment, no trailing `/*`).
    init?(_ path: String) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let trailing = parts.last == "*"
        if trailing { parts = parts.dropLast() }
        guard trailing || parts.contains(where: { $0.hasPrefix(":") }) else { return nil }
        segments = parts.map { $0.hasPrefix(":") ? .parameter(String($0.dropFirst())) : .literal($0) }
        hasTrailingWildcard = trailing
    }

    /// The parameters' values if `path` matches.
    func match(_ path: String) -> [String: String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        // A trailing `*` needs its slash: `/static/*` matches `/static/` and below, not `/static`.
        guard hasTrailingWildcard ? parts.count > segments.count : parts.count == segments.count else { return nil }
        var values: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text): guard text == part else { return nil }
            case .parameter(let name):
                guard !part.isEmpty else { return nil }
                values[name] = String(part)
            }
        }
        if hasTrailingWildcard { values["*"] = parts.dropFirst(segments.count).joined(separator: "/") }
        return values
    }
}

/// The server's routes: filled while the server is set up, then fixed by the first lookup (the
/// first request served), so that routing a request takes no lock. Adding a route after that
/// is a programming error.
final class Routes: Sendable {
    /// The fixed table, behind one reference that is set once.
    private final class Fixed: Sendable {
        let table: RouteTable
        init(_ table: RouteTable) { self.table = table }
    }
    private let building = Locked(RouteTable())
    private let fixed = AtomicLazyReference<Fixed>()

    func add(_ path: String, _ route: Route) {
        building.withLock { table in
            precondition(fixed.load() == nil, "Add routes before the server serves its first request (route \(path))")
            table.add(path, route)
        }
    }

    func match(_ path: String) -> (routes: PathRoutes, parameters: [String: String])? {
        if let fixed = fixed.load() { return fixed.table.match(path) }
        // The first lookup fixes the table; under the lock, so that no add() slips past it.
        return building.withLock { table in fixed.storeIfNil(Fixed(table)) }.table.match(path)
    }
}
