import Dispatch
import Synchronization
import WebSocketCore
import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

/// A `Backplane` on Redis (or Valkey) pub/sub: every server process (node) publishes to and
/// subscribes to one Redis channel per topic, so a message published on any node reaches the
/// topic's members on all of them.
///
/// ```swift
/// configuration.backplane = try RedisBackplane("redis://127.0.0.1:6379")
/// ```
///
/// - One channel per topic (`{prefix}:t:{topic}`), subscribed while this node has a member
///   (never a pattern subscription of everything); two connections per node: one subscriber,
///   one for commands, whose PUBLISHes of one queue turn leave in one write.
/// - Each message travels in an envelope with this node's id (a node drops its own messages
///   when Redis sends them back) and a per-topic sequence number (a gap is counted as lost).
/// - Guarantee: at most once, in order per publishing node and topic; no order across nodes.
///   Messages are lost while a node's subscriber connection is down (then `WebSocketServer.onDiscontinuity(_:)`
///   reports the topics once it is back), when Redis drops a subscriber that reads too slowly
///   (`client-output-buffer-limit pubsub`), and when the outgoing queue overflows during an outage.
/// - Redis down: local delivery goes on; `publish` never blocks or throws; up to
///   ``Configuration/maxQueuedMessages`` wait to be sent, the rest are dropped and counted.
///   Connections come back with exponential backoff and jitter (50 ms to 2 s), and a probe
///   (this node publishing to itself) restarts a subscriber connection that went quiet.
/// - Member counts across nodes: every ``Configuration/presenceInterval`` each node writes its
///   changed per-topic counts (`HSET {prefix}:pc:{topic} {node} {count}`) and its liveness
///   (`ZADD {prefix}:nodes {expiry} {node}`); a count across nodes adds the live nodes' entries,
///   so a node that dies without a word drops out when its ``Configuration/presenceTTL`` lapses.
public final class RedisBackplane: Backplane, @unchecked Sendable {
    // `@unchecked`: every mutable property is touched on `queue` only; `counters` is atomic.

    /// How the backplane names things, waits and bounds.
    public struct Configuration: Sendable {
        /// The start of every channel name: `{prefix}:t:{topic}`.
        public var prefix: String
        /// Time allowed to connect to Redis.
        public var connectTimeout: Duration
        /// Messages kept for sending while Redis is unreachable; more are dropped and counted.
        public var maxQueuedMessages: Int
        /// How often the node publishes a probe to itself; a subscriber connection that has
        /// not received the previous probe by the next is restarted.
        public var probeInterval: Duration
        /// The largest payload published (Redis is single-threaded: a huge message stalls every
        /// topic); larger ones are not sent to other nodes, and counted as dropped.
        public var maxPayload: Int
        /// How often this node writes its member counts and its liveness to Redis.
        public var presenceInterval: Duration
        /// How long a node's counts stay valid without a new liveness mark.
        public var presenceTTL: Duration

        /// Defaults: prefix `ws`, 2 s to connect, 10,000 queued messages, a probe every 2 s, 1 MiB
        /// payloads, member counts written every 5 s and valid for 15 s.
        public init(prefix: String = "ws", connectTimeout: Duration = .seconds(2), maxQueuedMessages: Int = 10_000,
                    probeInterval: Duration = .seconds(2), maxPayload: Int = 1 << 20,
                    presenceInterval: Duration = .seconds(5), presenceTTL: Duration = .seconds(15)) {
            self.prefix = prefix
            self.connectTimeout = connectTimeout
            self.maxQueuedMessages = maxQueuedMessages
            self.probeInterval = probeInterval
            self.maxPayload = maxPayload
            self.presenceInterval = presenceInterval
            self.presenceTTL = presenceTTL
        }
    }

