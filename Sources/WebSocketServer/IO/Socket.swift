#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Thin wrappers over the POSIX socket calls the server uses.
enum Socket {
    /// Resolves a numeric host (or `localhost`, `0.0.0.0`, `::`) and port into a `sockaddr_storage`.
    static func makeAddress(host: String, port: Int) throws -> (sockaddr_storage, socklen_t) {
        let name = host == "localhost" ? "127.0.0.1" : host
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr = v4
            return stored(address)
        }
        let stripped = name.hasPrefix("[") && name.hasSuffix("]") ? String(name.dropFirst().dropLast()) : name
        if inet_pton(AF_INET6, stripped, &v6) == 1 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = v6
            return stored(address)
        }
        throw SystemError(call: "inet_pton(\(host))", errno: EINVAL)
    }

    /// A `sockaddr_in` or `sockaddr_in6` in a `sockaddr_storage`, with its length.
    private static func stored<Address>(_ address: Address) -> (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        withUnsafeBytes(of: address) { raw in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) }
        }
        return (storage, socklen_t(MemoryLayout<Address>.size))
    }

    /// Reads a `sockaddr` back into a ``SocketAddress``.
    static func address(from storage: sockaddr_storage) -> SocketAddress? {
        withUnsafeBytes(of: storage) { raw -> SocketAddress? in
            switch Int32(storage.ss_family) {
            case AF_INET:
                let sin = raw.loadUnaligned(as: sockaddr_in.self)
                return SocketAddress(host: presentation(of: sin.sin_addr, family: AF_INET), port: Int(UInt16(bigEndian: sin.sin_port)))
            case AF_INET6:
                let sin6 = raw.loadUnaligned(as: sockaddr_in6.self)
                return SocketAddress(host: presentation(of: sin6.sin6_addr, family: AF_INET6), port: Int(UInt16(bigEndian: sin6.sin6_port)))
            default:
                return nil
            }
        }
    }

    /// The text form of an IPv4 or IPv6 address (`inet_ntop`).
    private static func presentation<Address>(of address: Address, family: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))  // room for either family
        withUnsafeBytes(of: address) { _ = inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The local address a socket is bound to.
    static func localAddress(of fd: Int32) -> SocketAddress? { address(of: fd) { getsockname($0, $1, $2) } }

    /// The peer address of a connected socket.
    static func remoteAddress(of fd: Int32) -> SocketAddress? { address(of: fd) { getpeername($0, $1, $2) } }

    /// The address `call` (getsockname or getpeername) reports for `fd`.
    private static func address(of fd: Int32, _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        return result == 0 ? address(from: storage) : nil
    }

    /// Creates a non-blocking listening socket.
    static func listen(host: String, port: Int, backlog: Int32, reusePort: Bool) throws -> Int32 {
        let (storage, length) = try makeAddress(host: host, port: port)
        let fd = socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(call: "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort {
            guard setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                let error = SystemError(call: "setsockopt(SO_REUSEPORT)", errno: errno)
                close(fd)
                throw error
            }
        }
        var address = storage
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let error = SystemError(call: "bind", errno: errno)
            close(fd)
            throw error
        }
        // Accept a connection only once its first bytes (the request) have arrived: the server's
        // first read then finds them, and a client that connects and sends nothing costs no
        // descriptor until the kernel gives up on it.
        var deferSeconds: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, &deferSeconds, socklen_t(MemoryLayout<Int32>.size))
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = SystemError(call: "listen", errno: errno)
            close(fd)
            throw error
        }
        return fd
    }

    /// Sets `TCP_NODELAY` and non-blocking mode on an accepted or adopted socket.
    static func configureAccepted(_ fd: Int32, noDelay: Bool) {
        if noDelay {
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 && flags & O_NONBLOCK == 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }
}
