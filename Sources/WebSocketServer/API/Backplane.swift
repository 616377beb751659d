import WebSocketCore

/// Carries what a server publishes to the other server processes (nodes) that serve the same
/// topics, so that a message published on any node reaches the topic's members on every node:
/// several processes on one port (`SO_REUSEPORT`), or machines behind a load balancer. Set
/// ``WebSocketServer/Configuration/backplane``; the `WebSocketRedis` module provides one on
/// Redis pub/sub.
///
/// The server calls ``subscribe(_:)`` when a topic gets its first member on this node and
/// ``unsubscribe(_:)`` when it loses its last, ``publish(_:to:)`` for every
/// ``WebSocketServer/publish(_:to:excluding:overflow:)``, and hands what arrives from other
/// nodes to its own members through the ``BackplaneNode`` given to ``start(for:)``. None of
/// these may block or throw: a backplane that cannot reach its broker queues (bounded), drops
/// and counts, while local delivery goes on.
public protocol Backplane: AnyObject, Sendable {
    /// Starts carrying messages for `node`; called once, by ``WebSocketServer/start()``.
    func start(for node: BackplaneNode) throws
    /// This node has its first member of `topic`: receive the topic's messages.
    func subscribe(_ topic: String)
    /// This node has no member of `topic` left.
    func unsubscribe(_ topic: String)
    /// Sends `message` to the other nodes' members of `topic`.
    func publish(_ message: Message, to topic: String)
    /// How the backplane is doing, for a health route.
    var status: BackplaneStatus { get }
    /// The members `topic` has on all nodes together, as the backplane last heard from each;
    /// nil if it cannot tell (the broker is unreachable, or the backplane keeps no counts).
    func memberCount(of topic: String) async -> Int?
    /// Stops: unsubscribes and closes its connections; called by ``WebSocketServer/shutdown(timeout:)``.
    func shutdown() async
}

extension Backplane {
    /// No counts kept: nil.
    public func memberCount(of topic: String) async -> Int? { nil }
}

/// What a backplane needs of its server.
public struct BackplaneNode: Sendable {
    /// Delivers a message from another node to this node's members of a topic.
    public let deliver: @Sendable (_ message: Message, _ topic: String) -> Void
    /// Reports topics whose messages from other nodes may have been lost (the broker was
    /// unreachable for a while): the application can resync them (``WebSocketServer/onDiscontinuity(_:)``).
    public let discontinuity: @Sendable (_ topics: [String]) -> Void
    /// The topics with members on this node now (what to subscribe to again after a reconnect).
    public let topics: @Sendable () -> [String]
    /// The members a topic has on this node now.
    public let memberCount: @Sendable (_ topic: String) -> Int

    /// A node from its functions (tests of a backplane make their own).
    public init(deliver: @escaping @Sendable (Message, String) -> Void, discontinuity: @escaping @Sendable ([String]) -> Void,
                topics: @escaping @Sendable () -> [String], memberCount: @escaping @Sendable (String) -> Int) {
        self.deliver = deliver
        self.discontinuity = discontinuity
        self.topics = topics
        self.memberCount = memberCount
    }
}

/// A backplane's health and counters.
public struct BackplaneStatus: Sendable, Hashable {
    /// Whether the broker is reachable and the subscriptions are in place.
    public var isConnected: Bool
    /// Messages sent to the broker.
    public var published: Int
    /// Messages received from other nodes.
    public var received: Int
    /// Messages not sent because the outgoing queue was full while the broker was unreachable.
    public var dropped: Int
    /// Messages from other nodes known to be missing (gaps in a publisher's sequence numbers).
    public var lost: Int
    /// Outages after which subscribed topics were reported as discontinuous.
    public var discontinuities: Int
    /// Connections made to the broker again after losing one.
    public var reconnects: Int
    /// What the backplane says of itself (the broker's address, the last error).
    public var detail: String

    /// A status with every counter given.
    public init(isConnected: Bool, published: Int = 0, received: Int = 0, dropped: Int = 0, lost: Int = 0,
                discontinuities: Int = 0, reconnects: Int = 0, detail: String = "") {
        self.isConnected = isConnected
        self.published = published
        self.received = received
        self.dropped = dropped
        self.lost = lost
        self.discontinuities = discontinuities
        self.reconnects = reconnects
        self.detail = detail
    }
}
