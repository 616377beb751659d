import Dispatch
import Synchronization
import WebSocketCore

/// What became of a message given to ``WebSocket/send(_:compress:)-8r0a6``.
public enum SendResult: Sendable, Hashable {
    /// Queued; ``WebSocket/bufferedAmount`` is at or below the high-water mark.
    case queued
    /// Queued, and ``WebSocket/bufferedAmount`` is over the high-water mark: the peer is slow.
    case backpressure
    /// Not sent: the connection is closing or closed.
    case dropped
}

/// An open WebSocket connection on the server: send to it, close it, and hear from it through
/// callbacks or the ``messages`` async sequence.
///
/// Callbacks run on the connection's serial queue, one at a time, in order. Set them in the
/// route's open handler, which runs on that queue before any message is delivered. Every
/// method may be called from any thread.
///
/// `@unchecked Sendable`: mutable state is either atomic (`readyState`, `bufferedAmount`) or
/// confined to the connection's serial queue (handlers, waiters), which every method hops to.
public final class WebSocket: @unchecked Sendable {
    /// The upgrade request: path, query, headers, Origin, offered subprotocols.
    public let request: UpgradeRequest
    /// The values of the route's parameters (`room` for `/rooms/:room`, `*` for what a trailing
    /// `/*` matched); empty for a plain path and for a client's socket.
    public let parameters: [String: String]
    /// The subprotocol agreed in the handshake, if any.
    public let subprotocol: String?
    /// The extensions agreed in the handshake, as answered to the client.
    public let extensions: [ExtensionOffer]
    /// Per-connection state returned by the upgrade hook.
    public var userInfo: (any Sendable)? { userInfoBox?.value }
    /// `userInfo` in a box of its own: most connections have none, and an existential held
    /// inline would cost every connection five words.
    private let userInfoBox: UserInfoBox?
    /// The peer's address, if known.
    public var remoteAddress: SocketAddress? { connection.remoteAddress }
    /// The number the server's log lines about this connection carry as `connection`: unique
    /// in the process, so your own log lines can carry it too.
    public var connectionID: UInt64 { connection.id }

    /// The per-connection state the upgrade hook returned, as a `State`; nil if there is none
    /// or it is of another type.
    public func userInfo<State: Sendable>(as type: State.Type) -> State? { userInfo as? State }

    let connection: Connection
    private let state = Atomic<Int>(ReadyState.open.rawValue)
    private let buffered = Atomic<Int>(0)

    // Confined to the connection's queue.
    private var onMessage: (@Sendable (WebSocket, Message) -> Void)?
    private var onMessageView: ViewHandler?
    private var onClose: (@Sendable (WebSocket, CloseEvent) -> Void)?
    /// The handlers most connections never set, made when the first of them is.
    private var rareHandlers: RareHandlers?
    private(set) var closeEvent: CloseEvent?
    private var aboveMark = false  // after closeEvent, in its padding
    /// Changes whenever a handler is set or cleared, so that a delivery loop that holds the
    /// view handler across the messages of one read knows when to read it again (also in
    /// closeEvent's padding).
    private(set) var handlerGeneration: UInt32 = 0
    let messageBuffer: MessageSequenceBuffer?

    init(connection: Connection, request: UpgradeRequest, parameters: [String: String], subprotocol: String?, extensions: [ExtensionOffer],
         userInfo: (any Sendable)?, feedsMessageSequence: Bool) {
        self.connection = connection
        self.request = request
        self.parameters = parameters
        self.subprotocol = subprotocol
        self.extensions = extensions
        userInfoBox = userInfo.map(UserInfoBox.init)
        messageBuffer = feedsMessageSequence ? MessageSequenceBuffer(limit: 16) : nil
        messageBuffer?.socket = self
    }

    /// The state, with the browser's names.
    public var readyState: ReadyState { ReadyState(rawValue: state.load(ordering: .acquiring)) ?? .closed }

    /// Bytes of messages sent but not yet written to the socket, as in the browser's API.
    public var bufferedAmount: Int { buffered.load(ordering: .relaxed) }

    func bufferedAmountChanged(by delta: Int) { buffered.add(delta, ordering: .relaxed) }

