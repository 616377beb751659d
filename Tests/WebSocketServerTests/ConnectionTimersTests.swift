import Testing
@testable import WebSocketServer

/// The timers with the settings a connection passes to each call.
private struct Timers {
    var timers: ConnectionTimers
    let settings: ConnectionTimers.Settings
    init(_ settings: ConnectionTimers.Settings, acceptedAt now: UInt64) {
        self.settings = settings
        timers = ConnectionTimers(settings, acceptedAt: now)
    }
    var isClosingTimed: Bool { timers.isClosingTimed }
    mutating func due(at now: UInt64, stage: ConnectionTimers.Stage) -> ConnectionTimers.Due { timers.due(at: now, stage: stage, settings) }
    mutating func opened(at now: UInt64) { timers.opened(at: now, settings) }
    mutating func closingStarted(at now: UInt64) { timers.closingStarted(at: now, settings) }
    mutating func inputArrived() { timers.inputArrived() }
    mutating func handshakeAnswered() { timers.handshakeAnswered() }
    mutating func requestAnswered(at now: UInt64) { timers.requestAnswered(at: now, settings) }
    var nextOpenDeadline: UInt64 { timers.nextOpenDeadline(settings) }
}

/// The connection's timers as a pure policy: every timeout checked with numbers, no sleeping.
@Suite struct ConnectionTimersTests {
    static let second: UInt64 = 1_000_000_000

    func settings(ping: UInt64? = 30, lifetime: UInt64? = nil) -> ConnectionTimers.Settings {
        ConnectionTimers.Settings(handshakeTimeout: .seconds(10), closeTimeout: .seconds(5), pongTimeout: .seconds(10),
                                  idlePingInterval: ping.map { .seconds(Int64($0)) }, maxLifetime: lifetime.map { .seconds(Int64($0)) },
                                  keepAliveTimeout: .seconds(3))
    }

    @Test func theHandshakeTimesOutUnlessAnswered() {
        let s = Self.second
        var timers = Timers(settings(), acceptedAt: 100 * s)
        #expect(timers.due(at: 109 * s, stage: .handshake) == .nothing)
        #expect(timers.due(at: 110 * s, stage: .handshake) == .handshakeTimedOut)
        var answered = Timers(settings(), acceptedAt: 100 * s)
        answered.handshakeAnswered()
        #expect(answered.due(at: 200 * s, stage: .handshake) == .nothing)
    }

    @Test func aKeptAliveConnectionHasTheKeepAliveTimeoutFromEachResponse() {
        let s = Self.second
        var timers = Timers(settings(), acceptedAt: 100 * s)
        timers.requestAnswered(at: 101 * s)  // 3 s from the response, not 10 s from the accept
        #expect(timers.due(at: 103 * s, stage: .handshake) == .nothing)
        timers.requestAnswered(at: 103 * s)  // the next request came and was answered
        #expect(timers.due(at: 105 * s, stage: .handshake) == .nothing)
        #expect(timers.due(at: 106 * s, stage: .handshake) == .handshakeTimedOut)
    }

    /// The loop's tick skips an open connection until its next deadline: that moment must
    /// never come after the moment `due` reports something.
    @Test func theNextDeadlineOfAnOpenConnectionIsNeverLate() {
        let s = Self.second
        var timers = Timers(settings(ping: 30, lifetime: 100), acceptedAt: 0)
        timers.opened(at: 1 * s)
        #expect(timers.nextOpenDeadline == 31 * s)  // the keepalive ping
        #expect(timers.due(at: 31 * s, stage: .open) == .ping)
        #expect(timers.nextOpenDeadline == 41 * s)  // the pong's deadline
        timers.inputArrived()  // the pong
        #expect(timers.nextOpenDeadline <= 61 * s)
        #expect(timers.due(at: 35 * s, stage: .open) == .nothing)
        #expect(timers.nextOpenDeadline == 65 * s)  // 30 s after the input seen at 35 s
        timers.closingStarted(at: 40 * s)
        #expect(timers.nextOpenDeadline == 45 * s)  // the close timeout
        var old = Timers(settings(ping: nil, lifetime: 100), acceptedAt: 0)
        old.opened(at: 0)
        #expect(old.nextOpenDeadline == 100 * s)  // the lifetime
        #expect(old.due(at: 100 * s, stage: .open) == .lifetimeOver)
        #expect(Timers(settings(ping: nil), acceptedAt: 0).nextOpenDeadline == .max)
    }

    @Test func aQuietConnectionIsPingedThenDroppedWithoutAnAnswer() {
        let s = Self.second
        var timers = Timers(settings(), acceptedAt: 0)
        timers.opened(at: 1 * s)
        #expect(timers.due(at: 30 * s, stage: .open) == .nothing)
        #expect(timers.due(at: 31 * s, stage: .open) == .ping)
        #expect(timers.due(at: 32 * s, stage: .open) == .nothing)  // the ping is out; waiting
        #expect(timers.due(at: 41 * s, stage: .open) == .pongMissing)
    }

    @Test func inputAnswersThePingAndRestartsTheInterval() {
        let s = Self.second
        var timers = Timers(settings(), acceptedAt: 0)
        timers.opened(at: 0)
        #expect(timers.due(at: 30 * s, stage: .open) == .ping)
        timers.inputArrived()
        // Input is stamped at the next check, not read from a clock when it arrives.
        #expect(timers.due(at: 35 * s, stage: .open) == .nothing)
        #expect(timers.due(at: 64 * s, stage: .open) == .nothing)
        #expect(timers.due(at: 65 * s, stage: .open) == .ping)
    }

    @Test func noKeepaliveWithoutAnInterval() {
        var timers = Timers(settings(ping: nil), acceptedAt: 0)
        timers.opened(at: 0)
        #expect(timers.due(at: 1_000 * Self.second, stage: .open) == .nothing)
    }

    @Test func theLifetimeEndsOnce() {
        let s = Self.second
        var timers = Timers(settings(ping: nil, lifetime: 60), acceptedAt: 0)
        timers.opened(at: 10 * s)
        #expect(timers.due(at: 69 * s, stage: .open) == .nothing)
        #expect(timers.due(at: 70 * s, stage: .open) == .lifetimeOver)
        #expect(timers.due(at: 71 * s, stage: .open) == .nothing)
    }

    @Test func theCloseTimeoutRunsFromTheFirstStart() {
        let s = Self.second
        var timers = Timers(settings(), acceptedAt: 0)
        timers.opened(at: 0)
        #expect(!timers.isClosingTimed)
        timers.closingStarted(at: 10 * s)
        timers.closingStarted(at: 12 * s)  // a later start does not push the deadline out
        #expect(timers.isClosingTimed)
        #expect(timers.due(at: 14 * s, stage: .open) == .nothing)
        #expect(timers.due(at: 15 * s, stage: .open) == .closeTimedOut)
        #expect(timers.due(at: 15 * s, stage: .closing) == .closeTimedOut)
    }

    @Test func lastWritesWithoutACloseAreTimedFromTheFirstCheck() {
        let s = Self.second
        var timers = Timers(settings(), acceptedAt: 0)
        timers.handshakeAnswered()
        #expect(timers.due(at: 3 * s, stage: .closing) == .nothing)
        #expect(timers.due(at: 7 * s, stage: .closing) == .nothing)
        #expect(timers.due(at: 8 * s, stage: .closing) == .closeTimedOut)
    }
}