    /// This node's id, in every envelope it sends.
    public let nodeID: [UInt8]
    private let address: RedisAddress
    private let configuration: Configuration
    private let queue = DispatchQueue(label: "websocket.redis")
    private var node: BackplaneNode?
    private var subscriber: RedisConnection?
    private var commands: RedisConnection?
    private var subscriberReady = false
    private var commandsReady = false
    /// Whether the subscriber connection has been up before (a new one after that means an outage).
    private var subscribedBefore = false
    private var attempts = (subscriber: 0, commands: 0)
    /// Topics with members here, and so subscribed (or to subscribe once connected).
    private var topics: Set<String> = []
    /// PUBLISH commands waiting for the command connection.
    private var waiting: [[UInt8]] = []
    private var pendingOutput: [UInt8] = []
    private var flushScheduled = false
    /// The next sequence number per topic for what this node publishes.
    private var nextSequence: [String: UInt64] = [:]
    /// The last sequence number seen per (node, topic).
    private var lastSequence: [[UInt8]: [String: UInt64]] = [:]
    private var probeTimer: DispatchSourceTimer?
    private var presenceTimer: DispatchSourceTimer?
    /// The counts last written to Redis, by topic.
    private var reportedCounts: [String: Int] = [:]
    /// What to do with each reply the command connection is owed, in order (nil: nothing; a
    /// PUBLISH's count of receivers is not needed).
    private var replyHandlers: [((RESPValue) -> Void)?] = []
    /// The probe under way: whether Redis has answered its PUBLISH, and whether it has come back
    /// on the subscriber connection; nil when none is out.
    private var probe: (replied: Bool, arrived: Bool)?
    /// Whether Redis has confirmed the subscription to the probe channel (probes before that
    /// could race the SUBSCRIBE, which travels on the other connection).
    private var probeSubscribed = false
    private var stopped = false
    private var lastError = ""
    private let counters = Counters()
    /// Messages published from any thread, waiting for the queue's next turn (one hop per turn,
    /// not one per message).
    private let publications = Mutex<(messages: [(Message, String)], scheduled: Bool)>(([], false))

