import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A serial queue and what its connections share: a read buffer, an iovec array and a timer
/// that checks every connection's deadlines.
///
/// `@unchecked Sendable`: every mutable property is touched only on `queue` (the queue is the
/// lock); the type is shared between threads only to hand work to that queue.
final class EventLoop: @unchecked Sendable {
    let queue: DispatchQueue
    let readBuffer: UnsafeMutableRawBufferPointer
    let iovecs: UnsafeMutablePointer<iovec>
    static let iovecCapacity = 64
    /// Frame headers copied here for the iovecs of one `sendmsg` (16 bytes a slot).
    let headerScratch: UnsafeMutableRawPointer
    private(set) var connections: [ObjectIdentifier: Connection] = [:]
    private var timer: DispatchSourceTimer?
    private let resolution: Duration

    private static let key = DispatchSpecificKey<ObjectIdentifier>()

    init(index: Int, readBufferSize: Int, resolution: Duration) {
        queue = DispatchQueue(label: "websocket.loop.\(index)")
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readBufferSize, alignment: 16)
        iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: EventLoop.iovecCapacity)
        headerScratch = UnsafeMutableRawPointer.allocate(byteCount: 16 * EventLoop.iovecCapacity, alignment: 16)
        self.resolution = resolution
        queue.setSpecific(key: EventLoop.key, value: ObjectIdentifier(self))
    }

    deinit {
        readBuffer.deallocate()
        iovecs.deallocate()
        headerScratch.deallocate()
    }

    /// Whether the caller is running on this loop's queue.
    var isCurrent: Bool { DispatchQueue.getSpecific(key: EventLoop.key) == ObjectIdentifier(self) }

    /// Runs `body` now if on the queue, else soon on it.
    func execute(_ body: @escaping @Sendable () -> Void) {
        if isCurrent { body() } else { queue.async(execute: body) }
    }

    /// Starts the deadline timer.
    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = DispatchTimeInterval.nanoseconds(Int(resolution.nanoseconds))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(5))
        timer.setEventHandler { [unowned self] in self.tick() }
        timer.resume()
        self.timer = timer
    }

    /// Stops the deadline timer. On the queue.
    func stop() {
        timer?.cancel()
        timer = nil
    }

    func add(_ connection: Connection) { connections[ObjectIdentifier(connection)] = connection }
    func remove(_ connection: Connection) { connections[ObjectIdentifier(connection)] = nil }

    private func tick() {
        let now = Monotonic.now
        for connection in connections.values { connection.checkDeadlines(now: now) }
    }
}

/// Monotonic time in nanoseconds.
enum Monotonic {
    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
}
