/// One end of a WebSocket connection after the opening handshake, without I/O (RFC 6455 §5-§7).
///
/// Feed it the bytes read from the transport with ``receive(_:)-([UInt8])``, then take what happened with
/// ``nextEvent()``: messages, pings, pongs, the peer's close, or a failure. Ask it to
/// ``send(_:compress:fragmentSize:)``, ``ping(_:)`` or ``close(code:reason:)``; it queues
/// frames, which you take with ``takeOutbound()`` and write. It never reads a clock, a socket
/// or a thread, so every rule of the protocol can be tested with plain byte arrays.
///
/// Events take effect in stream order, when you take them: the Pong to a Ping is queued when
/// ``nextEvent()`` returns the `.ping`, and the answering Close (or the Close that fails the
/// connection) when it returns the `.close` (or `.failure`). So a reply you send while handling
/// a message that arrived before a Close, or before a bad frame, leaves before this end's
/// Close, as RFC 6455 §5.5.1 allows ("an endpoint MAY delay sending a Close frame until its
/// current message is sent"). Parsing stops at the Close or the first error; nothing after it
/// is read. Once ``readyState`` is `.closed` the transport should be closed after the outbound
/// frames have been written (a server closes first, RFC 6455 §7.1.1).
///
/// An engine belongs to one connection and is used from one thread or serial queue at a time,
/// so it is deliberately not `Sendable`.
public struct WebSocketEngine {
    /// Which end of the connection this is; it decides the masking rules.
    public enum Role: Sendable, Hashable {
        /// The server: client frames must be masked; its own frames are not.
        case server
        /// The client: server frames must not be masked; its own frames are, with a fresh key each.
        case client
    }

    /// Limits and behaviour.
    public struct Configuration: Sendable, Hashable {
        /// The largest frame payload accepted, checked from the header; larger fails with 1009.
        public var maxFrameSize: Int
        /// The largest message accepted (after decompression), checked as it arrives; larger fails with 1009.
        public var maxMessageSize: Int
        /// Deliver data as ``MessageFragment``s as it arrives instead of whole ``Message``s, so
        /// a large message never sits in memory whole. ``maxMessageSize`` still applies.
        public var deliversFragments: Bool
        /// Answer every Ping with a Pong carrying the same payload (RFC 6455 §5.5.2). Default true.
        public var repliesToPings: Bool

        /// Makes a configuration; the defaults take frames and messages up to 16 MiB.
        public init(maxFrameSize: Int = 16 << 20, maxMessageSize: Int = 16 << 20, deliversFragments: Bool = false, repliesToPings: Bool = true) {
            self.maxFrameSize = maxFrameSize
            self.maxMessageSize = maxMessageSize
            self.deliversFragments = deliversFragments
            self.repliesToPings = repliesToPings
        }
    }

    /// Something that happened on the connection.
    public enum Event: Sendable, Hashable {
        /// A whole message arrived.
        case message(Message)
        /// A piece of a message arrived (only when the engine streams messages).
        case fragment(MessageFragment)
        /// A Ping arrived. Taking this event queues the Pong (unless
        /// ``Configuration/repliesToPings`` is off).
        case ping([UInt8])
        /// A Pong arrived.
        case pong([UInt8])
        /// The peer's Close frame arrived. Taking this event queues the answering Close if this
        /// end had not sent one; either way the closing handshake is complete and
        /// ``readyState`` is `.closed`.
        case close(CloseFrame)
        /// The peer broke the protocol. Taking this event queues a Close frame with the error's
        /// code (unless one was sent already) and makes ``readyState`` `.closed`: flush, then
        /// close the transport.
        case failure(ProtocolError)
    }

    /// Why a send was refused.
    public enum SendError: Error, Sendable, Hashable {
        /// The connection is not open: a Close has been sent or received.
        case notOpen
        /// A control frame payload over 125 bytes.
        case controlPayloadTooLarge
        /// A close code that may not be sent (below 1000, 1004-1006, 1015, 1016-2999, 5000+).
        case invalidCloseCode(CloseCode)
        /// A close reason over 123 bytes of UTF-8.
        case closeReasonTooLong
    }

    // The stored properties are in this order to leave little padding: the one-byte ones fill
    // the end of `configuration` (18 bytes), the rest are words. A server holds an engine per
    // connection, for hours; declared in the order they were written, they took 224 bytes.

    /// Limits and behaviour.
    public let configuration: Configuration
    /// Which end this is.
    public let role: Role
    /// The state, with the browser's names: `.open` until a Close is sent, or until the
    /// peer's Close (or an error) is taken from ``nextEvent()``.
    public private(set) var readyState: ReadyState = .open
    /// Set when the peer's Close or a protocol error has been parsed: no more input is read.
    private var inputEnded = false
    // The frame whose payload is arriving: whether there is one, and whether it is encoded.
    private var inFrame = false
    private var frameIsEncoded = false
    // The data message being assembled: its kind (nil when none is open), whether its first
    // piece is yet to be delivered (streaming), and its UTF-8 check so far.
    private var messageKind: MessageKind?
    private var messageIsFirstPiece = true
    private var utf8 = UTF8Validator()

