import CWebSocketShims
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A serial queue, the epoll set of its connections, and what they share: a read buffer, an
/// iovec array and a timer that checks every connection's deadlines. One of an ``EventLoops``
/// set; a server's and a client's connections may share it.
///
/// Dispatch drives the loop: one `DispatchSourceRead` watches the loop's epoll descriptor (which
/// is readable whenever any of its sockets has an event) and runs ``poll()`` on the queue. One
/// wake-up of the queue then serves every socket that is ready, instead of one thread hand-off
/// per socket event, which is what a Dispatch source per socket costs on Linux.
///
/// `@unchecked Sendable`: every mutable property is touched only on `queue` (the queue is the
/// lock); the type is shared between threads only to hand work to that queue.
final class EventLoop: @unchecked Sendable {
    let queue: DispatchQueue
    /// The loop's place in its ``EventLoops`` set.
    let index: Int
    let readBuffer: UnsafeMutableRawBufferPointer
    let iovecs: UnsafeMutablePointer<iovec>
    static let iovecCapacity = 64
    /// Frame headers copied here for the iovecs of one `sendmsg` (16 bytes a slot).
    let headerScratch: UnsafeMutableRawPointer
    /// Where a TLS transport puts queued bytes together for one record (16 KiB, a record's most).
    let writeScratch: UnsafeMutableRawBufferPointer
    /// Where the connection being delivered to lays out its replies (see CorkBuffer). Used on
    /// the loop's queue only, by code that never reaches it again while using it, so the
    /// runtime's exclusivity checks (several per message) are skipped.
    @exclusivity(unchecked) var cork = CorkBuffer()
    /// An emptied message array for the next message that arrives in pieces on any of the
    /// loop's connections. Used on the queue only, between engine calls, so its exclusivity
    /// checks are skipped too.
    @exclusivity(unchecked) var spareMessageStorage = SpareMessageStorage()
    private let epollFD: Int32
    private let readyDescriptors: UnsafeMutablePointer<Int32>
    private let readyEvents: UnsafeMutablePointer<UInt32>
    private static let eventCapacity = 256
    /// Connections by file descriptor.
    private var byDescriptor: [Connection?] = []
    /// When the tick must next look at each connection, by file descriptor (`.max`: not until
    /// something changes, which calls checkSoon(_:)). The tick reads this one array and visits
    /// only the connections due, rather than every connection object: walking 10,000 of them
    /// each 100 ms took 40 % of the CPU of a server whose connections were mostly idle.
    private var nextCheck: [UInt64] = []
    private var source: DispatchSourceRead?
    private var timer: DispatchSourceTimer?
    private let resolution: Duration

    private static let key = DispatchSpecificKey<ObjectIdentifier>()

