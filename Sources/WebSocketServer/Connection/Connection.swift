import Dispatch
import Synchronization
import WebSocketCore
#if canImport(Glibc)
import Glibc
#endif

/// One accepted socket, from the first byte of its request to its close.
///
/// It reads the request head and carries out what ``RequestDecision`` decides for it (a
/// response, a refusal, or the upgrade after the route's hook), then drives a
/// ``WebSocketEngine``: reads feed the engine, which lends the ``WebSocket`` object each
/// message that arrived whole and hands it the rest as events; the replies of one read are laid
/// out in the loop's ``CorkBuffer`` and leave in one `send`, and what cannot go that way (or
/// what the socket did not take) waits in the ``WriteQueue``, written by the transport (small
/// batches copied into one `send`, larger ones as iovecs of `sendmsg`). Its timeouts are a
/// ``ConnectionTimers`` policy. All socket I/O goes through its ``Transport``.
///
/// `@unchecked Sendable`: all mutable state is confined to `loop.queue`; other threads reach it
/// only through `loop.execute`.
final class Connection: @unchecked Sendable {
    /// Where the connection is, with what that stage needs. The stages before the WebSocket
    /// opens carry their state in a box (`indirect`): an open connection, which may stay idle
    /// for hours, then holds one word here instead of the largest of those states.
    enum Phase {
        /// Reading the request head.
        indirect case http(HTTPHeadParser)
        /// An HTTP response is over the high-water mark, unwritten; the requests pipelined
        /// after its request wait here, with reading paused, until it is written.
        indirect case pipelined([UInt8])
        /// The route's upgrade hook is deciding; the bytes that followed the request wait.
        indirect case upgrading(WebSocketRoute, UpgradeRequest, parameters: [String: String], remainder: [UInt8])
        /// A client: the request is out; reading the response head.
        indirect case requesting(ClientOpening, HTTPHeadParser)
        /// A client: the server refused (not 101); reading the body of its answer to report it.
        indirect case readingRefusal(ClientOpening, HTTPResponseHead, HTTPResponseBody)
        /// WebSocket frames flow.
        case open
        /// Writing what is queued, then shutting down the write side (after an HTTP response or the close handshake).
        case finishing
        /// Write side shut; discarding input until the peer closes or the close timeout.
        case awaitingPeerFIN
        /// The socket is closed.
        case closed
    }

    /// Why reading is paused; reading resumes when no reason is left.
    struct PauseReasons: OptionSet {
        let rawValue: UInt8
        static let backpressure = PauseReasons(rawValue: 1)
        static let consumer = PauseReasons(rawValue: 2)
        static let upgrade = PauseReasons(rawValue: 4)
        /// The peer has half-closed after its requests; its end of stream is read again once
        /// their responses are written.
        static let peerFinished = PauseReasons(rawValue: 8)
    }

    /// A number no other connection of this process has had: log lines carry it as
    /// `connection`, so that the lines of one connection can be told from the others'.
    let id: UInt64
    private static let lastID = Atomic<UInt64>(0)
    let transport: any Transport
    var fd: Int32 { transport.fd }
    let loop: EventLoop
    /// This connection's counters on its loop.
    let counters: LoopCounters
    let endpoint: Endpoint
    let remoteAddress: SocketAddress?
    /// Where the connection is. A change may bring a deadline nearer (the close timeout starts
    /// in the closing phase), so the loop's tick is asked to look at the connection again.
    var phase: Phase { didSet { loop.checkSoon(fd) } }
    /// Whether WebSocket frames flow.
    var isOpen: Bool { if case .open = phase { true } else { false } }
    /// Whether the socket is closed.
    var isClosed: Bool { if case .closed = phase { true } else { false } }
    /// Whether the opening handshake is still under way (either side).
    var isBeforeUpgrade: Bool {
        switch phase {
        case .http, .pipelined, .upgrading, .requesting, .readingRefusal: true
        default: false
        }
    }

    /// The handshake, keepalive, lifetime and close timeouts (the loop's tick asks what is due).
    /// A change may bring a deadline nearer, so the loop's tick is asked to look again. Input
    /// asks too, though it only moves deadlines later: telling the changes apart is not worth
    /// it, and a busy connection is then looked at every tick, as all were before.
    var timers: ConnectionTimers { didSet { loop.checkSoon(fd) } }

