import Dispatch
import Testing
import WebSocketCore
import WebSocketServer
@testable import WebSocketTLS
#if canImport(Glibc)
import Glibc
#endif

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A blocking TCP connection with timeouts, for driving the server from tests; TLS on top
/// once ``startTLS(_:serverName:)`` has run.
final class RawConnection {
    let fd: Int32
    /// The TLS session, after startTLS.
    private(set) var tls: TLSTransport?
    private var scratch: UnsafeMutableRawBufferPointer?

    /// Connects; `receiveBuffer` sets SO_RCVBUF first (set later, a smaller buffer than the
    /// window already advertised makes the kernel drop segments, the ACKs in them included).
    init(port: Int, host: String = "127.0.0.1", receiveBuffer: Int32? = nil) throws {
        let family = host.contains(":") ? AF_INET6 : AF_INET
        fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError("socket failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var result: Int32
        if family == AF_INET {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, host, &address.sin6_addr)
            result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        guard result == 0 else {
            close(fd)
            throw TestError("connect failed: errno \(errno)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        if let tls { tls.close() } else { close(fd) }
        scratch?.deallocate()
    }

    /// Runs a TLS handshake as the client; what the server showed of itself comes back.
    @discardableResult
    func startTLS(_ context: ClientTLS, serverName: String) throws -> TLSInfo {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let tls = context.makeTransport(fd: fd, host: serverName)
        self.tls = tls
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 16)
        switch tls.handshake() {
        case .moved: return tls.tlsInfo!
        case .failed(let error): throw TestError("TLS handshake failed: \(error)")
        case let other: throw TestError("TLS handshake did not finish: \(other)")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        if let tls, let scratch {
            var offset = 0
            while offset < bytes.count {
                let status = bytes[offset...].withUnsafeBytes { chunk in
                    var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: chunk.baseAddress!), iov_len: chunk.count)
                    return tls.write(&vector, count: 1, scratch: scratch)
                }
                guard case .moved(let n) = status else { throw TestError("TLS write failed: \(status)") }
                offset += n
            }
            return
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestError("send failed: errno \(errno)") }
            offset += n
        }
    }