    init(index: Int, readBufferSize: Int, resolution: Duration) {
        self.index = index
        queue = DispatchQueue(label: "websocket.loop.\(index)")
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readBufferSize, alignment: 16)
        iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: EventLoop.iovecCapacity)
        headerScratch = UnsafeMutableRawPointer.allocate(byteCount: 16 * EventLoop.iovecCapacity, alignment: 16)
        writeScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 16)
        readyDescriptors = UnsafeMutablePointer<Int32>.allocate(capacity: EventLoop.eventCapacity)
        readyEvents = UnsafeMutablePointer<UInt32>.allocate(capacity: EventLoop.eventCapacity)
        epollFD = cws_epoll_create()
        precondition(epollFD >= 0, "epoll_create1 failed: errno \(errno)")
        self.resolution = resolution
        queue.setSpecific(key: EventLoop.key, value: ObjectIdentifier(self))
    }

    deinit {
        // A loop dropped without stop() (a server that was never started, then released) must
        // not leave its sources firing.
        timer?.cancel()
        source?.cancel()
        readBuffer.deallocate()
        iovecs.deallocate()
        headerScratch.deallocate()
        writeScratch.deallocate()
        cork.deallocate()
        readyDescriptors.deallocate()
        readyEvents.deallocate()
    }

    /// Whether the caller is running on this loop's queue: at once while the loop serves its
    /// sockets (a thread-local variable says so), else by asking Dispatch.
    var isCurrent: Bool {
        cws_current_loop() == UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
            || DispatchQueue.getSpecific(key: EventLoop.key) == ObjectIdentifier(self)
    }

    /// Runs `body` now if on the queue, else soon on it.
    func execute(_ body: @escaping @Sendable () -> Void) {
        if isCurrent { body() } else { queue.async(execute: body) }
    }

    /// Starts watching the epoll set and the deadline timer.
    func start() {
        let source = DispatchSource.makeReadSource(fileDescriptor: epollFD, queue: queue)
        source.setEventHandler { [weak self] in self?.poll() }
        let fd = epollFD
        source.setCancelHandler { _ = Glibc.close(fd) }
        source.resume()
        self.source = source
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.nanoseconds(Int(resolution.nanoseconds))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(5))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        self.timer = timer
    }

    /// Stops the timer and the epoll source (closing the epoll descriptor). On the queue.
    func stop() {
        timer?.cancel()
        timer = nil
        source?.cancel()
        source = nil
    }

    // MARK: - Registration, on the queue

    /// Adds a connection's socket to the epoll set, watching for input.
    func register(_ connection: Connection) {
        let fd = Int(connection.fd)
        if fd >= byDescriptor.count {
            byDescriptor.append(contentsOf: repeatElement(nil, count: fd + 1 - byDescriptor.count))
            nextCheck.append(contentsOf: repeatElement(.max, count: fd + 1 - nextCheck.count))
        }
        byDescriptor[fd] = connection
        nextCheck[fd] = 0
        _ = cws_epoll_add(epollFD, connection.fd, EventLoop.input)
    }

    /// Changes what the epoll set watches on a socket.
    func setInterest(_ fd: Int32, read: Bool, write: Bool) {
        _ = cws_epoll_modify(epollFD, fd, (read ? EventLoop.input : 0) | (write ? EventLoop.output : 0))
    }

    /// Removes a socket from the epoll set (before it is closed).
    func unregister(_ connection: Connection) {
        let fd = Int(connection.fd)
        guard fd < byDescriptor.count, byDescriptor[fd] === connection else { return }
        _ = cws_epoll_remove(epollFD, connection.fd)
        byDescriptor[fd] = nil
        nextCheck[fd] = .max
    }

    /// Every connection of this loop.
    var connections: [Connection] { byDescriptor.compactMap { $0 } }

    // MARK: - Events

    /// Serves every socket that is ready; goes round again while events keep coming, up to a
    /// budget, so a busy loop stays on its thread instead of going back through Dispatch.
    private func poll() {
        cws_set_current_loop(Unmanaged.passUnretained(self).toOpaque())
        defer { cws_set_current_loop(nil) }
        for _ in 0..<8 {
            let count = cws_epoll_wait(epollFD, readyDescriptors, readyEvents, Int32(EventLoop.eventCapacity), 0)
            if count <= 0 { return }
            for i in 0..<Int(count) {
                let fd = Int(readyDescriptors[i])
                guard fd < byDescriptor.count, let connection = byDescriptor[fd] else { continue }
                let flags = readyEvents[i]
                if flags & EventLoop.hangup != 0 && connection.isReadingPaused {
                    // The socket failed while nothing reads it: with level-triggered epoll this
                    // event would repeat for ever, so the connection is dropped now.
                    connection.transportLost()
                    continue
                }
                if flags & EventLoop.readable != 0 {
                    connection.readable()
                }
                if flags & UInt32(CWS_EPOLLOUT) != 0, byDescriptor[fd] === connection {
                    connection.writable()
                }
            }
            if Int(count) < EventLoop.eventCapacity / 4 { return }
        }
    }

    private static let input = UInt32(CWS_EPOLLIN | CWS_EPOLLRDHUP)
    private static let output = UInt32(CWS_EPOLLOUT)
    private static let hangup = UInt32(CWS_EPOLLHUP | CWS_EPOLLERR)
    private static let readable = UInt32(CWS_EPOLLIN | CWS_EPOLLHUP | CWS_EPOLLERR | CWS_EPOLLRDHUP)

    /// Asks the tick to look at the connection on `fd` at its next turn. On the queue.
    func checkSoon(_ fd: Int32) {
        let fd = Int(fd)
        if fd < nextCheck.count, nextCheck[fd] != 0 { nextCheck[fd] = 0 }
    }

    private func tick() {
        spareMessageStorage.tick()
        let now = Monotonic.now
        for fd in nextCheck.indices where nextCheck[fd] <= now {
            guard let connection = byDescriptor[fd] else { continue }
            nextCheck[fd] = connection.checkDeadlines(now: now)
        }
    }
}

/// Monotonic time in nanoseconds.
enum Monotonic {
    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
}