    /// Moves the state forward (never back): the only writer of ``readyState``, called by the
    /// connection as its engine's state changes, by ``close(code:reason:)`` and at the close.
    func advanceState(to newState: ReadyState) {
        var current = state.load(ordering: .relaxed)
        while current < newState.rawValue {
            let (exchanged, original) = state.compareExchange(expected: current, desired: newState.rawValue, ordering: .releasing)
            if exchanged { return }
            current = original
        }
    }

    // MARK: - Sending

    /// Sends a message. Returns at once; the bytes count in ``bufferedAmount`` until written.
    ///
    /// - Parameters:
    ///   - message: what to send, text or binary.
    ///   - compress: nil lets the negotiated extension decide; false sends this message
    ///     uncompressed.
    /// - Returns: `.dropped` if the connection is closing or closed (as in the browser, the
    ///   message is not sent), `.backpressure` if it was queued but ``bufferedAmount`` is now
    ///   over the server's high-water mark (wait for ``onDrain(_:)`` before sending more), else
    ///   `.queued`. On the connection's queue (in any callback) the answer is exact; from
    ///   another thread the message is handed to that queue, and if the connection closes
    ///   before it gets there it is dropped like any bytes still queued at a close.
    @discardableResult
    public func send(_ message: Message, compress: Bool? = nil) -> SendResult {
        guard readyState == .open else { return .dropped }
        let size = message.data.count
        buffered.add(size, ordering: .relaxed)
        let connection = self.connection
        if connection.loop.isCurrent {
            guard connection.send(message, compress: compress, accounted: size) else { return .dropped }
        } else {
            connection.loop.queue.async { _ = connection.send(message, compress: compress, accounted: size) }
        }
        return bufferedAmount > connection.endpoint.settings.highWaterMark ? .backpressure : .queued
    }

    /// Sends a message from bytes lent for the call: a view from ``onMessageView(_:)`` (to echo
    /// or forward a message without ever making an array of it), or any `Span`.
    ///
    /// The bytes are copied at most once. On the connection's queue, inside a handler, a small
    /// message is laid out straight in the loop's cork buffer with the other replies of the same
    /// read, so nothing is allocated. On the queue, a larger uncompressed one with nothing
    /// queued before it is written straight from `bytes`, and only what the socket does not
    /// take is copied. Otherwise the bytes are copied into a new array and sent as
    /// ``send(_:compress:)-8r0a6`` sends. The answer is the same as that method's.
    ///
    /// - Parameters:
    ///   - bytes: the payload; for `.text`, valid UTF-8 (a text message's view always is).
    ///   - kind: text or binary.
    ///   - compress: nil lets the negotiated extension decide; false sends this message
    ///     uncompressed.
    @discardableResult
    public func send(_ bytes: Span<UInt8>, kind: MessageKind, compress: Bool? = nil) -> SendResult {
        let connection = self.connection
        guard connection.loop.isCurrent else {
            return send(Message(kind: kind, data: bytes.withUnsafeBufferPointer { Array($0) }), compress: compress)
        }
        guard readyState == .open else { return .dropped }
        let size = bytes.count
        buffered.add(size, ordering: .relaxed)
        let sent = bytes.withUnsafeBytes { connection.send($0, kind: kind, compress: compress, accounted: size) }
        guard sent else { return .dropped }
        return bufferedAmount > connection.endpoint.settings.highWaterMark ? .backpressure : .queued
    }

    /// Sends a text message; see ``send(_:compress:)-8r0a6``.
    @discardableResult
    public func send(_ text: String, compress: Bool? = nil) -> SendResult { send(Message(kind: .text, data: Array(text.utf8)), compress: compress) }

    /// Sends a binary message; see ``send(_:compress:)-8r0a6``.
    @discardableResult
    public func send(_ bytes: [UInt8], compress: Bool? = nil) -> SendResult { send(Message(kind: .binary, data: bytes), compress: compress) }

    /// Sends a binary message from any contiguous bytes (`ArraySlice`, `Data`, ...).
    @discardableResult
    public func send<Bytes: Sequence>(binary bytes: Bytes, compress: Bool? = nil) -> SendResult where Bytes.Element == UInt8 {
        send(Message(kind: .binary, data: Array(bytes)), compress: compress)
    }