    /// The negotiated extension, if any (permessage-deflate).
    public let extensionCodec: (any ExtensionCodec)?
    /// The Close this end sent, if it has sent one.
    public private(set) var closeSent: CloseFrame? {
        get { ending?.closeSent }
        set { endingForWriting().closeSent = newValue }
    }
    /// The Close the peer sent, once its event has been taken.
    public private(set) var closeReceived: CloseFrame? {
        get { ending?.closeReceived }
        set { endingForWriting().closeReceived = newValue }
    }
    /// Why the connection failed, once that event has been taken.
    public private(set) var failure: ProtocolError? {
        get { ending?.failure }
        set { endingForWriting().failure = newValue }
    }
    /// The three above, out of line: they are set only when the connection ends (inline they
    /// took 72 bytes of every engine; see Ending).
    private var ending: Ending?
    /// The most bytes the message being received may hold right now; nil for no limit but
    /// ``Configuration/maxMessageSize``. A message that would hold more, as its bytes arrive
    /// or inflate, fails the connection with 1013 (Try Again Later): the message is not too
    /// big in itself, the memory is wanted elsewhere. A server sets it before each
    /// ``receive(_:)-([UInt8])`` from what its budget for all unfinished messages has left.
    public var partialMessageAllowance: Int?

    // The frame whose payload is arriving: its header, what is left of it, and how far in.
    private var frame = FrameHeader(opcode: .continuation, payloadLength: 0)
    private var frameRemaining: UInt64 = 0
    private var frameOffset = 0
    // The data message's bytes so far.
    private var messageBuffer: [UInt8] = []
    private var messageLength = 0
    // Input: a header cut by the end of the input waits here (at most 14 bytes).
    private var headerStash: [UInt8] = []
    private var controlBuffer: [UInt8] = []
    private var scratch: [UInt8] = []

    // Input parsing waits for while the event backlog is full (see receive(_:)).
    private var unprocessed: [UInt8] = []
    private var unprocessedOffset = 0

    // Output.
    // Inlinable through hasOutbound, which a server asks after every event: as a call into
    // this module it took 1.6 % of a pipelined echo's CPU.
    @usableFromInline var outbound: [OutboundFrame] = []
    private var events: [Event] = []
    private var eventIndex = 0

    /// The record of the ending, unshared, for a change: copied first if another copy of this
    /// engine holds it too (the engine is a value).
    private mutating func endingForWriting() -> Ending {
        if ending == nil {
            ending = Ending()
        } else if !isKnownUniquelyReferenced(&ending) {
            ending = ending!.copy()
        }
        return ending!
    }

    /// Makes an engine for an open connection.
    ///
    /// - Parameters:
    ///   - role: server or client.
    ///   - configuration: limits and behaviour.
    ///   - extensionCodec: the codec of the extension negotiated in the handshake, if any.
    public init(role: Role, configuration: Configuration = Configuration(), extensionCodec: (any ExtensionCodec)? = nil) {
        self.role = role
        self.configuration = configuration
        self.extensionCodec = extensionCodec
    }

    // MARK: - Input