    // The one-byte properties follow the timers (41 bytes) and fill their last word: each
    // between two words would take eight.
    /// Whether the epoll set watches this socket for writability (while writes wait).
    private var watchingWritable = false
    /// Whether reading waits for the socket to become writable (TLS has a handshake message
    /// to send before it can go on reading).
    private var readWaitsForWritable = false
    /// Whether writing waits for the socket to become readable (TLS needs a handshake message
    /// from the peer before it can go on writing).
    private var writeWaitsForReadable = false
    /// Set while events are being delivered: writes are queued and flushed once afterwards.
    private var corked = false
    private var pauseReasons: PauseReasons = []
    /// Whether `engine` is the connection's real engine.
    private(set) var upgraded = false
    /// Whether Pings are answered (the engine's own answering is off: the connection decides,
    /// so that it can hold back Pongs while over the high-water mark).
    private var answersPings = true
    /// Whether the application has been told of the close (it is told once).
    private var closeReported = false
    /// Requests to HTTP routes answered on this connection (kept alive between them).
    var requestsAnswered: UInt32 = 0
    // `engine` and `writeQueue` are touched several times per message; the runtime's dynamic
    // exclusivity checks on them cost about a tenth of the user-space time of an echo. They are
    // safe to skip: both are used only on the loop's queue, and no access to either runs code
    // that could touch the same property again (application callbacks run between engine calls,
    // never inside one; the extension codec the engine calls has no way to reach the connection).
    // Debug builds check the first half of that: see engineCall(_:).
    @exclusivity(unchecked) var writeQueue = WriteQueue()
    /// The protocol engine. A placeholder until the upgrade installs the real one (`upgraded`):
    /// the property is not optional so that reading it never copies the engine out of the object.
    @exclusivity(unchecked) var engine = WebSocketEngine(role: .server)
    /// The payload of the latest Ping not answered because the queue was over the mark; its
    /// Pong goes out once the queue drains (RFC 6455 §5.5.3 lets an endpoint answer only the
    /// most recent Ping).
    private var heldPong: [UInt8]?
    /// The bytes of unfinished messages this connection has added to the server-wide total.
    private var unfinishedMessageBytes = 0
    /// The topics this connection has joined (left when it closes).
    private var topics: Set<String> = []
    private(set) var socket: WebSocket?


    init(transport: any Transport, on place: (loop: EventLoop, counters: LoopCounters), endpoint: Endpoint, remoteAddress: SocketAddress?) {
        id = Connection.lastID.wrappingAdd(1, ordering: .relaxed).newValue
        self.transport = transport
        loop = place.loop
        counters = place.counters
        self.endpoint = endpoint
        self.remoteAddress = remoteAddress
        phase = .http(HTTPHeadParser(limits: endpoint.settings.headLimits))
        timers = ConnectionTimers(endpoint.settings.timers, acceptedAt: Monotonic.now)
    }

    // MARK: - Life cycle

