import Dispatch
import WebSocketCore
import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

/// Where a Redis server is, from `redis://[user:password@]host[:port][/db]`.
public struct RedisAddress: Sendable, Hashable {
    /// The host name or address.
    public var host: String
    /// The port (6379 by default).
    public var port: Int
    /// The ACL user, if any (`AUTH user password`).
    public var user: String?
    /// The password, if any.
    public var password: String?

    /// Parses a `redis://` URL; pub/sub ignores the database number, so a `/db` part is accepted
    /// and not used.
    public init(_ url: String) throws(RedisError) {
        guard url.hasPrefix("redis://") else { throw RedisError("\(url): not a redis:// URL") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let name = credentials[..<colon]
                user = name.isEmpty ? nil : String(name)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        var hostPart = rest
        port = 6379
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { guard let number = Int(after.dropFirst()) else { throw RedisError("\(url): bad port") }; port = number }
        } else if let colon = rest.lastIndex(of: ":") {
            hostPart = rest[..<colon]
            guard let number = Int(rest[rest.index(after: colon)...]) else { throw RedisError("\(url): bad port") }
            port = number
        }
        guard !hostPart.isEmpty, (1...65535).contains(port) else { throw RedisError("\(url): no host, or a port outside 1-65535") }
        host = String(hostPart)
    }

    /// The commands that authenticate a new connection, if it needs any.
    var authentication: [UInt8]? {
        guard let password else { return nil }
        var output: [UInt8] = []
        RESPCommand.encode((user.map { [Array("AUTH".utf8), Array($0.utf8)] } ?? [Array("AUTH".utf8)]) + [Array(password.utf8)], into: &output)
        return output
    }
}

/// What went wrong with Redis.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One connection to Redis on a serial queue: connects (every address, a timeout), writes
/// commands, parses replies and pushes, and reports the end once. Non-blocking, with Dispatch
/// sources on the queue for its one socket.
///
/// `@unchecked Sendable`: used on `queue` only.
final class RedisConnection: @unchecked Sendable {
    private let queue: DispatchQueue
    private var fd: Int32 = -1
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var parser = RESPParser()
    private var output: [UInt8] = []
    private var closed = false
    private let onValue: @Sendable (RESPValue) -> Void
    private let onEnd: @Sendable (String) -> Void

    /// Connects to `address`; `onReady` runs once connected, `onValue` with each value
    /// received, `onEnd` once with why the connection ended (also when it never opened).
    init(address: RedisAddress, timeout: Duration, queue: DispatchQueue, onReady: @escaping @Sendable (RedisConnection) -> Void,
         onValue: @escaping @Sendable (RESPValue) -> Void, onEnd: @escaping @Sendable (String) -> Void) {
        self.queue = queue
        self.onValue = onValue
        self.onEnd = onEnd
        Resolver.resolve(host: address.host, port: address.port) { [self] result in
            queue.async { [self] in
                guard !closed else { return }
                switch result {
                case .failure(let error):
                    end("\(error)")
                case .success(let addresses):
                    let deadline = DispatchTime.now() + .nanoseconds(Int(timeout.nanoseconds))
                    ConnectAttempts(host: address.host, addresses: addresses, deadline: deadline, queue: queue) { [self] outcome in
                        switch outcome {
                        case .failure(let error):
                            end("\(error)")
                        case .success(let connected):
                            guard !closed else { Glibc.close(connected.fd); return }
                            opened(connected.fd)
                            if let authentication = address.authentication { send(authentication) }
                            onReady(self)
                        }
                    }.start()
                }
            }
        }
    }

    private func opened(_ fd: Int32) {
        self.fd = fd
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [weak self] in self?.readable() }
        source.setCancelHandler { Glibc.close(fd) }
        source.resume()
        readSource = source
    }

    /// Queues a command (encoded RESP) and writes what the socket takes. On the queue.
    func send(_ bytes: [UInt8]) {
        guard !closed else { return }
        output += bytes
        if writeSource == nil { flush() }
    }

    private func flush() {
        while !output.isEmpty {
            let n = output.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                output.removeFirst(n)
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if writeSource == nil {
                    let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
                    source.setEventHandler { [weak self] in self?.flush() }
                    source.resume()
                    writeSource = source
                }
                return
            }
            end("send: \(SystemError(call: "send", errno: errno))")
            return
        }
        writeSource?.cancel()
        writeSource = nil
    }

    private func readable() {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return end("Redis closed the connection") }
        if n < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            return end("recv: \(SystemError(call: "recv", errno: errno))")
        }
        parser.receive(buffer[0..<n])
        do {
            while !closed, let value = try parser.next() { onValue(value) }
        } catch {
            end("\(error)")
        }
    }

    /// Closes the connection and reports `reason`, once. On the queue.
    func end(_ reason: String) {
        guard !closed else { return }
        closed = true
        writeSource?.cancel()
        writeSource = nil
        if let readSource {
            readSource.cancel()  // closes the descriptor in its cancel handler
        } else if fd >= 0 {
            Glibc.close(fd)
        }
        readSource = nil
        onEnd(reason)
    }
}