    /// A backplane for the Redis at `url` (`redis://[user:password@]host[:port]`).
    public init(_ url: String, configuration: Configuration = Configuration()) throws(RedisError) {
        address = try RedisAddress(url)
        self.configuration = configuration
        var generator = SystemRandomNumberGenerator()
        nodeID = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    // MARK: - Backplane

    public func start(for node: BackplaneNode) throws {
        queue.sync {
            self.node = node
            topics = Set(node.topics())
            connectSubscriber()
            connectCommands()
            startProbe()
            startPresence()
        }
    }

    public func subscribe(_ topic: String) {
        queue.async { [self] in
            guard topics.insert(topic).inserted, subscriberReady else { return }
            subscriber?.send(RESPCommand.encode("SUBSCRIBE", channel(topic)))
        }
    }

    public func unsubscribe(_ topic: String) {
        queue.async { [self] in
            guard topics.remove(topic) != nil, subscriberReady else { return }
            subscriber?.send(RESPCommand.encode("UNSUBSCRIBE", channel(topic)))
        }
    }

    public func publish(_ message: Message, to topic: String) {
        guard message.data.count <= configuration.maxPayload else {
            counters.dropped.add(1, ordering: .relaxed)
            return
        }
        let schedule = publications.withLock { state in
            state.messages.append((message, topic))
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if schedule { queue.async { [self] in sendPublications() } }
    }

    /// Encodes the waiting publications as PUBLISH commands, in order. On the queue.
    private func sendPublications() {
        let batch = publications.withLock { state in
            defer { state = ([], false) }
            return state.messages
        }
        for (message, topic) in batch {
            let sequence = nextSequence[topic, default: 1]
            nextSequence[topic] = sequence + 1
            let envelope = Envelope(origin: nodeID, sequence: sequence, isText: message.kind == .text, payload: message.data).encoded
            var command: [UInt8] = []
            RESPCommand.encode([Array("PUBLISH".utf8), Array(channel(topic).utf8), envelope], into: &command)
            send(command)
        }
    }

    public var status: BackplaneStatus {
        let (connected, error): (Bool, String) = queue.sync { (subscriberReady && commandsReady, lastError) }
        return BackplaneStatus(isConnected: connected, published: counters.published.load(ordering: .relaxed),
                               received: counters.received.load(ordering: .relaxed), dropped: counters.dropped.load(ordering: .relaxed),
                               lost: counters.lost.load(ordering: .relaxed), discontinuities: counters.discontinuities.load(ordering: .relaxed),
                               reconnects: counters.reconnects.load(ordering: .relaxed),
                               detail: "redis \(address.host):\(address.port)" + (error.isEmpty ? "" : "; last error: \(error)"))
    }

    public func shutdown() async {
        await withCheckedContinuation { continuation in
            queue.async { [self] in
                stopped = true
                probeTimer?.cancel()
                probeTimer = nil
                presenceTimer?.cancel()
                presenceTimer = nil
                if commandsReady {
                    // This node's counts and liveness go at once, rather than at their expiry.
                    for topic in reportedCounts.keys { write(RESPCommand.encode("HDEL", countsKey(topic), nodeName)) }
                    write(RESPCommand.encode("ZREM", nodesKey, nodeName))
                }
                if subscriberReady, !topics.isEmpty {
                    subscriber?.send(RESPCommand.encode(strings: ["UNSUBSCRIBE"] + topics.map(channel)))
                }
                flushOutput()
                subscriber?.end("shut down")
                commands?.end("shut down")
                // Let go of what refers back to this backplane (the connections' handlers hold
                // it; the node reaches the server, which holds it too), or they would keep one
                // another, and the server's loops, alive after the shutdown.
                subscriber = nil
                commands = nil
                node = nil
                continuation.resume()
            }
        }
    }

    // MARK: - Connections

    private func channel(_ topic: String) -> String { "\(configuration.prefix):t:\(topic)" }
    private var probeChannel: String { "\(configuration.prefix):probe:\(nodeName)" }

    private func connectSubscriber() {
        guard !stopped else { return }
        subscriber = RedisConnection(address: address, timeout: configuration.connectTimeout, queue: queue, onReady: { [self] connection in
            guard connection === subscriber else { return }
            subscriberReady = true
            attempts.subscriber = 0
            probe = nil
            probeSubscribed = false
            // Resubscribe in batches of 1,000 channels (and the probe channel).
            let channels = [probeChannel] + topics.map(channel)
            for start in stride(from: 0, to: channels.count, by: 1000) {
                connection.send(RESPCommand.encode(strings: ["SUBSCRIBE"] + channels[start..<min(start + 1000, channels.count)]))
            }
            if subscribedBefore {
                counters.reconnects.add(1, ordering: .relaxed)
                let affected = Array(topics)
                if !affected.isEmpty {
                    counters.discontinuities.add(1, ordering: .relaxed)
                    node?.discontinuity(affected)
                }
            }
            subscribedBefore = true
        }, onValue: { [self] value in
            received(value)
        }, onEnd: { [self] reason in
            lastError = reason
            subscriberReady = false
            reconnectLater(after: &attempts.subscriber) { $0.connectSubscriber() }
        })
    }

    private func connectCommands() {
        guard !stopped else { return }
        commands = RedisConnection(address: address, timeout: configuration.connectTimeout, queue: queue, onReady: { [self] connection in
            guard connection === commands else { return }
            commandsReady = true
            attempts.commands = 0
            // The connection sent AUTH first, if it needed to: its reply comes first.
            replyHandlers = address.authentication == nil ? [] : [nil]
            reportedCounts = [:]  // written again in full at the next presence turn
            for command in waiting { write(command) }
            counters.published.add(waiting.count, ordering: .relaxed)
            waiting = []
        }, onValue: { [self] value in
            if case .error(let text) = value { lastError = text }  // kept for the status
            if !replyHandlers.isEmpty { replyHandlers.removeFirst()?(value) }
        }, onEnd: { [self] reason in
            lastError = reason
            commandsReady = false
            let owed = replyHandlers
            replyHandlers = []
            for handler in owed { handler?(.error("connection lost: \(reason)")) }
            reconnectLater(after: &attempts.commands) { $0.connectCommands() }
        })
    }

    /// Connects again after a wait of 50 ms doubling to 2 s with the failed `attempts`, half of it
    /// random (jitter), so that nodes that lost Redis together do not come back together.
    private func reconnectLater(after attempts: inout Int, _ connect: @escaping @Sendable (RedisBackplane) -> Void) {
        let base = min(2000, 50 << min(attempts, 6))
        attempts += 1
        let delay = base / 2 + Int.random(in: 0...(base / 2))
        queue.asyncAfter(deadline: .now() + .milliseconds(delay)) { [self] in connect(self) }
    }

    // MARK: - Publishing

    /// Sends a PUBLISH, or keeps it while the command connection is down.
    private func send(_ command: [UInt8]) {
        guard commandsReady else {
            if waiting.count < configuration.maxQueuedMessages {
                waiting.append(command)
            } else {
                counters.dropped.add(1, ordering: .relaxed)
            }
            return
        }
        counters.published.add(1, ordering: .relaxed)
        write(command)
    }

    /// Queues a command on the command connection for this turn's write; `reply` gets its reply.
    private func write(_ command: [UInt8], reply: ((RESPValue) -> Void)? = nil) {
        pendingOutput += command
        replyHandlers.append(reply)
        scheduleFlush()
    }

    /// Every PUBLISH of this queue turn leaves in one write.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        queue.async { [self] in flushOutput() }
    }

    private func flushOutput() {
        flushScheduled = false
        guard !pendingOutput.isEmpty else { return }
        commands?.send(pendingOutput)
        pendingOutput.removeAll(keepingCapacity: true)
    }

    // MARK: - Receiving

    private func received(_ value: RESPValue) {
        guard case .array(let parts?) = value, parts.count == 3, let kind = parts[0].bytes, let channelBytes = parts[1].bytes else { return }
        if kind == Array("subscribe".utf8), channelBytes == Array(probeChannel.utf8) { probeSubscribed = true }
        guard kind == Array("message".utf8), let payload = parts[2].bytes else { return }  // other confirmations
        let channelName = String(decoding: channelBytes, as: UTF8.self)
        if channelName == probeChannel {
            probe?.arrived = true
            return
        }
        let topicPrefix = "\(configuration.prefix):t:"
        guard channelName.hasPrefix(topicPrefix), let envelope = Envelope(decoding: payload), envelope.origin != nodeID else { return }
        let topic = String(channelName.dropFirst(topicPrefix.count))
        let last = lastSequence[envelope.origin]?[topic] ?? 0
        if last > 0, envelope.sequence > last + 1 { counters.lost.add(Int(envelope.sequence - last - 1), ordering: .relaxed) }
        lastSequence[envelope.origin, default: [:]][topic] = envelope.sequence
        counters.received.add(1, ordering: .relaxed)
        node?.deliver(Message(kind: envelope.isText ? .text : .binary, data: envelope.payload), topic)
    }

    // MARK: - The probe

    /// Every probe interval, publishes to this node's probe channel and looks at how the last
    /// probe fared. Redis answered that no one is subscribed (it dropped the subscription), or it
    /// answered but the probe never came back on the subscriber connection (a connection dead
    /// without a close): the subscriber connection is restarted. Redis has not answered at all:
    /// it is slow (a long command, a fork), and the probe waits; restarting then would only lose
    /// the messages on their way.
    private func startProbe() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.nanoseconds(Int(configuration.probeInterval.nanoseconds))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [self] in
            guard subscriberReady, commandsReady, probeSubscribed else { return }
            if let probe {
                guard probe.replied else { return }  // Redis is slow: wait
                if !probe.arrived {
                    restartSubscriber("the probe did not come back on the subscriber connection")
                    return
                }
            }
            probe = (replied: false, arrived: false)
            var command: [UInt8] = []
            RESPCommand.encode([Array("PUBLISH".utf8), Array(probeChannel.utf8), [1]], into: &command)
            write(command) { [self] reply in
                if case .integer(0) = reply, subscriberReady {
                    restartSubscriber("Redis has no subscription for this node")
                } else {
                    probe?.replied = true
                }
            }
        }
        timer.resume()
        probeTimer = timer
    }

    private func restartSubscriber(_ reason: String) {
        lastError = reason
        probe = nil
        subscriber?.end(reason)
    }

    // MARK: - Member counts across nodes

    /// The node id in hex, as Redis keys and channels name it.
    private var nodeName: String { nodeID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
    private var nodesKey: String { "\(configuration.prefix):nodes" }
    private func countsKey(_ topic: String) -> String { "\(configuration.prefix):pc:\(topic)" }

    /// Seconds since 1970, the clock the liveness marks use (nodes on other machines compare
    /// them: their clocks must roughly agree, as NTP keeps them).
    private var wallClock: Int { Int(time(nil)) }

    /// Every presence interval: writes the counts that changed, and this node's liveness.
    private func startPresence() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.nanoseconds(Int(configuration.presenceInterval.nanoseconds))
        timer.schedule(deadline: .now(), repeating: interval)
        timer.setEventHandler { [self] in writePresence() }
        timer.resume()
        presenceTimer = timer
    }

    private func writePresence() {
        guard commandsReady, let node else { return }
        let ttl = Int(configuration.presenceTTL.components.seconds)
        for topic in topics.union(reportedCounts.keys) {
            let count = node.memberCount(topic)
            guard count != reportedCounts[topic] else { continue }
            if count == 0 {
                write(RESPCommand.encode("HDEL", countsKey(topic), nodeName))
                reportedCounts[topic] = nil
            } else {
                write(RESPCommand.encode("HSET", countsKey(topic), nodeName, String(count)))
                write(RESPCommand.encode("EXPIRE", countsKey(topic), String(ttl * 4)))
                reportedCounts[topic] = count
            }
        }
        write(RESPCommand.encode("ZADD", nodesKey, String(wallClock + ttl), nodeName))
        write(RESPCommand.encode("ZREMRANGEBYSCORE", nodesKey, "-inf", String(wallClock - ttl)))
    }

    public func memberCount(of topic: String) async -> Int? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
            queue.async { [self] in
                guard commandsReady, let node else { return continuation.resume(returning: nil) }
                let local = node.memberCount(topic)
                var counts: [String: Int]?
                var live: Set<String>?
                var answered = false
                func answer(_ count: Int?) {
                    guard !answered else { return }
                    answered = true
                    continuation.resume(returning: count)
                }
                func finish() {
                    guard let counts, let live else { return }
                    answer(local + counts.filter { $0.key != nodeName && live.contains($0.key) }.values.reduce(0, +))
                }
                write(RESPCommand.encode("HGETALL", countsKey(topic))) { reply in
                    guard case .array(let items?) = reply else { return answer(nil) }
                    var found: [String: Int] = [:]
                    for pair in stride(from: 0, to: items.count - 1, by: 2) {
                        if let name = items[pair].bytes, let value = items[pair + 1].bytes, let count = Int(String(decoding: value, as: UTF8.self)) {
                            found[String(decoding: name, as: UTF8.self)] = count
                        }
                    }
                    counts = found
                    finish()
                }
                write(RESPCommand.encode("ZRANGEBYSCORE", nodesKey, String(wallClock), "+inf")) { reply in
                    guard case .array(let items?) = reply else { return answer(nil) }
                    live = Set(items.compactMap { $0.bytes.map { String(decoding: $0, as: UTF8.self) } })
                    finish()
                }
            }
        }
    }
}