    /// The socket has input (or was closed by the peer). On the queue.
    func readable() {
        guard !isClosed else { return }
        if writeWaitsForReadable {
            writeWaitsForReadable = false
            updateInterest()
            flush()
        }
        guard !isClosed, pauseReasons.isEmpty else { return }
        let buffer = loop.readBuffer
        while true {
            switch transport.read(into: buffer) {
            case .moved(let n):
                timers.inputArrived()
                counters.bytesIn.add(n)
                handleInput(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
                // TLS may hold input it has read from the socket but not yet returned, which
                // epoll will not announce: go on while it does.
                guard transport.hasBufferedInput, !isClosed, pauseReasons.isEmpty else { return }
            case .endOfStream:
                peerClosed()
                return
            case .wouldBlock(.readable):
                return
            case .wouldBlock(.writable):
                readWaitsForWritable = true
                updateInterest()
                return
            case .notTLS:
                endpoint.metrics.tlsHandshakesFailed.add(1, ordering: .relaxed)
                refuse(HTTPResponse.text(400, "This port speaks TLS: use https:// or wss://\n", headers: ["Connection": "close"]),
                       reason: "plain HTTP on a TLS port")
                return
            case .failed(let error):
                transportFailed(error)
                return
            }
        }
    }

    /// Acts on bytes read. They are the loop's, and may be changed: frames are unmasked in place.
    func handleInput(_ bytes: UnsafeMutableRawBufferPointer) {
        switch phase {
        case .http:
            parseHead(UnsafeRawBufferPointer(bytes))
        case .open:
            receiveFrames(bytes)
        case .upgrading, .pipelined:
            // Reading is paused while the hook decides, or while a response waits to be
            // written; bytes read before the pause wait in the phase.
            break
        case .requesting:
            parseResponse(UnsafeRawBufferPointer(bytes))
        case .readingRefusal:
            readRefusal(UnsafeRawBufferPointer(bytes))
        case .finishing, .awaitingPeerFIN, .closed:
            break  // input after the close handshake, or after an HTTP response, is discarded
        }
    }

    #if DEBUG
    /// Set while an engine call that parses or encodes runs (debug builds only).
    private var insideEngineCall = false
    #endif

    /// Runs an engine call. Debug builds assert that none starts inside another, which is what
    /// an application callback reaching the connection from inside the engine would do: the
    /// skipped exclusivity checks on `engine` would let that pass unseen.
    @inline(__always)
    func engineCall<Value, Failure>(_ body: () throws(Failure) -> Value) throws(Failure) -> Value {
        #if DEBUG
        precondition(!insideEngineCall, "An engine call started inside another: a callback re-entered the connection")
        insideEngineCall = true
        defer { insideEngineCall = false }
        #endif
        return try body()
    }

    // MARK: - Opening

    /// Settings for this connection's engine. The engine's own answering of Pings is turned
    /// off: the connection answers them itself, so that it can hold Pongs back while over the
    /// high-water mark (see answerPing(_:)).
    func engineConfiguration() -> WebSocketEngine.Configuration {
        var configuration = endpoint.settings.engine
        answersPings = configuration.repliesToPings
        configuration.repliesToPings = false
        return configuration
    }

    /// The opening handshake has succeeded (a server has queued its 101, a client has checked
    /// one): frames flow from now on. `opened` runs the application's open handler before any
    /// frame is delivered; `remainder` is what came after the head.
    func open(_ socket: WebSocket, engine: WebSocketEngine, remainder: [UInt8], opened: () -> Void) {
        self.engine = engine
        upgraded = true
        self.socket = socket
        phase = .open
        timers.opened(at: Monotonic.now, endpoint.settings.timers)
        endpoint.opened(socket)
        log(.debug, "WebSocket open", ["path": socket.request.path])
        // The open handler runs before the 101 leaves: what it sets up (its handlers, the
        // topics it joins) is in place before the peer can know that the connection is open,
        // so a message sent or published right after the handshake cannot miss it. What the
        // handler sends goes out right behind the 101.
        opened()
        flush()
        // The ring that held the 101 goes now rather than at the tick: replies sent during a
        // delivery go through the loop's cork buffer, so many connections never need it again.
        writeQueue.releaseStorageIfEmpty()
        if !remainder.isEmpty, isOpen {
            setMessageAllowance()
            engineCall { remainder.withUnsafeBytes { self.engine.receive($0) } }
            processEngineEvents()
        }
    }

    // MARK: - WebSocket

    /// Feeds frames the loop read to the engine and delivers what they hold, then writes what
    /// the handlers sent. A message that arrived whole in this read is lent, not copied: the
    /// handlers see it where it lies in the loop's read buffer (see
    /// `WebSocketEngine.receive(lending:)`); anything else arrives as the engine's events.
    private func receiveFrames(_ bytes: UnsafeMutableRawBufferPointer) {
        beginDelivery()
        loop.spareMessageStorage.lend(to: &engine)
        // The socket and its view handler are read once per read rather than once per message
        // (a retain and a release each time: 4 % of a pipelined echo's CPU), and the handler
        // again whenever a handler changes. The loop stops when the connection closes, which is
        // when `socket` would go.
        let socket = self.socket
        var rest = bytes
        while deliverFrames(from: &rest, to: socket, view: socket?.viewHandler) {}
        loop.spareMessageStorage.takeBack(from: &engine)
        endDelivery()
    }

    /// Parses `rest` and delivers what it holds until it is used, the connection closes or
    /// reading pauses for backpressure (false), or a handler changes (true: call again with the
    /// socket's view handler as it is now). `view` is a parameter so that calling it needs no
    /// retain of its own.
    private func deliverFrames(from rest: inout UnsafeMutableRawBufferPointer, to socket: WebSocket?, view: WebSocket.ViewHandler?) -> Bool {
        let generation = socket?.handlerGeneration
        while !rest.isEmpty {
            setMessageAllowance()
            let (used, lent) = engineCall { engine.receive(lending: rest) }
            if let lent {
                counters.messagesIn.add(1)
                socket?.deliver(lent.kind, lent: UnsafeRawBufferPointer(rebasing: rest[lent.payload]), view: view)
                afterDelivery()
            } else {
                deliverEvents()
            }
            rest = UnsafeMutableRawBufferPointer(rebasing: rest[used...])
            guard isOpen else { return false }
            if pauseReasons.contains(.backpressure), !rest.isEmpty {
                // The rest waits in the engine (copied) until the queue drains.
                engineCall { engine.receive(UnsafeRawBufferPointer(rest)) }
                return false
            }
            if socket?.handlerGeneration != generation { return true }
        }
        return false
    }

    /// Hands the engine's events to the WebSocket object, in order, then writes what they
    /// called for. Taking an event applies it (the engine queues the Pong or Close then), so
    /// replies sent from a handler leave before a Close that arrived after that message.
    /// Under `.pauseReading`, delivery stops as soon as the write queue is over the mark; the
    /// rest waits in the engine until the queue drains (see resume(_:)).
    func processEngineEvents() {
        beginDelivery()
        deliverEvents()
        endDelivery()
    }

    /// Sends made by the handlers during a delivery are held and written together at its end:
    /// a read that brought many messages is answered with one write, not one per message. The
    /// loop's cork buffer, if free, takes them (see CorkBuffer).
    private func beginDelivery() {
        corked = true
        _ = loop.cork.claim(for: id)
    }

    /// What follows each message or event delivered: the engine's frames (Pongs, the Close,
    /// sends it encoded) join the write queue, and reading pauses if that is over the mark.
    private func afterDelivery() {
        moveEngineOutput(accounting: 0)
        if endpoint.settings.backpressure == .pauseReading && writeQueue.cost > endpoint.settings.highWaterMark {
            pause(.backpressure)
        }
    }

    /// Ends a delivery: writes what it held back.
    private func endDelivery() {
        corked = false
        accountUnfinishedMessage()
        writeCork()
        sendEngineOutput()
        if upgraded && !writeQueue.isEmpty && !watchingWritable { flush() }
    }

    /// Takes the engine's events and delivers them until none is left, the connection is no
    /// longer open or (under `.pauseReading`) the write queue is over the mark.
    private func deliverEvents() {
        while isOpen, !pauseReasons.contains(.backpressure), let event = engineCall({ engine.nextEvent() }) {
            switch event {
            case .message(let message):
                counters.messagesIn.add(1)
                if socket?.deliver(message) == .onlyViewed {
                    loop.spareMessageStorage.offer(message.data)
                }
            case .fragment(let fragment):
                if fragment.isFinal { counters.messagesIn.add(1) }
                socket?.deliver(fragment)
            case .ping(let payload):
                answerPing(payload)
                socket?.deliverPing(payload)
            case .pong(let payload):
                socket?.deliverPong(payload)
            case .close:
                publishReadyState()  // the engine queued its answer; the close is reported once written
            case .failure(let error):
                log(.debug, "Protocol error", ["code": String(error.code.rawValue), "reason": error.reason])
                publishReadyState()
                socket?.deliverError(WebSocketError.protocolError(error))
            }
            afterDelivery()
        }
    }

    /// The one place the connection tells the WebSocket its state: the engine's, which only
    /// moves forward (the WebSocket's own close() moves it to closing first, as a browser's does).
    private func publishReadyState() {
        let state = engine.readyState
        if state != .open { socket?.advanceState(to: state) }
    }

    /// Queues the Pong for a Ping, or, while the write queue is over the high-water mark,
    /// keeps only the latest Ping's payload to answer once it drains: a peer that floods pings
    /// and never reads then costs one held payload, not a queue of Pongs.
    private func answerPing(_ payload: [UInt8]) {
        guard answersPings else { return }
        if writeQueue.cost <= endpoint.settings.highWaterMark {
            try? engine.pong(payload)
        } else {
            heldPong = payload
        }
    }

    /// Lets this connection's unfinished message grow only as far as the server-wide budget
    /// (``WebSocketServer/Configuration/maxUnfinishedMessageBytes``) has room; beyond it the
    /// engine fails the connection with 1013 (Try Again Later) as the bytes arrive.
    func setMessageAllowance() {
        let othersHold = endpoint.unfinishedMessageBytes.load(ordering: .relaxed) - unfinishedMessageBytes
        engine.partialMessageAllowance = max(0, endpoint.settings.maxUnfinishedMessageBytes - othersHold)
    }

    /// Brings this connection's share of the server-wide total of unfinished-message bytes up
    /// to date.
    private func accountUnfinishedMessage() {
        let held = engine.partialMessageBytes
        guard held != unfinishedMessageBytes else { return }
        endpoint.unfinishedMessageBytes.add(held - unfinishedMessageBytes, ordering: .relaxed)
        unfinishedMessageBytes = held
    }

    private func releaseUnfinishedMessage() {
        guard unfinishedMessageBytes != 0 else { return }
        endpoint.unfinishedMessageBytes.subtract(unfinishedMessageBytes, ordering: .relaxed)
        unfinishedMessageBytes = 0
    }

    /// Moves the engine's frames to the write queue; the last one completes `accounting`
    /// application bytes.
    private func moveEngineOutput(accounting: Int) {
        guard engine.hasOutbound else {
            if accounting > 0 { socket?.bufferedAmountChanged(by: -accounting) }
            return
        }
        spillCork()
        engine.drainOutbound { frame in writeQueue.append(frame) }
        writeQueue.addAccounting(accounting)
    }

    /// What follows every call that may have given the engine something to send: its frames
    /// are queued and written (unless corked), the connection follows the engine's state, and
    /// backpressure is applied.
    func sendEngineOutput(accounting: Int = 0) {
        guard upgraded else { return }
        if let codec = engine.extensionCodec { counters.count(codec) }
        let hadOutbound = engine.hasOutbound
        moveEngineOutput(accounting: accounting)
        if hadOutbound && !corked { flush() }
        followEngineState()
        checkBackpressure()
    }

    /// Publishes the engine's state to the WebSocket; once the closing handshake is over,
    /// starts the TCP close; while it runs, times it.
    private func followEngineState() {
        publishReadyState()
        let state = engine.readyState
        if isOpen, state == .closed {
            phase = .finishing
            flush()
        } else if isOpen, state == .closing, !timers.isClosingTimed {
            timers.closingStarted(at: Monotonic.now, endpoint.settings.timers)
        }
    }

    /// Sends a message for the application. On the queue. `accounted` bytes were added to
    /// `bufferedAmount` by the caller and come off as the frames are written.
    func send(_ message: Message, compress: Bool?, accounted: Int) -> Bool {
        guard isOpen, upgraded else {
            socket?.bufferedAmountChanged(by: -accounted)
            return false
        }
        if message.data.withUnsafeBytes({ corkFrame(message.kind, $0, compress: compress, accounted: accounted) }) { return true }
        do {
            try engineCall { () throws(WebSocketEngine.SendError) in try engine.send(message, compress: compress) }
        } catch {
            socket?.bufferedAmountChanged(by: -accounted)
            return false
        }
        counters.messagesOut.add(1)
        sendEngineOutput(accounting: accounted)
        return true
    }

    /// Sends a message from bytes the caller lends for the call (a view from
    /// ``WebSocket/onMessageView(_:)``, say): copied at most once, into the cork buffer when it
    /// can take them, else written straight from them when nothing waits (see writeThrough),
    /// else into a new array. On the queue.
    func send(_ payload: UnsafeRawBufferPointer, kind: MessageKind, compress: Bool?, accounted: Int) -> Bool {
        if isOpen, upgraded, corkFrame(kind, payload, compress: compress, accounted: accounted) { return true }
        if isOpen, upgraded, writeThrough(kind, payload, compress: compress, accounted: accounted) { return true }
        return send(Message(kind: kind, data: Array(payload)), compress: compress, accounted: accounted)
    }

    /// Sends an uncompressed message outside any delivery (a topic's publication) straight
    /// through the loop's cork buffer: one `send`, and nothing queued unless the socket does not
    /// take it all. False, with nothing sent, if it cannot go that way (a delivery holds the
    /// buffer, frames wait before it, it is too large): the caller sends it as usual. On the queue.
    func sendDirectly(_ message: Message, accounted: Int) -> Bool {
        guard !corked, isOpen, upgraded, loop.cork.claim(for: id) else { return false }
        let laidOut = message.data.withUnsafeBytes { corkFrame(message.kind, $0, compress: false, accounted: accounted) }
        writeCork()
        return laidOut
    }

    /// Queues prebuilt frames (a broadcast). On the queue.
    func send(prebuilt frames: [OutboundFrame], accounted: Int) -> Bool {
        guard isOpen, upgraded, (try? engine.send(prebuilt: frames)) != nil else {
            socket?.bufferedAmountChanged(by: -accounted)
            return false
        }
        counters.messagesOut.add(1)
        sendEngineOutput(accounting: accounted)
        return true
    }

    func ping(_ payload: [UInt8]) {
        guard isOpen, (try? engine.ping(payload)) != nil else { return }
        sendEngineOutput()
    }

    func close(code: CloseCode?, reason: String) {
        guard isOpen, (try? engine.close(code: code, reason: reason)) != nil else { return }
        sendEngineOutput()
    }

    /// Joins `topic`. On the queue.
    func join(_ topic: String) {
        guard isOpen, topics.insert(topic).inserted else { return }
        endpoint.topics.join(self, topic)
    }

    /// Leaves `topic`. On the queue.
    func leave(_ topic: String) {
        guard topics.remove(topic) != nil else { return }
        endpoint.topics.leave(self, topic)
    }

    /// Holds writes back until ``uncork()``, so that several frames leave in one write;
    /// false if writes were held already (by event delivery, or an earlier cork).
    func cork() -> Bool {
        guard !corked else { return false }
        corked = true
        return true
    }

    /// Writes what was held back since ``cork()``.
    func uncork() {
        corked = false
        if upgraded && !writeQueue.isEmpty && !watchingWritable { flush() }
    }

    /// Drops the connection without a closing handshake.
    func terminate() {
        guard !isClosed else { return }
        closeSocket()
    }

    // MARK: - The cork buffer

    /// Whether a message's frame may be made here rather than by the engine: a server's (not
    /// masked), not compressed, on an open connection with none of the engine's frames waiting
    /// to go before it.
    private func framesMayBypassTheEngine(compress: Bool?) -> Bool {
        engine.role == .server && engine.readyState == .open && !engine.hasOutbound
            && (compress == false || engine.extensionCodec == nil)
    }

    /// Lays out a message's frame in the loop's cork buffer, if this connection owns it (it is
    /// being delivered to), nothing queued must go first, and the frame needs nothing from the
    /// engine: a server's, uncompressed, open. A full buffer is written out first. Returns
    /// false if the frame has to go through the engine instead.
    private func corkFrame(_ kind: MessageKind, _ payload: UnsafeRawBufferPointer, compress: Bool?, accounted: Int) -> Bool {
        guard loop.cork.owner == id, writeQueue.isEmpty, framesMayBypassTheEngine(compress: compress),
              CorkBuffer.canHold(payload: payload.count) else { return false }
        if !loop.cork.hasRoom(forPayload: payload.count) {
            writeCork(keepingOwnership: true)
            guard writeQueue.isEmpty else { return false }  // the socket took only part
        }
        loop.cork.appendFrame(kind, payload: payload, accounted: accounted)
        counters.messagesOut.add(1)
        return true
    }

    /// Writes a frame too large for the cork buffer straight from the caller's bytes, when it
    /// can go now: a server's, uncompressed, open, nothing queued or laid out before it (what
    /// this connection has in the cork buffer is written first), and no ``cork()`` holding
    /// writes back outside a delivery. Only what the socket does not take is copied, to the
    /// write queue. Returns false, having sent nothing of the frame, if it has to be queued.
    ///
    /// Copying a 64 KiB reply into a new array to queue it, then writing it at the end of the
    /// delivery, cost an allocation, a copy and the page faults of memory the allocator had
    /// just given back (5 % of the server's CPU in a wss echo of 64 KiB, `perf`).
    private func writeThrough(_ kind: MessageKind, _ payload: UnsafeRawBufferPointer, compress: Bool?, accounted: Int) -> Bool {
        guard loop.cork.owner == id || !corked, !watchingWritable, !readWaitsForWritable, !writeWaitsForReadable,
              framesMayBypassTheEngine(compress: compress) else { return false }
        writeCork(keepingOwnership: true)
        guard writeQueue.isEmpty, !isClosed else { return false }
        let header = FrameHeader(opcode: kind.opcode, payloadLength: payload.count).encoded
        let total = header.count + payload.count
        var sent = 0
        header.withUnsafeBytes { headerBytes in
            let iovecs = loop.iovecs
            while sent < total {
                var count = 0
                if sent < header.count {
                    iovecs[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: headerBytes.baseAddress! + sent), iov_len: header.count - sent)
                    count = 1
                }
                let payloadSent = max(0, sent - header.count)
                if let base = payload.baseAddress, payloadSent < payload.count {
                    iovecs[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base + payloadSent), iov_len: payload.count - payloadSent)
                    count += 1
                }
                guard case .moved(let written) = transport.write(iovecs, count: count, scratch: loop.writeScratch) else { break }
                counters.bytesOut.add(written)
                sent += written
            }
            counters.messagesOut.add(1)
            guard sent < total else { return }
            var rest = [UInt8]()
            rest.reserveCapacity(total - sent)
            if sent < header.count { rest.append(contentsOf: headerBytes[sent..<header.count]) }
            rest.append(contentsOf: payload[max(0, sent - header.count)...])
            writeQueue.append(.init(header: nil, payload: rest, accounted: accounted))
        }
        if sent == total {
            socket?.bufferedAmountChanged(by: -accounted)
        } else {
            // Would block, or failed: the queue's writer watches for room, or reports the failure.
            flush()
        }
        return true
    }

    /// Moves what this connection laid out in the cork buffer to the back of its write queue,
    /// so that what is queued next goes after it.
    private func spillCork() {
        guard loop.cork.owner == id, loop.cork.count > 0 else { return }
        writeQueue.append(.init(header: nil, payload: Array(loop.cork.bytes), accounted: loop.cork.accounted))
        loop.cork.empty()
    }

    /// Writes what this connection laid out in the cork buffer, with one write straight from
    /// it; what the socket does not take moves to the write queue. Frees the buffer unless
    /// `keepingOwnership` (a delivery that goes on).
    private func writeCork(keepingOwnership: Bool = false) {
        guard loop.cork.owner == id else { return }
        defer { if !keepingOwnership { loop.cork.release() } }
        guard loop.cork.count > 0, !isClosed else { return }
        let bytes = loop.cork.bytes, accounted = loop.cork.accounted
        if writeQueue.isEmpty, !watchingWritable {
            loop.iovecs[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
            if case .moved(let written) = transport.write(loop.iovecs, count: 1, scratch: loop.writeScratch) {
                counters.bytesOut.add(written)
                if written == bytes.count {
                    loop.cork.empty()
                    socket?.bufferedAmountChanged(by: -accounted)
                    return
                }
                writeQueue.append(.init(header: nil, payload: Array(bytes[written...]), accounted: accounted))
                loop.cork.empty()
                flush()
                return
            }
            // Would block or failed: the queue's writer deals with it (and watches, or closes).
        }
        spillCork()
        flush()
    }

    // MARK: - Backpressure

    /// Applies the backpressure policy to what the write queue holds: everything queued
    /// counts (frames, headers, pongs, Close frames and a per-item overhead).
    private func checkBackpressure() {
        guard socket != nil else { return }
        let queued = writeQueue.cost
        if queued > endpoint.settings.highWaterMark {
            switch endpoint.settings.backpressure {
            case .pauseReading: pause(.backpressure)
            case .close:
                if isOpen {
                    log(.info, "Closing a connection over its high-water mark", ["queued": String(queued)])
                    close(code: .policyViolation, reason: "Too much data queued")
                }
            case .report: break
            }
        } else if pauseReasons.contains(.backpressure) {
            resume(.backpressure)
        }
    }

    func pause(_ reason: PauseReasons) {
        let wasRunning = pauseReasons.isEmpty
        if reason == .backpressure, !pauseReasons.contains(.backpressure) { endpoint.metrics.backpressurePauses.add(1, ordering: .relaxed) }
        pauseReasons.insert(reason)
        if wasRunning, !isClosed { updateInterest() }
    }

    func resume(_ reason: PauseReasons) {
        guard pauseReasons.contains(reason) else { return }
        pauseReasons.remove(reason)
        guard pauseReasons.isEmpty, !isClosed else { return }
        updateInterest()
        // Events that waited in the engine go first (not from inside a delivery, whose loop
        // goes on by itself).
        if isOpen, !corked, engine.hasEvents { processEngineEvents() }
        // Input TLS holds would wait for an epoll event that never comes.
        if transport.hasBufferedInput { loop.queue.async { [self] in readable() } }
    }

    /// Tells the epoll set what to watch: input unless paused (or while a TLS write waits for
    /// input), writability while writes wait (or while a TLS read waits to write).
    private func updateInterest() {
        loop.setInterest(fd, read: pauseReasons.isEmpty || writeWaitsForReadable, write: watchingWritable || readWaitsForWritable)
    }

    // MARK: - Writing

    /// Writes one flush may make before the loop's other sockets get their turn: a
    /// long queue of small frames to a fast reader would otherwise hold the loop until it is
    /// empty. The rest goes out when epoll reports the socket writable again.
    private static let writesPerTurn = 16

    /// Writes as much of the queue as the socket takes, up to ``writesPerTurn`` calls; waits for
    /// writability for the rest.
    func flush() {
        var turnsLeft = Connection.writesPerTurn
        while !writeQueue.isEmpty && !isClosed {
            if turnsLeft == 0 {
                watchWritability()
                return
            }
            turnsLeft -= 1
            switch writeBatch() {
            case .moved(let written):
                counters.bytesOut.add(written)
                let released = writeQueue.consume(written)
                if released > 0 { socket?.bufferedAmountChanged(by: -released) }
            case .wouldBlock(.writable):
                watchWritability()
                return
            case .wouldBlock(.readable):
                writeWaitsForReadable = true
                updateInterest()
                checkBackpressure()
                return
            case .failed(let error):
                transportFailed(error)
                return
            case .endOfStream, .notTLS:
                // Not what a write reports; treated as the peer having gone.
                transportFailed(.transport(SystemError(call: "sendmsg", errno: EPIPE)))
                return
            }
        }
        guard !isClosed else { return }
        stopWatchingWritability()
        writeQueueEmptied()
    }

    /// One write of up to 64 queued items, each as a header iovec and a payload iovec.
    private func writeBatch() -> TransportStatus {
        let transport = self.transport, iovecs = loop.iovecs, scratch = loop.writeScratch
        return writeQueue.withIOVecs(max: EventLoop.iovecCapacity / 2, headerScratch: loop.headerScratch, iovecs: iovecs) { count in
            transport.write(iovecs, count: count, scratch: scratch)
        }
    }

    /// The socket can take more bytes. On the queue.
    func writable() {
        guard !isClosed else { return }
        if readWaitsForWritable {
            readWaitsForWritable = false
            updateInterest()
            readable()
            guard !isClosed else { return }
        }
        flush()
    }

    /// Asks epoll to report when the socket can take more (EPOLLOUT), while writes wait.
    private func watchWritability() {
        if !watchingWritable {
            watchingWritable = true
            updateInterest()
        }
        checkBackpressure()
    }

    /// Stops asking for EPOLLOUT: nothing waits to be written.
    private func stopWatchingWritability() {
        if watchingWritable {
            watchingWritable = false
            updateInterest()
        }
    }

    /// Everything queued has been written.
    private func writeQueueEmptied() {
        switch phase {
        case .finishing:
            reportClose()
            if upgraded, engine.failure == nil, engine.closeReceived != nil, engine.closeSent != nil {
                // Both Close frames have crossed: the peer sends nothing more. RFC 6455 §7.1.1:
                // the server closes the TCP connection at once (after TLS's close_notify, which
                // tells the peer nothing was cut off); the client waits for the server to close
                // first, so that the server, not the client, holds TIME_WAIT.
                if engine.role == .server {
                    transport.shutdownWrite()
                    closeSocket()
                } else {
                    phase = .awaitingPeerFIN
                    timers.closingStarted(at: Monotonic.now, endpoint.settings.timers)
                }
                return
            }
            // An HTTP response, or a connection failed mid-stream: the peer may still be
            // sending, and closing now would answer its bytes with a reset that can destroy
            // what was just written. Shut down our side and read until its FIN instead.
            transport.shutdownWrite()
            phase = .awaitingPeerFIN
            timers.closingStarted(at: Monotonic.now, endpoint.settings.timers)
            if !pauseReasons.isEmpty {
                pauseReasons = []
                updateInterest()
            }
        case .pipelined(let requests):
            pipelinedResponsesWritten(requests)
        case .open:
            if let payload = heldPong {
                heldPong = nil
                try? engine.pong(payload)
                sendEngineOutput()
                return  // the Pong's write ends in writeQueueEmptied() again
            }
            checkBackpressure()
            socket?.writeQueueEmptied(mark: endpoint.settings.highWaterMark)
        default:
            break
        }
    }

    // MARK: - Deadlines

    /// Acts on what the timers say is due at `now`, and lets an empty write queue give its
    /// ring back. On the queue, from the loop's tick. Returns when the tick should look again:
    /// an open connection when its timers could next be due (input only moves that later),
    /// one in any other phase at the next tick (they are few, and brief).
    func checkDeadlines(now: UInt64) -> UInt64 {
        actOnDeadlines(now: now)
        switch phase {
        case .open: return timers.nextOpenDeadline(endpoint.settings.timers)
        case .closed: return .max
        default: return 0
        }
    }

    private func actOnDeadlines(now: UInt64) {
        writeQueue.releaseStorageIfEmpty()
        let stage: ConnectionTimers.Stage
        switch phase {
        case .http, .pipelined, .upgrading, .requesting, .readingRefusal: stage = .handshake
        case .open: stage = .open
        case .finishing, .awaitingPeerFIN: stage = .closing
        case .closed: return
        }
        switch timers.due(at: now, stage: stage, endpoint.settings.timers) {
        case .nothing:
            break
        case .handshakeTimedOut:
            if clientOpening != nil {
                log(.debug, "Handshake timed out", [:])
                failOpening(.handshakeTimedOut)
            } else if requestsAnswered > 0 {
                log(.debug, "Keep-alive connection idle; closing", ["requests": String(requestsAnswered)])
                closeSocket()
            } else {
                log(.debug, "Handshake timed out", [:])
                endpoint.metrics.rejected(status: 408)
                closeSocket()
            }
        case .closeTimedOut:
            log(.debug, "Closing timed out", [:])
            closeSocket()
        case .lifetimeOver:
            close(code: .goingAway, reason: "Maximum connection lifetime reached")
        case .ping:
            ping([])
        case .pongMissing:
            log(.debug, "No pong in time; dropping the connection", [:])
            closeSocket()
        }
    }

    // MARK: - Closing

    /// What the write queue holds, as backpressure counts it (for tests). On the queue.
    var queuedCost: Int { writeQueue.cost }

    /// Whether reading is paused (backpressure, a slow consumer, an upgrade hook at work).
    var isReadingPaused: Bool { !pauseReasons.isEmpty }

    /// The socket hung up or failed while reading was paused. On the queue.
    func transportLost() {
        transportFailed(.transport(SystemError(call: "epoll", errno: ECONNRESET)))
    }

    private func peerClosed() {
        if clientOpening != nil {
            failOpening(.closedDuringHandshake)
            return
        }
        if case .http = phase, !writeQueue.isEmpty {
            // A client that half-closes after its requests (RFC 9112 §9.6) still gets the
            // responses queued for it; then the connection closes as after a last response.
            phase = .finishing
            pause(.peerFinished)
            flush()
            return
        }
        closeSocket()
    }

    private func transportFailed(_ error: WebSocketError) {
        if clientOpening != nil {
            switch error {
            case .tls(let reason): failOpening(.tls(reason))
            case .transport(let systemError): failOpening(.transport(systemError))
            default: failOpening(.closedDuringHandshake)
            }
            return
        }
        if isOpen {
            socket?.deliverError(error)
        }
        log(.debug, transport.isHandshaking ? "TLS handshake failed" : "Transport error", ["error": "\(error)"])
        closeSocket()
    }

    /// Closes the socket, releases the sources and reports the close once.
    func closeSocket() {
        guard !isClosed else { return }
        // A client dropped before its opening ended (by terminate(), say) still reports it.
        let opening = clientOpening
        defer { opening?.finish(.failure(.closedDuringHandshake)) }
        phase = .closed
        if transport.isHandshaking { endpoint.metrics.tlsHandshakesFailed.add(1, ordering: .relaxed) }
        loop.unregister(self)
        transport.close()
        pauseReasons = []
        watchingWritable = false
        readWaitsForWritable = false
        writeWaitsForReadable = false
        spillCork()
        let released = writeQueue.removeAll()
        if released > 0 { socket?.bufferedAmountChanged(by: -released) }
        releaseUnfinishedMessage()
        for topic in topics { endpoint.topics.leave(self, topic) }
        topics = []
        endpoint.connectionClosed()
        reportClose()
        socket = nil
    }

    /// Tells the application, once, that the WebSocket has closed.
    private func reportClose() {
        guard let socket, !closeReported else { return }
        closeReported = true
        let event = closeEvent()
        endpoint.metrics.closed(code: event.code.rawValue)
        endpoint.closed(socket)
        log(.debug, "WebSocket closed", ["code": String(event.code.rawValue), "clean": String(event.wasClean)])
        socket.deliverClose(event)
    }

    /// The close as the browser's CloseEvent would report it.
    private func closeEvent() -> CloseEvent {
        guard upgraded else { return CloseEvent(code: .abnormalClosure, reason: "", wasClean: false) }
        if let failure = engine.failure {
            return CloseEvent(code: failure.code, reason: failure.reason, wasClean: false)
        }
        if let received = engine.closeReceived, engine.closeSent != nil {
            return CloseEvent(code: received.reportedCode, reason: received.reason, wasClean: true)
        }
        return CloseEvent(code: .abnormalClosure, reason: "", wasClean: false)
    }

    /// Logs with the connection's id and the peer's address added; nothing is built when the
    /// level is not logged.
    func log(_ level: LogLevel, _ message: String, _ metadata: @autoclosure () -> [String: String]) {
        guard endpoint.logs(level) else { return }
        var fields = metadata()
        fields["connection"] = String(id)
        fields["peer"] = remoteAddress?.description ?? "?"
        endpoint.log(level, message, fields)
    }
}