    /// Sends a message and returns once ``bufferedAmount`` is at or below the server's
    /// high-water mark, so a producer never runs ahead of a slow peer.
    /// - Throws: ``WebSocketError/notOpen`` if the connection is closing or closed.
    public func send(_ message: Message, compress: Bool? = nil) async throws(WebSocketError) {
        let size = message.data.count
        buffered.add(size, ordering: .relaxed)
        let connection = self.connection
        let sent: Bool = await withCheckedContinuation { continuation in
            connection.loop.execute {
                guard connection.send(message, compress: compress, accounted: size) else {
                    continuation.resume(returning: false)
                    return
                }
                if self.bufferedAmount <= connection.endpoint.settings.highWaterMark {
                    continuation.resume(returning: true)
                } else if self.closeEvent != nil {
                    continuation.resume(returning: false)
                } else {
                    self.aboveMark = true
                    self.rare.drainWaiters.append(continuation)
                }
            }
        }
        if !sent { throw .notOpen }
    }

    /// Sends a text message and waits as ``send(_:compress:)-8r0a6`` does.
    public func send(_ text: String, compress: Bool? = nil) async throws(WebSocketError) {
        try await send(Message(kind: .text, data: Array(text.utf8)), compress: compress)
    }

    /// Sends a binary message and waits for room under the high-water mark.
    public func send(_ bytes: [UInt8], compress: Bool? = nil) async throws(WebSocketError) {
        try await send(Message(kind: .binary, data: bytes), compress: compress)
    }

    /// Sends a Ping; the peer answers with a Pong carrying the same payload (``onPong(_:)``).
    public func ping(_ payload: [UInt8] = []) throws(WebSocketError) {
        do { try WebSocketEngine.checkControlPayload(payload) } catch { throw WebSocketError(error) }
        let connection = self.connection
        connection.loop.execute { connection.ping(payload) }
    }

    /// Starts the closing handshake. The connection closes when the peer answers, or after the
    /// close timeout; ``onClose(_:)`` then reports it.
    ///
    /// - Throws: ``WebSocketError/invalidCloseCode(_:)`` for a code a browser would refuse to
    ///   send (below 1000, 1004-1006, 1015, 1016-2999, 5000 and up), and
    ///   ``WebSocketError/closeReasonTooLong`` for a reason over 123 bytes.
    public func close(code: CloseCode = .normalClosure, reason: String = "") throws(WebSocketError) {
        do { try WebSocketEngine.checkClose(code: code, reason: reason) } catch { throw WebSocketError(error) }
        advanceState(to: .closing)
        let connection = self.connection
        connection.loop.execute { connection.close(code: code, reason: reason) }
    }

    /// Joins `topic`: messages the server publishes to it reach this socket
    /// (``WebSocketServer/publish(_:to:excluding:overflow:)``). The socket leaves its topics
    /// when it closes.
    public func subscribe(_ topic: String) {
        let connection = self.connection
        connection.loop.execute { connection.join(topic) }
    }

    /// Leaves `topic`.
    public func unsubscribe(_ topic: String) {
        let connection = self.connection
        connection.loop.execute { connection.leave(topic) }
    }

    /// Drops the connection at once, without a closing handshake (reported as 1006).
    public func terminate() {
        let connection = self.connection
        connection.loop.execute { connection.terminate() }
    }

    /// Waits until the connection has closed and returns how.
    public func closed() async -> CloseEvent {
        await withCheckedContinuation { continuation in
            connection.loop.execute {
                if let event = self.closeEvent {
                    continuation.resume(returning: event)
                } else {
                    self.rare.closeWaiters.append(continuation)
                }
            }
        }
    }

    // MARK: - Callbacks

