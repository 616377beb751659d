/// The timers of one connection as a pure policy: it is told when things happen (in monotonic
/// nanoseconds) and answers, for a moment and the connection's stage, what is due. It reads no
/// clock and touches no socket, so every timeout is tested with plain numbers. The durations
/// come with each call (one `Settings` per server), so a connection holds only its moments.
struct ConnectionTimers {
    /// The durations, in nanoseconds, from the server's configuration.
    struct Settings {
        var handshakeTimeout: UInt64
        var closeTimeout: UInt64
        var pongTimeout: UInt64
        /// Ping after this long without input; nil: no keepalive.
        var idlePingInterval: UInt64?
        /// Close with 1001 after this long open; nil: no limit.
        var maxLifetime: UInt64?
        /// After an HTTP response on a connection kept alive: the time its next request has.
        var keepAliveTimeout: UInt64

        init(handshakeTimeout: Duration, closeTimeout: Duration, pongTimeout: Duration, idlePingInterval: Duration?, maxLifetime: Duration?,
             keepAliveTimeout: Duration) {
            self.handshakeTimeout = handshakeTimeout.nanoseconds
            self.closeTimeout = closeTimeout.nanoseconds
            self.pongTimeout = pongTimeout.nanoseconds
            self.idlePingInterval = idlePingInterval?.nanoseconds
            self.maxLifetime = maxLifetime?.nanoseconds
            self.keepAliveTimeout = keepAliveTimeout.nanoseconds
        }
    }

    /// Where the connection is, as far as its timers care.
    enum Stage {
        /// Before the WebSocket is open: the request head, the upgrade hook.
        case handshake
        /// Frames flow.
        case open
        /// Writing its last bytes or waiting for the peer's FIN, after an HTTP response or the
        /// close.
        case closing
    }

    /// What is due.
    enum Due: Equatable {
        case nothing
        /// The request head (or the hook) took longer than the handshake timeout: drop.
        case handshakeTimedOut
        /// The closing handshake or the TCP close after it took too long: drop.
        case closeTimedOut
        /// The maximum lifetime has passed: close with 1001.
        case lifetimeOver
        /// Quiet for the idle interval: send a keepalive Ping.
        case ping
        /// No input since the keepalive Ping, for the pong timeout: drop (1006).
        case pongMissing
    }

    // The moments, in monotonic nanoseconds; `never` (the largest value, which no clock
    // reaches) stands for none. Plain words rather than optionals: every connection holds
    // these, and an optional word takes two.
    private static let never = UInt64.max
    private var handshakeDeadline: UInt64
    private var closeDeadline = never
    private var lifetimeDeadline = never
    /// When input last arrived, as of the last check (`inputSinceCheck` marks input since then:
    /// reading the clock on every read cost more than the rest of the read path).
    private var lastInput: UInt64
    private var pingSentAt = never
    private var inputSinceCheck = false

    /// Timers for a connection accepted at `now`: the handshake timeout runs.
    init(_ settings: Settings, acceptedAt now: UInt64) {
        handshakeDeadline = now + settings.handshakeTimeout
        lastInput = now
    }

    /// Input arrived (any bytes): it answers a keepalive Ping and restarts the idle interval.
    mutating func inputArrived() {
        inputSinceCheck = true
        pingSentAt = ConnectionTimers.never
    }

    /// The handshake ended in a response (an HTTP answer or a refusal): its timeout stops.
    mutating func handshakeAnswered() {
        handshakeDeadline = ConnectionTimers.never
    }

    /// An HTTP response was queued at `now` on a connection kept alive: the next request (and
    /// the reading of this response, while pipelined requests wait) has the keep-alive timeout,
    /// which the handshake deadline now holds.
    mutating func requestAnswered(at now: UInt64, _ settings: Settings) {
        handshakeDeadline = now + settings.keepAliveTimeout
    }

    /// The WebSocket opened at `now`: the handshake timeout stops, the idle interval and the
    /// lifetime start.
    mutating func opened(at now: UInt64, _ settings: Settings) {
        handshakeDeadline = ConnectionTimers.never
        lastInput = now
        lifetimeDeadline = settings.maxLifetime.map { now + $0 } ?? ConnectionTimers.never
    }

    /// Whether the close timeout runs already (so the clock need not be read again).
    var isClosingTimed: Bool { closeDeadline != ConnectionTimers.never }

    /// The closing started at `now` (a Close sent, or the last bytes being written): the close
    /// timeout runs from the first such moment.
    mutating func closingStarted(at now: UInt64, _ settings: Settings) {
        closeDeadline = min(closeDeadline, now + settings.closeTimeout)
    }

    /// The earliest moment ``due(at:stage:_:)`` could report something for an open connection,
    /// as things stand: no need to ask before. Input since the last check only moves the ping
    /// later, so the moment is never late; any other change is followed by a check anyway.
    func nextOpenDeadline(_ settings: Settings) -> UInt64 {
        var next = min(closeDeadline, lifetimeDeadline)
        if let interval = settings.idlePingInterval {
            next = min(next, pingSentAt != ConnectionTimers.never ? pingSentAt + settings.pongTimeout : lastInput + interval)
        }
        return next
    }

    /// What is due at `now` for a connection in `stage`; what it reports is done (a reported
    /// Ping counts as sent, a reported lifetime as over).
    mutating func due(at now: UInt64, stage: Stage, _ settings: Settings) -> Due {
        if inputSinceCheck {
            inputSinceCheck = false
            lastInput = now
        }
        switch stage {
        case .handshake:
            if now >= handshakeDeadline { return .handshakeTimedOut }
        case .open:
            if now >= closeDeadline { return .closeTimedOut }
            if now >= lifetimeDeadline {
                lifetimeDeadline = ConnectionTimers.never
                return .lifetimeOver
            }
            guard let interval = settings.idlePingInterval else { return .nothing }
            if pingSentAt != ConnectionTimers.never {
                if now >= pingSentAt + settings.pongTimeout { return .pongMissing }
            } else if now >= lastInput + interval {
                pingSentAt = now
                return .ping
            }
        case .closing:
            // A connection can reach its last writes without the closing having been timed
            // (an HTTP response): the timeout starts at the first check.
            guard closeDeadline != ConnectionTimers.never else {
                closeDeadline = now + settings.closeTimeout
                return .nothing
            }
            if now >= closeDeadline { return .closeTimedOut }
        }
        return .nothing
    }
}