/// The backplane's counters, atomic so that `status` reads them from any thread.
private final class Counters: Sendable {
    let published = Atomic<Int>(0)
    let received = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
    let lost = Atomic<Int>(0)
    let discontinuities = Atomic<Int>(0)
    let reconnects = Atomic<Int>(0)
}

/// What travels in a Redis message: version 1, flags (bit 0: text), the origin node's id (16
/// bytes), the publisher's sequence number for the topic (8 bytes, big-endian), the payload.
struct Envelope: Hashable {
    var origin: [UInt8]
    var sequence: UInt64
    var isText: Bool
    var payload: [UInt8]

    static let headerSize = 1 + 1 + 16 + 8

    var encoded: [UInt8] {
        var bytes: [UInt8] = [1, isText ? 1 : 0] + origin
        bytes.reserveCapacity(Envelope.headerSize + payload.count)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: sequence >> UInt64(shift))) }
        return bytes + payload
    }

    init(origin: [UInt8], sequence: UInt64, isText: Bool, payload: [UInt8]) {
        self.origin = origin
        self.sequence = sequence
        self.isText = isText
        self.payload = payload
    }

    /// Reads an envelope; nil for anything else (another version, a foreign message).
    init?(decoding bytes: [UInt8]) {
        guard bytes.count >= Envelope.headerSize, bytes[0] == 1 else { return nil }
        isText = bytes[1] & 1 != 0
        origin = Array(bytes[2..<18])
        sequence = bytes[18..<26].reduce(0) { $0 << 8 | UInt64($1) }
        payload = Array(bytes[26...])
    }
}