    /// Calls `handler` with each whole message, on the connection's queue.
    public func onMessage(_ handler: @escaping @Sendable (WebSocket, Message) -> Void) { setHandler { $0.onMessage = handler } }
    /// Calls `handler` with each whole message as a view of its bytes that lasts only for the
    /// call (the compiler keeps it from escaping), before the ``onMessage(_:)`` handler if both
    /// are set.
    ///
    /// A message that arrived whole in one read (one frame, not compressed: most small
    /// messages) is shown where it lies in the loop's read buffer: nothing is copied and
    /// nothing allocated to deliver it. Others are shown in the array they were put together
    /// in. Echo or forward a view with ``send(_:kind:compress:)``; keep what you need by
    /// copying it (`Array` of `view.withUnsafeBufferPointer`, or `String(copying:)`).
    ///
    /// ```swift
    /// socket.onMessageView { socket, kind, bytes in
    ///     socket.send(bytes, kind: kind)  // an echo that allocates nothing per message
    /// }
    /// ```
    ///
    /// When only this handler is set, no `Message` is made at all; ``onMessage(_:)``,
    /// ``onText(_:)`` and ``messages`` each need one, and get it as before.
    public func onMessageView(_ handler: @escaping @Sendable (WebSocket, MessageKind, Span<UInt8>) -> Void) {
        setHandler { $0.onMessageView = handler }
    }
    /// Calls `handler` with each text message, after the `onMessage` handler if both are set.
    public func onText(_ handler: @escaping @Sendable (WebSocket, String) -> Void) {
        setHandler { $0.rare.onText = handler }
    }
    /// Calls `handler` with each piece of a message, when the engine delivers fragments
    /// (`engine.deliversFragments` in the server configuration).
    public func onFragment(_ handler: @escaping @Sendable (WebSocket, MessageFragment) -> Void) { setHandler { $0.rare.onFragment = handler } }
    /// Calls `handler` with each Ping's payload. The Pong is queued already, or, while the
    /// queue is over the high-water mark, kept to answer the latest Ping once it drains.
    public func onPing(_ handler: @escaping @Sendable (WebSocket, [UInt8]) -> Void) { setHandler { $0.rare.onPing = handler } }
    /// Calls `handler` with each Pong's payload.
    public func onPong(_ handler: @escaping @Sendable (WebSocket, [UInt8]) -> Void) { setHandler { $0.rare.onPong = handler } }
    /// Calls `handler` once, when the connection has closed.
    public func onClose(_ handler: @escaping @Sendable (WebSocket, CloseEvent) -> Void) { setHandler { $0.onClose = handler } }
    /// Calls `handler` with protocol and transport errors (the close follows).
    public func onError(_ handler: @escaping @Sendable (WebSocket, WebSocketError) -> Void) { setHandler { $0.rare.onError = handler } }
    /// Calls `handler` when ``bufferedAmount`` falls back to the high-water mark or below after being above it.
    public func onDrain(_ handler: @escaping @Sendable (WebSocket) -> Void) { setHandler { $0.rare.onDrain = handler } }

    private func setHandler(_ set: @escaping @Sendable (WebSocket) -> Void) {
        connection.loop.execute {
            set(self)
            self.handlerGeneration &+= 1
        }
    }

    /// The box of rarely set handlers, made on first use. On the connection's queue.
    private var rare: RareHandlers {
        if let rareHandlers { return rareHandlers }
        let made = RareHandlers()
        rareHandlers = made
        return made
    }

    // MARK: - Async messages

    /// The messages, as an async sequence. Reading from the peer pauses while 16 messages wait
    /// unconsumed, so a slow consumer holds back a fast producer. Available on routes made
    /// with an async handler; it ends when the connection closes.
    public var messages: WebSocketMessages {
        precondition(messageBuffer != nil, "messages is available on routes registered with an async handler")
        return WebSocketMessages(state: messageBuffer!)
    }

    // MARK: - Delivery, on the connection's queue

    /// The ``onMessageView(_:)`` handler.
    typealias ViewHandler = @Sendable (WebSocket, MessageKind, Span<UInt8>) -> Void

    /// The view handler, for a delivery loop to hold while ``handlerGeneration`` stays the same:
    /// reading it for each message retains and releases it each time.
    var viewHandler: ViewHandler? { onMessageView }

