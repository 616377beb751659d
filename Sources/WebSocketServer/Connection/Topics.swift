import WebSocketCore

/// Who has joined which topic, and the publications on their way to the members.
///
/// Membership lives on each member's loop (a loop's members are touched only on its queue);
/// per-loop member counts, under a lock, let a publish from any thread route the message to
/// the loops that have members: one hop per loop, not one per member. On each loop the
/// publications that arrive together are delivered in one turn, with each member's writes
/// corked, so a member gets one `sendmsg` per turn rather than one per message.
final class Topics: Sendable {
    /// A message waiting to be delivered on one loop.
    struct Publication: Sendable {
        var topic: String
        var message: Message
        /// The frame, encoded once for every member without a compression extension.
        var frame: OutboundFrame
        var excluding: WebSocket?
        var overflow: WebSocketServer.BroadcastOverflow
    }

    /// Member counts by topic, one per loop.
    private let counts = Locked<[String: [Int]]>([:])
    private let loops: [LoopTopics]
    /// Told when a topic gets its first member on this node, or loses its last (the backplane
    /// subscribes and unsubscribes then).
    let firstJoinedOrLastLeft: @Sendable (_ topic: String, _ joined: Bool) -> Void

    init(loopCount: Int, firstJoinedOrLastLeft: @escaping @Sendable (String, Bool) -> Void) {
        loops = (0..<loopCount).map { _ in LoopTopics() }
        self.firstJoinedOrLastLeft = firstJoinedOrLastLeft
    }

    /// The topics with members on this node.
    var all: [String] { counts.withLock { Array($0.keys) } }

    /// Members of `topic` on this node.
    func count(_ topic: String) -> Int {
        counts.withLock { $0[topic]?.reduce(0, +) ?? 0 }
    }

    /// Adds `connection` to `topic`. On the connection's loop.
    func join(_ connection: Connection, _ topic: String) {
        let index = connection.loop.index
        guard loops[index].members[topic, default: [:]].updateValue(connection, forKey: ObjectIdentifier(connection)) == nil else { return }
        let first = counts.withLock { counts -> Bool in
            var perLoop = counts[topic] ?? Array(repeating: 0, count: loops.count)
            let before = perLoop.reduce(0, +)
            perLoop[index] += 1
            counts[topic] = perLoop
            return before == 0
        }
        if first { firstJoinedOrLastLeft(topic, true) }
    }

    /// Removes `connection` from `topic`. On the connection's loop.
    func leave(_ connection: Connection, _ topic: String) {
        let index = connection.loop.index
        guard loops[index].members[topic]?.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        if loops[index].members[topic]?.isEmpty == true { loops[index].members[topic] = nil }
        let last = counts.withLock { counts -> Bool in
            guard var perLoop = counts[topic] else { return false }
            perLoop[index] -= 1
            let total = perLoop.reduce(0, +)
            counts[topic] = total == 0 ? nil : perLoop
            return total == 0
        }
        if last { firstJoinedOrLastLeft(topic, false) }
    }

    /// Queues `message` to every loop with members of `topic`, the frame encoded once (and not
    /// at all when the topic has no member here); returns how many members the topic has on
    /// this node (the excluded socket counted, if it is one).
    func publish(_ message: Message, to topic: String, excluding: WebSocket?, overflow: WebSocketServer.BroadcastOverflow,
                 on eventLoops: EventLoops) -> Int {
        guard let perLoop = counts.withLock({ $0[topic] }) else { return 0 }
        let publication = Publication(topic: topic, message: message, frame: WebSocketEngine.serverFrame(for: message),
                                      excluding: excluding, overflow: overflow)
        var reached = 0
        for (index, members) in perLoop.enumerated() where members > 0 {
            reached += members
            let loop = eventLoops.loops[index]
            let topics = loops[index]
            if topics.enqueue(publication) {
                // Always a turn of its own, even from the loop's own queue: a publish from a
                // callback then never delivers inside another connection's event processing.
                loop.queue.async { topics.deliver() }
            }
        }
        return reached
    }
}

/// One loop's share of the topics: its members (confined to the loop's queue) and the
/// publications waiting for its next turn (under a lock: any thread adds to them).
///
/// `@unchecked Sendable`: `members` is touched only on its loop's queue (join, leave, deliver
/// run there); `pending` is behind its lock.
final class LoopTopics: @unchecked Sendable {
    var members: [String: [ObjectIdentifier: Connection]] = [:]
    private let pending = Locked<(publications: [Topics.Publication], scheduled: Bool)>(([], false))

    /// Adds a publication; true if a delivery turn must be scheduled.
    func enqueue(_ publication: Topics.Publication) -> Bool {
        pending.withLock { state in
            state.publications.append(publication)
            defer { state.scheduled = true }
            return !state.scheduled
        }
    }

    /// Delivers every waiting publication to this loop's members, each member corked until the
    /// end so that its frames leave together. On the loop's queue.
    func deliver() {
        let batch = pending.withLock { state -> [Topics.Publication] in
            defer { state = ([], false) }
            return state.publications
        }
        var corked: [Connection] = []
        for publication in batch {
            guard let members = members[publication.topic] else { continue }
            let size = publication.message.data.count
            for connection in members.values {
                guard let socket = connection.socket, socket !== publication.excluding, socket.readyState == .open else { continue }
                if socket.bufferedAmount > connection.endpoint.settings.highWaterMark {
                    switch publication.overflow {
                    case .skip: continue
                    case .close:
                        try? socket.close(code: .policyViolation, reason: "Too much data queued")
                        continue
                    case .queue: break
                    }
                }
                socket.bufferedAmountChanged(by: size)
                if socket.extensions.isEmpty {
                    // One publication: straight out through the loop's cork buffer (nothing to
                    // gather, so no write queue, ring or iovecs per member).
                    if batch.count == 1, connection.sendDirectly(publication.message, accounted: size) { continue }
                    if connection.cork() { corked.append(connection) }
                    _ = connection.send(prebuilt: [publication.frame], accounted: size)
                } else {
                    if connection.cork() { corked.append(connection) }
                    // A compressed connection's frame depends on its own compression context.
                    _ = connection.send(publication.message, compress: nil, accounted: size)
                }
            }
        }
        for connection in corked { connection.uncork() }
    }
}
