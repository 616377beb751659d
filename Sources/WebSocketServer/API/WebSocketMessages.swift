import Dispatch
import Synchronization
import WebSocketCore

/// The messages of a ``WebSocket`` as an async sequence; see ``WebSocket/messages``.
public struct WebSocketMessages: AsyncSequence, Sendable {
    /// Each element is a whole message.
    public typealias Element = Message
    /// Iteration never throws; it ends when the connection closes.
    public typealias Failure = Never

    let state: MessageSequenceBuffer

    /// Iterates over the messages.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let state: MessageSequenceBuffer
        /// The next message, or nil once the connection has closed and every message was taken.
        public mutating func next() async -> Message? { await state.next() }
        /// The next message, or nil at the end.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> Message? { await state.next() }
    }

    /// Makes an iterator. Iterate from one task at a time.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(state: state) }
}

/// The buffer between the connection's queue and an async consumer.
final class MessageSequenceBuffer: Sendable {
    private struct Inner {
        var buffer: [Message] = []
        var head = 0
        var waiter: CheckedContinuation<Message?, Never>?
        var finished = false
        var paused = false
    }
    private let inner = Locked(Inner())
    let limit: Int
    private let socketBox = Locked<WebSocket?>(nil)

    init(limit: Int) { self.limit = limit }

    var socket: WebSocket? {
        get { socketBox.withLock { $0 } }
        set { socketBox.withLock { $0 = newValue } }
    }

    /// Adds a message; returns true when the producer should pause.
    func push(_ message: Message) -> Bool {
        let (waiter, pause): (CheckedContinuation<Message?, Never>?, Bool) = inner.withLock { s in
            if let waiter = s.waiter {
                s.waiter = nil
                return (waiter, false)
            }
            s.buffer.append(message)
            let shouldPause = s.buffer.count - s.head >= limit
            if shouldPause { s.paused = true }
            return (nil, shouldPause)
        }
        waiter?.resume(returning: message)
        return pause
    }

    func finish() {
        let waiter = inner.withLock { s -> CheckedContinuation<Message?, Never>? in
            s.finished = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume(returning: nil)
        socketBox.withLock { $0 = nil }  // break the cycle
    }

    func next() async -> Message? {
        await withCheckedContinuation { continuation in
            let (message, done, resume): (Message?, Bool, Bool) = inner.withLock { s in
                if s.head < s.buffer.count {
                    let m = s.buffer[s.head]
                    s.head += 1
                    if s.head == s.buffer.count {
                        s.buffer.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                    var resume = false
                    if s.paused && s.buffer.count - s.head < limit / 2 {
                        s.paused = false
                        resume = true
                    }
                    return (m, false, resume)
                }
                if s.finished { return (nil, true, false) }
                s.waiter = continuation
                return (nil, false, false)
            }
            if resume { socket?.consumerCaughtUp() }
            if let message {
                continuation.resume(returning: message)
            } else if done {
                continuation.resume(returning: nil)
            }
        }
    }
}
