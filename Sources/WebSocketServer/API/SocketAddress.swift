#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An IPv4 or IPv6 address and port.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The numeric host: `127.0.0.1`, `::1`.
    public var host: String
    /// The port.
    public var port: Int
    /// Whether this is an IPv6 address.
    public var isIPv6: Bool { host.contains(":") }

    /// Makes an address from a numeric host and a port.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `127.0.0.1:8080`, or `[::1]:8080` for IPv6.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