    func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Reads what is available within `timeout` ms: nil on EOF or reset, [] on timeout.
    func read(timeout: Int32 = 5000, max: Int = 1 << 20) -> [UInt8]? {
        if tls?.hasBufferedInput != true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, timeout)
            if ready == 0 { return [] }
        }
        var buffer = [UInt8](repeating: 0, count: max)
        if let tls {
            let status = buffer.withUnsafeMutableBytes { tls.read(into: $0) }
            switch status {
            case .moved(let n): return Array(buffer[0..<n])
            case .wouldBlock: return []
            default: return nil
            }
        }
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return nil }
        return Array(buffer[0..<n])
    }

    /// Reads until EOF (true) or the timeout (false), collecting everything.
    func readToEnd(timeout: Int32 = 5000) -> (bytes: [UInt8], eof: Bool) {
        var all: [UInt8] = []
        let deadline = now() + Int(timeout)
        while now() < deadline {
            guard let chunk = read(timeout: Int32(max(1, deadline - now()))) else { return (all, true) }
            all += chunk
        }
        return (all, false)
    }

    /// Sends raw HTTP requests, half-closes (a connection kept alive would otherwise wait for
    /// more) and returns the responses up to the server's close.
    func exchange(_ request: String, timeout: Int32 = 5000) throws -> String {
        try write(request)
        shutdownWrite()
        return String(decoding: readToEnd(timeout: timeout).bytes, as: UTF8.self)
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with a reset (SO_LINGER 0).
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

func now() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// A WebSocket client built from WebSocketCore's client role over a blocking socket.
///
/// `@unchecked Sendable`: a test hands a client from one task to another but never uses it from
/// two at once.
final class TestClient: @unchecked Sendable {
    let connection: RawConnection
    var engine: WebSocketEngine
    let accepted: ClientHandshake.Accepted
    let responseHead: HTTPResponseHead

    /// What the server showed in the TLS handshake, for a client over TLS.
    private(set) var tlsInfo: TLSInfo?

    /// Connects and upgrades; with `tls`, over TLS with that context, asking for `serverName`.
    init(port: Int, host: String = "127.0.0.1", path: String = "/", subprotocols: [String] = [], extensions: [ExtensionOffer] = [],
         headers: HTTPHeaders = HTTPHeaders(), configuration: WebSocketEngine.Configuration = .init(), receiveBuffer: Int32? = nil,
         tls: (context: ClientTLS, serverName: String)? = nil) throws {
        connection = try RawConnection(port: port, host: host, receiveBuffer: receiveBuffer)
        if let tls { tlsInfo = try connection.startTLS(tls.context, serverName: tls.serverName) }
        // An IPv6 literal goes in brackets in Host (RFC 3986 §3.2.2).
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let handshake = ClientHandshake(host: authority, path: path, subprotocols: subprotocols, extensions: extensions, headers: headers)
        try connection.write(handshake.serializedRequest)
        var parser = HTTPHeadParser()
        var head: HTTPResponseHead?
        var rest: [UInt8] = []
        while head == nil {
            guard let chunk = connection.read(), !chunk.isEmpty else { throw TestError("no handshake response") }
            if case .complete(let h, let r) = try parser.parseResponse(chunk) {
                head = h
                rest = r
            }
        }
        responseHead = head!
        accepted = try handshake.validate(head!)
        var codec: (any ExtensionCodec)?
        if let element = accepted.extensions.first, let agreement = PerMessageDeflate.clientAgreement(from: element) {
            codec = DeflateCodec(agreement: agreement, role: .client)
        }
        engine = WebSocketEngine(role: .client, configuration: configuration, extensionCodec: codec)
        engine.receive(rest)
    }

    func send(_ message: Message, compress: Bool? = nil, fragmentSize: Int? = nil) throws {
        try engine.send(message, compress: compress, fragmentSize: fragmentSize)
        try connection.write(engine.takeOutboundBytes())
    }

    func send(_ text: String) throws { try send(.text(text)) }

    func ping(_ payload: [UInt8]) throws {
        try engine.ping(payload)
        try connection.write(engine.takeOutboundBytes())
    }

    func close(code: CloseCode = .normalClosure, reason: String = "") throws {
        try engine.close(code: code, reason: reason)
        try connection.write(engine.takeOutboundBytes())
    }

    /// The next event, reading as needed; nil on EOF or timeout.
    func next(timeout: Int32 = 5000) -> WebSocketEngine.Event? {
        let deadline = now() + Int(timeout)
        while true {
            if let event = engine.nextEvent() {
                // Answer pings and closes as a real client would.
                if engine.hasOutbound { try? connection.write(engine.takeOutboundBytes()) }
                return event
            }
            let left = deadline - now()
            guard left > 0, let chunk = connection.read(timeout: Int32(left)) else { return nil }
            if chunk.isEmpty { return nil }
            engine.receive(chunk)
        }
    }

    /// The next message, skipping pings and pongs.
    func nextMessage(timeout: Int32 = 5000) -> Message? {
        while let event = next(timeout: timeout) {
            if case .message(let m) = event { return m }
            if case .close = event { return nil }
            if case .failure = event { return nil }
        }
        return nil
    }

    /// Expects the next messages to be `expected`, in order. Each is compared as a whole and
    /// reported by its index, not printed (they may be megabytes).
    func expectMessages(_ expected: [Message], timeout: Int32 = 5000, sourceLocation: SourceLocation = #_sourceLocation) {
        for (i, message) in expected.enumerated() {
            let same = nextMessage(timeout: timeout) == message
            #expect(same, "message \(i)", sourceLocation: sourceLocation)
        }
    }

    /// Waits for the server to close the TCP connection.
    func waitForEOF(timeout: Int32 = 5000) -> Bool {
        let deadline = now() + Int(timeout)
        while now() < deadline {
            guard let chunk = connection.read(timeout: Int32(max(1, deadline - now()))) else { return true }
            if !chunk.isEmpty { engine.receive(chunk) }
        }
        return false
    }
}

/// Starts a server on 127.0.0.1, port 0, configured by `configure`, with routes added by `routes`.
func startServer(_ configure: (inout WebSocketServer.Configuration) -> Void = { _ in }, routes: (WebSocketServer) -> Void) throws -> (WebSocketServer, Int) {
    var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 0)
    configuration.loopCount = 2
    configure(&configuration)
    let server = WebSocketServer(configuration: configuration)
    routes(server)
    let address = try server.start()
    return (server, address.port)
}

/// Shuts `server` down and waits until it has, so that no server outlives its test.
func stop(_ server: WebSocketServer) {
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        await server.shutdown(timeout: .seconds(1))
        done.signal()
    }
    done.wait()
}

/// Polls `condition` until it holds or `timeout` ms pass.
func eventually(timeout: Int = 5000, _ condition: () -> Bool) -> Bool {
    let deadline = now() + timeout
    while now() < deadline {
        if condition() { return true }
        usleep(5000)
    }
    return condition()
}

/// A thread-safe box for values the server's callbacks record.
final class Recorder<Value: Sendable>: @unchecked Sendable {
    // `@unchecked`: every access goes through the lock.
    private var values: [Value] = []
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func append(_ value: Value) {
        pthread_mutex_lock(&lock); values.append(value); pthread_mutex_unlock(&lock)
    }
    var all: [Value] {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        return values
    }
}
