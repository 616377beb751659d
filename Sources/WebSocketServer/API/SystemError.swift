#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An error from a system call, with the call's name and `errno`.
public struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The failing call, such as `bind`.
    public var call: String
    /// The `errno` value.
    public var errno: Int32

    /// An error of `call` with `errno`.
    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// `bind: Address already in use (errno 98)`.
    public var description: String {
        let message = strerror(errno).map { String(cString: $0) } ?? "unknown error"
        return "\(call): \(message) (errno \(errno))"
    }
}