    /// Delivers a message lent for the call (see `WebSocketEngine.receive(lending:)`): as a view
    /// to `view` (``viewHandler`` as of now), and copied into a `Message` only if another
    /// handler wants one.
    func deliver(_ kind: MessageKind, lent bytes: UnsafeRawBufferPointer, view: ViewHandler?) {
        if view != nil {
            // Called through the optional, not a binding of it: a binding is a copy, and
            // retains the handler's context for each message.
            bytes.withMemoryRebound(to: UInt8.self) { view?(self, kind, $0.span) }
        }
        if onMessage != nil || rareHandlers?.onText != nil || messageBuffer != nil {
            deliverOwned(Message(kind: kind, data: Array(bytes)))
        }
    }

    /// Delivers a message the engine put together. Returns `.onlyViewed` when no handler was
    /// given the `Message` itself, so that nothing can have kept its array (a view cannot
    /// outlive its call) and the connection may reuse it.
    func deliver(_ message: Message) -> Delivery {
        if let onMessageView { onMessageView(self, message.kind, message.data.span) }
        return deliverOwned(message)
    }

    /// Who saw a delivered message: see ``deliver(_:)``.
    enum Delivery { case onlyViewed, handedOn }

    @discardableResult
    private func deliverOwned(_ message: Message) -> Delivery {
        var delivery = Delivery.onlyViewed
        if let messageBuffer {
            if messageBuffer.push(message) { connection.pause(.consumer) }
            delivery = .handedOn
        }
        if let onMessage {
            onMessage(self, message)
            delivery = .handedOn
        }
        // onText gets a String made from the bytes, not the array.
        if let onText = rareHandlers?.onText, message.kind == .text, let text = message.text { onText(self, text) }
        return delivery
    }

    func deliver(_ fragment: MessageFragment) { rareHandlers?.onFragment?(self, fragment) }
    func deliverPing(_ payload: [UInt8]) { rareHandlers?.onPing?(self, payload) }
    func deliverPong(_ payload: [UInt8]) { rareHandlers?.onPong?(self, payload) }
    func deliverError(_ error: WebSocketError) { rareHandlers?.onError?(self, error) }

    func deliverClose(_ event: CloseEvent) {
        advanceState(to: .closed)
        closeEvent = event
        messageBuffer?.finish()
        let rare = rareHandlers
        rareHandlers = nil
        for waiter in rare?.drainWaiters ?? [] { waiter.resume(returning: false) }
        for waiter in rare?.closeWaiters ?? [] { waiter.resume(returning: event) }
        let handler = onClose
        onMessage = nil; onMessageView = nil; onClose = nil
        handlerGeneration &+= 1
        handler?(self, event)
    }

    /// Resumes async senders and calls the drain handler once below the mark.
    func writeQueueEmptied(mark: Int) {
        guard bufferedAmount <= mark else {
            aboveMark = true
            return
        }
        if let rare = rareHandlers, !rare.drainWaiters.isEmpty {
            let waiters = rare.drainWaiters
            rare.drainWaiters = []
            for waiter in waiters { waiter.resume(returning: true) }
        }
        if aboveMark {
            aboveMark = false
            rareHandlers?.onDrain?(self)
        }
    }

    func consumerCaughtUp() {
        let connection = self.connection
        connection.loop.execute { connection.resume(.consumer) }
    }
}

/// Holds a connection's ``WebSocket/userInfo``.
private final class UserInfoBox: Sendable {
    let value: any Sendable
    init(_ value: any Sendable) { self.value = value }
}

/// The handlers of a ``WebSocket`` that most connections never set, and the async callers
/// waiting on it, in a box of their own: held inline they would cost every connection sixteen
/// words. Confined to the connection's queue, like the rest of its handlers.
private final class RareHandlers {
    var onText: (@Sendable (WebSocket, String) -> Void)?
    var drainWaiters: [CheckedContinuation<Bool, Never>] = []
    var closeWaiters: [CheckedContinuation<CloseEvent, Never>] = []
    var onFragment: (@Sendable (WebSocket, MessageFragment) -> Void)?
    var onPing: (@Sendable (WebSocket, [UInt8]) -> Void)?
    var onPong: (@Sendable (WebSocket, [UInt8]) -> Void)?
    var onError: (@Sendable (WebSocket, WebSocketError) -> Void)?
    var onDrain: (@Sendable (WebSocket) -> Void)?
}
