import Dispatch
import WebSocketCore
#if canImport(Glibc)
import Glibc
#endif

/// What a client's connections share, and how each one is opened: the host is resolved off
/// the loops, each address is tried in turn until one accepts the TCP connection within the
/// connect timeout, and the WebSocket handshake starts on it. The `WebSocketClient` module's
/// public API sits on this.
package final class ClientConnector: Sendable {
    let endpoint: Endpoint

    /// A connector whose connections run on `eventLoops` with `settings`.
    package init(settings: ConnectionSettings, eventLoops: EventLoops) {
        endpoint = Endpoint(settings: settings, eventLoops: eventLoops)
    }

    /// The loops the connections run on.
    package var eventLoops: EventLoops { endpoint.eventLoops }

    /// Connects to `url` and runs the opening handshake; `opening.finish` reports the open
    /// WebSocket or why there is none.
    ///
    /// - Parameters:
    ///   - makeTransport: wraps the connected socket (TLS for `wss://`); nil for plain TCP.
    package func connect(to url: WebSocketURL, opening: ClientOpening, connectTimeout: Duration,
                         makeTransport: (@Sendable (Int32) -> any Transport)?) {
        let place = endpoint.pickLoop()
        let endpoint = self.endpoint
        let deadline = DispatchTime.now() + .nanoseconds(Int(connectTimeout.nanoseconds))
        Resolver.resolve(host: url.host, port: url.port) { result in
            switch result {
            case .failure(let error):
                opening.finish(.failure(error))
            case .success(let addresses):
                place.loop.queue.async {
                    let attempts = ConnectAttempts(host: url.host, addresses: addresses, deadline: deadline, queue: place.loop.queue) { outcome in
                        switch outcome {
                        case .failure(let error):
                            opening.finish(.failure(error))
                        case .success(let (fd, address)):
                            let transport = makeTransport?(fd) ?? SocketTransport(fd: fd)
                            endpoint.metrics.openConnections.add(1, ordering: .relaxed)
                            Connection(transport: transport, on: place, endpoint: endpoint, remoteAddress: address).startClient(opening)
                        }
                    }
                    attempts.start()
                }
            }
        }
    }
}

/// `getaddrinfo` on a global queue, so that a slow DNS server never holds a loop.
package enum Resolver {
    /// An address to connect to.
    package struct Address: Sendable {
        var storage: sockaddr_storage
        var length: socklen_t
        var family: Int32 { Int32(storage.ss_family) }
    }

    /// Resolves `host` (a name, or an IPv4 or IPv6 literal, which resolves at once) and calls
    /// `completion` with its addresses in the order `getaddrinfo` gives them (RFC 6724's).
    package static func resolve(host: String, port: Int, completion: @escaping @Sendable (Result<[Address], WebSocketClientError>) -> Void) {
        if let literal = try? Socket.makeAddress(host: host, port: port), host != "localhost" {
            completion(.success([Address(storage: literal.0, length: literal.1)]))
            return
        }
        DispatchQueue.global().async {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_flags = AI_ADDRCONFIG
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0, let first = list else {
                let reason = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
                completion(.failure(.resolutionFailed(host: host, reason: reason)))
                return
            }
            defer { freeaddrinfo(first) }
            var addresses: [Address] = []
            var entry: UnsafeMutablePointer<addrinfo>? = first
            while let info = entry?.pointee {
                if let source = info.ai_addr, info.ai_family == AF_INET || info.ai_family == AF_INET6 {
                    var storage = sockaddr_storage()
                    withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: Int(info.ai_addrlen))) }
                    addresses.append(Address(storage: storage, length: info.ai_addrlen))
                }
                entry = info.ai_next
            }
            completion(addresses.isEmpty ? .failure(.resolutionFailed(host: host, reason: "no IPv4 or IPv6 address")) : .success(addresses))
        }
    }
}

/// Tries each address in turn with a non-blocking connect, on a loop's queue, until one
/// connects or the deadline passes. Each attempt waits for writability with a Dispatch source of
/// its own (a connection has no place in the loop's epoll set until it is connected).
package final class ConnectAttempts: @unchecked Sendable {
    // `@unchecked`: used only on `queue`.
    package typealias Outcome = Result<(fd: Int32, address: SocketAddress?), WebSocketClientError>

    private let host: String
    private var addresses: ArraySlice<Resolver.Address>
    private let queue: DispatchQueue
    private let completion: (Outcome) -> Void
    private var failures: [WebSocketClientError.ConnectAttempt] = []
    private var current: (fd: Int32, address: SocketAddress?, source: DispatchSourceWrite)?
    private var timer: DispatchSourceTimer?
    private let deadline: DispatchTime
    private var done = false

    package init(host: String, addresses: [Resolver.Address], deadline: DispatchTime, queue: DispatchQueue, completion: @escaping (Outcome) -> Void) {
        self.host = host
        self.addresses = addresses[...]
        self.deadline = deadline
        self.queue = queue
        self.completion = completion
    }

    /// Starts the first attempt and the deadline. On the queue.
    package func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: deadline)
        timer.setEventHandler { [self] in
            abandonCurrent()
            finish(.failure(.connectTimedOut(host: host)))
        }
        timer.resume()
        self.timer = timer
        tryNext()
    }

    private func tryNext() {
        guard !done else { return }
        guard let address = addresses.popFirst() else {
            finish(.failure(.connectFailed(host: host, attempts: failures)))
            return
        }
        let shown = Socket.address(from: address.storage)
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            failed(shown, SystemError(call: "socket", errno: errno))
            return
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = address.storage
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, address.length) }
        }
        if result != 0 && errno != EINPROGRESS {
            let error = SystemError(call: "connect", errno: errno)
            Glibc.close(fd)
            failed(shown, error)
            return
        }
        // Connected, or connecting: either way the socket turns writable when it is settled.
        let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { [self] in settled() }
        current = (fd, shown, source)
        source.resume()
    }

    /// The pending connect has succeeded or failed (SO_ERROR says which).
    private func settled() {
        guard let (fd, address, source) = current else { return }
        current = nil
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        // The fd outlives the source only once its cancel handler has run (Dispatch's rule).
        if error == 0 {
            source.setCancelHandler { [self] in finish(.success((fd, address))) }
        } else {
            source.setCancelHandler { [self] in
                Glibc.close(fd)
                failed(address, SystemError(call: "connect", errno: error))
            }
        }
        source.cancel()
    }

    private func failed(_ address: SocketAddress?, _ error: SystemError) {
        failures.append(.init(address: address ?? SocketAddress(host: host, port: 0), error: error))
        tryNext()
    }

    /// Stops the attempt under way (at the deadline), closing its socket.
    private func abandonCurrent() {
        guard let (fd, _, source) = current else { return }
        current = nil
        source.setCancelHandler { Glibc.close(fd) }
        source.cancel()
    }

    private func finish(_ outcome: Outcome) {
        guard !done else {
            if case .success(let connected) = outcome { Glibc.close(connected.fd) }  // connected after the deadline
            return
        }
        done = true
        timer?.cancel()
        timer = nil
        completion(outcome)
    }
}