    /// Processes bytes read from the transport. Events become available from ``nextEvent()``;
    /// the answers they call for (pongs, the Close) are queued as they are taken. Input after
    /// the peer's Close, after a protocol error, or once the connection is closed is ignored.
    ///
    /// The engine parses at most ``maxEventBacklog`` events ahead of the application: input
    /// beyond that is copied and parsed as events are taken (``hasUnprocessedInput``), so a
    /// read full of tiny frames costs a bounded number of events, not one per frame.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) {
        if unprocessedOffset < unprocessed.count {
            unprocessed.append(contentsOf: bytes)
            parseUnprocessedInput()
            return
        }
        let used = parse(bytes, lending: false).used
        if used < bytes.count {
            unprocessed = Array(UnsafeRawBufferPointer(rebasing: bytes[used...]))
            unprocessedOffset = 0
        }
    }

    /// Processes bytes read from the transport like ``receive(_:)-(UnsafeRawBufferPointer)``,
    /// but lends a message instead of copying it where it can, one step at a time: parsing
    /// stops at the first message that lies whole in `bytes` (one frame, not compressed), which
    /// it unmasks in place, checks and returns as the place of its payload in `bytes`; or
    /// after the first frame that makes an event, which then waits in ``nextEvent()``. The
    /// caller uses the lent bytes before it changes them, or takes the events, then passes the
    /// rest (from `used` on) in another call.
    ///
    /// While events from earlier input wait to be taken, or input waits to be parsed
    /// (``hasUnprocessedInput``), this does what ``receive(_:)-(UnsafeRawBufferPointer)`` does,
    /// so that nothing overtakes them: it lends nothing and uses all of `bytes`.
    ///
    /// This is how a server hands its application a view of its read buffer, with no copy and
    /// no allocation per message (uWebSockets does the same).
    ///
    /// - Parameter bytes: input the engine may change (it unmasks the lent payload in place).
    /// - Returns: how many bytes of `bytes` were used, and the lent message if parsing stopped
    ///   at one.
    public mutating func receive(lending bytes: UnsafeMutableRawBufferPointer) -> (used: Int, lent: LentMessage?) {
        guard !hasEvents else {
            receive(UnsafeRawBufferPointer(bytes))
            return (bytes.count, nil)
        }
        return parse(UnsafeRawBufferPointer(bytes), lending: true)
    }

    /// The most events parsed and not yet taken; parsing waits beyond it.
    public static let maxEventBacklog = 256

    /// How much of a frame announced in its header a message buffer makes room for ahead of the
    /// bytes; beyond it, the buffer grows as they arrive. It bounds what a header that announces
    /// more than the peer sends can make a connection reserve (address space, not memory: pages
    /// not written to are not resident).
    static let reserveAhead = 1 << 20

    /// Whether input is waiting to be parsed until events are taken. A caller that bounds its
    /// memory reads no more from the transport while this is true.
    public var hasUnprocessedInput: Bool { unprocessedOffset < unprocessed.count }

    /// Parses frames from `bytes` until they end, input ends (a Close or an error) or the event
    /// backlog is full; when `lending`, also until a message is lent or an event made (see
    /// ``receive(lending:)``). Returns how many bytes it used and the lent message.
    private mutating func parse(_ bytes: UnsafeRawBufferPointer, lending: Bool) -> (used: Int, lent: LentMessage?) {
        var input = bytes
        while !input.isEmpty && !inputEnded && readyState != .closed {
            if !inFrame {
                if events.count - eventIndex >= WebSocketEngine.maxEventBacklog { break }
                guard let size = readHeader(input) else { return (bytes.count, nil) }
                input = UnsafeRawBufferPointer(rebasing: input[size...])
                guard beginFrame() else { return (bytes.count, nil) }
                if frameRemaining == 0, let kind = endFrame(UnsafeRawBufferPointer(start: nil, count: 0), mayLend: lending) {
                    let at = bytes.count - input.count
                    return (at, LentMessage(kind: kind, payload: at..<at))
                }
            } else {
                let n = Int(min(frameRemaining, UInt64(input.count)))
                let piece = UnsafeRawBufferPointer(rebasing: input[0..<n])
                input = UnsafeRawBufferPointer(rebasing: input[n...])
                frameRemaining -= UInt64(n)
                if frameRemaining == 0 {
                    if let kind = endFrame(piece, mayLend: lending) {
                        let end = bytes.count - input.count
                        return (end, LentMessage(kind: kind, payload: end - n..<end))
                    }
                } else {
                    payloadPiece(piece)
                }
            }
            // Lending goes one event at a time, so that the caller can take it and lend again.
            if lending && eventIndex < events.count && !inputEnded { break }
        }
        return (inputEnded || readyState == .closed ? bytes.count : bytes.count - input.count, nil)
    }

    /// Parses what waits in `unprocessed`, as far as the backlog allows.
    private mutating func parseUnprocessedInput() {
        // A local reference keeps the bytes alive while parsing (which may end the input and
        // clear `unprocessed`) reads them.
        let input = unprocessed, start = unprocessedOffset
        let used = input.withUnsafeBytes { parse(UnsafeRawBufferPointer(rebasing: $0[start...]), lending: false).used }
        guard !inputEnded else { return }
        unprocessedOffset += used
        if unprocessedOffset == unprocessed.count {
            unprocessed = []
            unprocessedOffset = 0
        }
    }

    /// Processes bytes read from the transport.
    public mutating func receive(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { receive($0) }
    }

    /// The next event, or nil when every event so far has been taken. Taking an event applies
    /// its effect: a `.ping` queues the Pong, a `.close` the answering Close, a `.failure` the
    /// failing Close (see ``Event``).
    public mutating func nextEvent() -> Event? {
        if eventIndex == events.count && hasUnprocessedInput { parseUnprocessedInput() }
        guard eventIndex < events.count else { return nil }
        let event = events[eventIndex]
        eventIndex += 1
        if eventIndex == events.count {
            // A burst of tiny frames can leave a large array behind; keep only a small one.
            events.removeAll(keepingCapacity: events.capacity <= 64)
            eventIndex = 0
        }
        switch event {
        case .ping(let payload):
            // RFC 6455 §5.5.2: a Ping is answered with a Pong carrying its payload.
            if configuration.repliesToPings && closeSent == nil {
                queue(opcode: .pong, payload: payload, reservedBits: [], fin: true)
            }
        case .close(let received):
            closeReceived = received
            if closeSent == nil {
                // RFC 6455 §5.5.1: answer with a Close, echoing the code as it suggests (no
                // code when the peer sent none).
                queueClose(CloseFrame(code: received.code))
            }
            readyState = .closed
        case .failure(let error):
            // RFC 6455 §7.1.7: fail the connection with a Close carrying the error's code.
            failure = error
            if closeSent == nil {
                queueClose(CloseFrame(code: error.code, reason: WebSocketEngine.truncatedReason(error.reason)))
            }
            readyState = .closed
        case .message, .fragment, .pong:
            break
        }
        return event
    }

    /// Events parsed and not yet taken (at most ``maxEventBacklog``).
    var pendingEventCount: Int { events.count - eventIndex }

    /// Whether ``nextEvent()`` has something to return (parsed, or parsed on demand).
    public var hasEvents: Bool { eventIndex < events.count || hasUnprocessedInput }

    /// Bytes held for a message that has not fully arrived. A server adds these up across
    /// connections to bound what many unfinished messages can hold.
    public var partialMessageBytes: Int { messageBuffer.count }

    /// Lends the engine an array to put the next message that arrives in pieces (over more than
    /// one call) together in, instead of allocating one. The engine empties it and takes it
    /// (leaving `storage` empty) unless it holds an array for a message already; take it back
    /// with ``reclaimMessageStorage()`` after the calls that pass input.
    ///
    /// A server can lend one array to each connection in turn: the array of a delivered message
    /// that no handler kept then serves the next large message, wherever it arrives, and the
    /// allocator is not asked for (and does not give back, and fault in again) the memory of
    /// every large message.
    public mutating func lendMessageStorage(_ storage: inout [UInt8]) {
        guard messageBuffer.capacity == 0 else { return }
        swap(&messageBuffer, &storage)
        messageBuffer.removeAll(keepingCapacity: true)
    }

    /// Returns the array lent with ``lendMessageStorage(_:)`` if no message has been put in it,
    /// else an empty one: the engine keeps the array while it holds part of a message, and the
    /// delivered message takes it with it.
    public mutating func reclaimMessageStorage() -> [UInt8] {
        guard messageBuffer.isEmpty, messageBuffer.capacity != 0 else { return [] }
        var storage: [UInt8] = []
        swap(&storage, &messageBuffer)
        return storage
    }

    /// Stops reading input and frees what was held for the message being received.
    private mutating func endInput() {
        inputEnded = true
        inFrame = false
        messageBuffer = []
        scratch = []
        unprocessed = []
        unprocessedOffset = 0
    }

    /// Takes the events so far, in order.
    public mutating func takeEvents() -> [Event] {
        var result: [Event] = []
        while let event = nextEvent() { result.append(event) }
        return result
    }

    /// Reads a frame header from the front of `input` (completing a stashed partial one).
    /// Returns the number of input bytes it took, or nil if the input ended inside it (the
    /// bytes are stashed) or it was invalid (the connection has failed).
    private mutating func readHeader(_ input: UnsafeRawBufferPointer) -> Int? {
        if headerStash.isEmpty {
            do {
                switch try FrameHeader.decode(input) {
                case .header(let header, let size):
                    frame = header
                    return size
                case .incomplete:
                    headerStash.append(contentsOf: input)
                    return nil
                }
            } catch {
                fail(.protocolError, "A 64-bit payload length had its most significant bit set")
                return nil
            }
        }
        // Complete the stash a byte at a time up to what the header needs (at most 14 bytes).
        let before = headerStash.count
        var taken = 0
        while taken < input.count {
            headerStash.append(input[taken])
            taken += 1
            let result = headerStash.withUnsafeBytes { raw in Result { () throws(FrameHeader.DecodingError) in try FrameHeader.decode(raw) } }
            guard case .success(let decoded) = result else {
                fail(.protocolError, "A 64-bit payload length had its most significant bit set")
                return nil
            }
            if case .header(let header, let size) = decoded {
                precondition(size == before + taken)
                frame = header
                headerStash.removeAll(keepingCapacity: true)
                return taken
            }
        }
        return nil
    }

    /// Applies RFC 6455 §5's rules to the header just read and opens the frame.
    private mutating func beginFrame() -> Bool {
        // §5.2: a reserved opcode fails the connection.
        guard let opcode = frame.opcode else {
            fail(.protocolError, "Reserved opcode 0x\(String(frame.opcodeValue, radix: 16))")
            return false
        }
        // §5.1: a server closes on an unmasked client frame; a client on a masked server frame.
        switch role {
        case .server where frame.maskingKey == nil:
            fail(.protocolError, "A client frame was not masked")
            return false
        case .client where frame.maskingKey != nil:
            fail(.protocolError, "A server frame was masked")
            return false
        default:
            break
        }
        let length = frame.payloadLength
        if opcode.isControl {
            // §5.5: control frames are whole, at most 125 bytes, and carry no extension bits.
            guard frame.fin else {
                fail(.protocolError, "A fragmented control frame")
                return false
            }
            guard length <= 125 else {
                fail(.protocolError, "A control frame with a payload over 125 bytes")
                return false
            }
            guard frame.reservedBits.isEmpty else {
                fail(.protocolError, "Reserved bits set on a control frame")
                return false
            }
            controlBuffer.removeAll(keepingCapacity: true)
        } else {
            // §5.4: continuation frames continue an open message; a new one waits for its end.
            let isFirst: Bool
            if opcode == .continuation {
                guard messageKind != nil else {
                    fail(.protocolError, "A continuation frame with no message to continue")
                    return false
                }
                isFirst = false
            } else {
                guard messageKind == nil else {
                    fail(.protocolError, "A new data frame while a fragmented message was still open")
                    return false
                }
                isFirst = true
            }
            // §5.2: RSV bits only as a negotiated extension defines them (RFC 7692 §6: RSV1).
            let allowedBits = extensionCodec?.reservedBits ?? []
            guard allowedBits.isSuperset(of: frame.reservedBits) else {
                fail(.protocolError, "Reserved bits set that no extension negotiated")
                return false
            }
            // §10.4: limits on what a peer can make this end hold (1009, §7.4.1).
            guard length <= UInt64(configuration.maxFrameSize) else {
                fail(.messageTooBig, "A frame of \(length) bytes is over the limit of \(configuration.maxFrameSize)")
                return false
            }
            frameIsEncoded = false
            if let codec = extensionCodec {
                do {
                    frameIsEncoded = try codec.inboundFrame(reservedBits: frame.reservedBits, opcode: opcode, isFirstFrame: isFirst)
                } catch {
                    fail(error.code, error.reason)
                    return false
                }
            }
            if !frameIsEncoded && UInt64(messageLength) + length > UInt64(configuration.maxMessageSize) {
                fail(.messageTooBig, "A message over the limit of \(configuration.maxMessageSize) bytes")
                return false
            }
            if isFirst {
                messageKind = opcode == .text ? .text : .binary
                messageLength = 0
                messageIsFirstPiece = true
                utf8 = UTF8Validator()
            }
        }
        inFrame = true
        frameRemaining = length
        frameOffset = 0
        return true
    }

    /// Handles a piece of payload that does not end the frame.
    private mutating func payloadPiece(_ piece: UnsafeRawBufferPointer) {
        if frame.opcodeValue & 0x8 != 0 {
            appendControlPiece(piece)
        } else {
            dataPiece(piece, endOfFrame: false)
        }
    }

    /// Handles the last piece of a frame's payload (possibly empty) and closes the frame.
    /// Returns the message's kind if it lent the message: `mayLend`, `piece` writable (see
    /// ``receive(lending:)``) and the message whole in it, with no event waiting before it.
    private mutating func endFrame(_ piece: UnsafeRawBufferPointer, mayLend: Bool) -> MessageKind? {
        inFrame = false
        if frame.opcodeValue & 0x8 != 0 {
            appendControlPiece(piece)
            controlFrame()
            return nil
        }
        // Fast path: an unfragmented, unencoded message whose whole payload is in this input.
        if frame.fin && frameOffset == 0 && !frameIsEncoded && !configuration.deliversFragments && messageLength == 0,
           let kind = messageKind {
            if mayLend {  // receive(lending:) parses only while no event waits
                let payload = UnsafeMutableRawBufferPointer(mutating: piece)
                frame.maskingKey?.apply(to: payload)
                guard kind == .binary || UTF8Validator.isValid(piece) else {
                    fail(.invalidPayloadData, "A text message that is not valid UTF-8")
                    return nil
                }
                messageKind = nil
                return kind
            }
            let data = unmaskedCopy(piece)
            if kind == .text {
                guard data.withUnsafeBytes({ UTF8Validator.isValid($0) }) else {
                    fail(.invalidPayloadData, "A text message that is not valid UTF-8")
                    return nil
                }
            }
            messageKind = nil
            events.append(.message(Message(kind: kind, data: data)))
            return nil
        }
        dataPiece(piece, endOfFrame: true)
        return nil
    }

    /// Adds a piece of a data frame to the message: unmasks, decodes, checks UTF-8 as it goes,
    /// and delivers the message (or the piece, when streaming) when it ends.
    private mutating func dataPiece(_ piece: UnsafeRawBufferPointer, endOfFrame: Bool) {
        guard let kind = messageKind else { return }
        let endOfMessage = endOfFrame && frame.fin
        let streaming = configuration.deliversFragments
        var output = streaming ? [UInt8]() : messageBuffer
        if !streaming { messageBuffer = [] }  // keep `output` uniquely referenced while it grows
        let start = output.count
        if frameIsEncoded, let codec = extensionCodec {
            scratch.removeAll(keepingCapacity: true)
            WebSocketEngine.appendUnmasked(piece, to: &scratch, key: frame.maskingKey, offset: frameOffset)
            frameOffset &+= piece.count
            let allowance = streaming ? Int.max : partialMessageAllowance ?? Int.max
            let limit = min(configuration.maxMessageSize, allowance) - messageLength + start
            let result = scratch.withUnsafeBytes { raw in
                Result { () throws(ProtocolError) in
                    try codec.decode(raw, endOfFrame: endOfFrame, endOfMessage: endOfMessage, into: &output, limit: limit)
                }
            }
            if case .failure(let error) = result {
                if error.code == .messageTooBig && allowance < configuration.maxMessageSize {
                    failForAllowance()
                    return
                }
                // Report errors in stream order: invalid UTF-8 in what inflated before the bad
                // data comes first, so any split of the input gives the same failure.
                if kind == .text {
                    let valid = output.withUnsafeBytes { raw in utf8.validate(UnsafeRawBufferPointer(rebasing: raw[start...])) }
                    if !valid {
                        fail(.invalidPayloadData, "A text message that is not valid UTF-8")
                        return
                    }
                }
                fail(error.code, error.reason)
                return
            }
        } else {
            if !streaming, let allowance = partialMessageAllowance, messageLength + piece.count > allowance {
                failForAllowance()
                return
            }
            if frameOffset == 0, !endOfFrame, !streaming {
                // The first piece of a frame that goes on in later input: room for all of it
                // now (up to `reserveAhead`), so the message grows once rather than doubling and
                // copying as the pieces come (a 64 KiB frame is read as 65,522 bytes, then 14,
                // and the 14 would otherwise double a 64 KiB array into fresh, faulting pages).
                let room = start + min(Int(clamping: frame.payloadLength), WebSocketEngine.reserveAhead)
                if output.capacity < room { output.reserveCapacity(room) }
            }
            appendUnmasked(piece, to: &output)
        }
        let added = output.count - start
        messageLength += added
        if kind == .text {
            let valid = output.withUnsafeBytes { raw in
                utf8.validate(UnsafeRawBufferPointer(rebasing: raw[start...]))
            }
            guard valid, !endOfMessage || utf8.isAtCharacterBoundary else {
                fail(.invalidPayloadData, "A text message that is not valid UTF-8")
                return
            }
        }
        if streaming {
            if added > 0 || endOfMessage {
                events.append(.fragment(MessageFragment(kind: kind, data: output, isFirst: messageIsFirstPiece, isFinal: endOfMessage)))
                messageIsFirstPiece = false
            }
        } else if endOfMessage {
            events.append(.message(Message(kind: kind, data: output)))
        } else {
            messageBuffer = output
        }
        if endOfMessage {
            messageKind = nil
            messageLength = 0
        }
    }

    /// Acts on a complete control frame.
    private mutating func controlFrame() {
        switch frame.opcode {
        case .ping:
            events.append(.ping(controlBuffer))  // answered when taken (see nextEvent())
        case .pong:
            events.append(.pong(controlBuffer))
        case .close:
            receivedClose()
        default:
            break
        }
    }

    /// Parses the peer's Close (RFC 6455 §5.5.1, §7.4) and completes the closing handshake.
    private mutating func receivedClose() {
        let payload = controlBuffer
        var received = CloseFrame(code: nil)
        if payload.count == 1 {
            fail(.protocolError, "A Close frame with a 1-byte payload")
            return
        }
        if payload.count >= 2 {
            let code = CloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
            guard code.isValidOnWire else {
                fail(.protocolError, "Close code \(code.rawValue) may not be sent")
                return
            }
            let reason = payload[2...]
            guard reason.withUnsafeBytes({ UTF8Validator.isValid($0) }) else {
                fail(.invalidPayloadData, "A Close reason that is not valid UTF-8")
                return
            }
            received = CloseFrame(code: code, reason: String(decoding: reason, as: UTF8.self))
        }
        // The answer is queued when the application takes this event (see nextEvent()), after
        // whatever it sends in reply to the messages before it.
        endInput()
        events.append(.close(received))
    }

    /// Fails the connection because the message outgrew ``partialMessageAllowance``.
    private mutating func failForAllowance() {
        fail(.tryAgainLater, "Too much memory held for unfinished messages on this server; try again later")
    }

    /// Fails the connection (RFC 6455 §7.1.7) once the application takes the event: nothing
    /// more is read, and the Close with `code` is queued then (see nextEvent()).
    private mutating func fail(_ code: CloseCode, _ reason: String) {
        endInput()
        events.append(.failure(ProtocolError(code, reason)))
    }

    /// A reason cut to at most 123 bytes on a character boundary.
    static func truncatedReason(_ reason: String) -> String {
        var bytes = Array(reason.utf8)
        guard bytes.count > 123 else { return reason }
        bytes.removeLast(bytes.count - 123)
        while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }  // continuation bytes
        if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }  // a lead byte without its continuation
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `piece` to `buffer`, unmasking it with `key` from payload position `offset`.
    private static func appendUnmasked(_ piece: UnsafeRawBufferPointer, to buffer: inout [UInt8], key: MaskingKey?, offset: Int) {
        guard !piece.isEmpty else { return }
        let start = buffer.count
        buffer.append(contentsOf: piece)
        if let key {
            buffer.withUnsafeMutableBytes { raw in
                key.apply(to: UnsafeMutableRawBufferPointer(rebasing: raw[start...]), offset: offset)
            }
        }
    }

    /// Appends `piece` of the current frame to `buffer`, unmasked, and advances the frame offset.
    private mutating func appendUnmasked(_ piece: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        WebSocketEngine.appendUnmasked(piece, to: &buffer, key: frame.maskingKey, offset: frameOffset)
        frameOffset &+= piece.count
    }

    /// Adds a piece of a control frame's payload to the control buffer.
    private mutating func appendControlPiece(_ piece: UnsafeRawBufferPointer) {
        WebSocketEngine.appendUnmasked(piece, to: &controlBuffer, key: frame.maskingKey, offset: frameOffset)
        frameOffset &+= piece.count
    }

    /// A new array holding `piece` unmasked, made in one pass.
    private mutating func unmaskedCopy(_ piece: UnsafeRawBufferPointer) -> [UInt8] {
        let count = piece.count
        guard count > 0, let source = piece.baseAddress else { return [] }
        let offset = frameOffset
        frameOffset &+= count
        guard let key = frame.maskingKey else { return Array(piece) }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            key.apply(from: source, to: UnsafeMutableRawPointer(buffer.baseAddress!), count: count, offset: offset)
            initialized = count
        }
    }

    // MARK: - Output

    /// Sends a message: text or binary, compressed if an extension is negotiated and the
    /// codec's rules (or `compress`) say so, split into frames of `fragmentSize` if given.
    ///
    /// - Parameters:
    ///   - message: the message; its bytes are shared, not copied, on the server side.
    ///   - compress: nil to let the extension decide (its threshold), true to encode whenever
    ///     an extension is negotiated, false never to encode this message.
    ///   - fragmentSize: the largest frame payload; nil sends one frame.
    public mutating func send(_ message: Message, compress: Bool? = nil, fragmentSize: Int? = nil) throws(SendError) {
        guard readyState == .open else { throw .notOpen }
        var payload = message.data
        var bits: ReservedBits = []
        if compress != false, let codec = extensionCodec, let encoded = codec.encode(payload, opcode: message.kind.opcode, force: compress == true) {
            payload = encoded.payload
            bits = encoded.reservedBits
        }
        guard let size = fragmentSize, size > 0, payload.count > size else {
            queue(opcode: message.kind.opcode, payload: payload, reservedBits: bits, fin: true)
            return
        }
        var start = 0
        while start < payload.count {
            let end = min(start + size, payload.count)
            queue(opcode: start == 0 ? message.kind.opcode : .continuation, payload: Array(payload[start..<end]),
                  reservedBits: start == 0 ? bits : [], fin: end == payload.count)
            start = end
        }
    }

    /// Sends a text message (the same labels as `WebSocket`'s sends).
    public mutating func send(_ text: String, compress: Bool? = nil) throws(SendError) {
        try send(Message(kind: .text, data: Array(text.utf8)), compress: compress)
    }

    /// Sends a binary message.
    public mutating func send(_ bytes: [UInt8], compress: Bool? = nil) throws(SendError) {
        try send(Message(kind: .binary, data: bytes), compress: compress)
    }

    /// Sends a Ping with up to 125 bytes of payload.
    public mutating func ping(_ payload: [UInt8] = []) throws(SendError) {
        guard readyState == .open else { throw .notOpen }
        try WebSocketEngine.checkControlPayload(payload)
        queue(opcode: .ping, payload: payload, reservedBits: [], fin: true)
    }

    /// Sends an unsolicited Pong (a one-way heartbeat, RFC 6455 §5.5.3).
    public mutating func pong(_ payload: [UInt8] = []) throws(SendError) {
        guard readyState == .open else { throw .notOpen }
        try WebSocketEngine.checkControlPayload(payload)
        queue(opcode: .pong, payload: payload, reservedBits: [], fin: true)
    }

    /// Starts the closing handshake: sends a Close and moves to `.closing`. The connection is
    /// closed when the peer's Close arrives (``Event/close(_:)``).
    ///
    /// - Parameters:
    ///   - code: the status code, which must be valid on the wire; nil sends a Close without a
    ///     code (the peer reports 1005).
    ///   - reason: at most 123 bytes of UTF-8; needs a code.
    public mutating func close(code: CloseCode? = .normalClosure, reason: String = "") throws(SendError) {
        guard readyState == .open else { throw .notOpen }
        try WebSocketEngine.checkClose(code: code, reason: reason)
        queueClose(CloseFrame(code: code, reason: code == nil ? "" : reason))
        readyState = .closing
    }

    /// Throws unless `payload` fits a control frame (125 bytes, RFC 6455 §5.5).
    public static func checkControlPayload(_ payload: [UInt8]) throws(SendError) {
        guard payload.count <= 125 else { throw .controlPayloadTooLarge }
    }

    /// Throws unless a Close with `code` and `reason` may be sent: a code valid on the wire
    /// (RFC 6455 §7.4) and a reason of at most 123 bytes of UTF-8 (§5.5.1).
    public static func checkClose(code: CloseCode?, reason: String) throws(SendError) {
        if let code, !code.isValidOnWire { throw .invalidCloseCode(code) }
        guard reason.utf8.count <= 123 else { throw .closeReasonTooLong }
    }

    /// Queues frames made elsewhere (a broadcast encodes a frame once for many connections).
    /// The frames must be unmasked server frames of whole messages.
    public mutating func send(prebuilt frames: [OutboundFrame]) throws(SendError) {
        precondition(role == .server, "Prebuilt frames are unmasked server frames; a client sends through send(_:), which masks")
        guard readyState == .open else { throw .notOpen }
        outbound.append(contentsOf: frames)
    }

    /// An unmasked, unencoded frame for `message`, to queue on many server connections with
    /// ``send(prebuilt:)``.
    public static func serverFrame(for message: Message) -> OutboundFrame {
        OutboundFrame(header: FrameHeader(opcode: message.kind.opcode, payloadLength: message.data.count).encoded, payload: message.data)
    }

    /// Whether frames are waiting to be written.
    @inlinable public var hasOutbound: Bool { !outbound.isEmpty }

    /// Takes the frames queued so far, in order.
    public mutating func takeOutbound() -> [OutboundFrame] {
        let frames = outbound
        outbound = []
        return frames
    }

    /// Passes each queued frame to `body`, in order, and empties the queue (keeping its
    /// storage, so a steady stream of sends allocates nothing here).
    public mutating func drainOutbound(_ body: (OutboundFrame) -> Void) {
        for frame in outbound { body(frame) }
        outbound.removeAll(keepingCapacity: true)
    }

    /// Takes the frames queued so far as one byte array (a copy; for tests and simple writers).
    public mutating func takeOutboundBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        for frame in outbound {
            frame.header.withUnsafeBytes { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: frame.payload)
        }
        outbound.removeAll(keepingCapacity: true)
        return bytes
    }

    private mutating func queueClose(_ close: CloseFrame) {
        var payload: [UInt8] = []
        if let code = close.code {
            payload = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
            payload.append(contentsOf: close.reason.utf8)
        }
        closeSent = close
        queue(opcode: .close, payload: payload, reservedBits: [], fin: true)
    }

    private mutating func queue(opcode: Opcode, payload: [UInt8], reservedBits: ReservedBits, fin: Bool) {
        switch role {
        case .server:
            let header = FrameHeader(fin: fin, reservedBits: reservedBits, opcode: opcode, payloadLength: payload.count)
            outbound.append(OutboundFrame(header: header.encoded, payload: payload))
        case .client:
            let key = MaskingKey.random()
            var masked = payload
            key.apply(to: &masked)
            let header = FrameHeader(fin: fin, reservedBits: reservedBits, opcode: opcode, maskingKey: key, payloadLength: payload.count)
            outbound.append(OutboundFrame(header: header.encoded, payload: masked))
        }
    }
}

@available(*, unavailable, message: "A WebSocketEngine belongs to one connection on one queue")
extension WebSocketEngine: Sendable {}

/// How a connection ended, as far as the engine knows: the Close frames each way and the
/// failure. A class so that an engine holds one reference until the end; changed only through
/// `WebSocketEngine.endingForWriting()`, which copies it when shared, so engines stay values.
private final class Ending {
    var closeSent: CloseFrame?
    var closeReceived: CloseFrame?
    var failure: ProtocolError?

    init() {}

    func copy() -> Ending {
        let copy = Ending()
        copy.closeSent = closeSent
        copy.closeReceived = closeReceived
        copy.failure = failure
        return copy
    }
}
