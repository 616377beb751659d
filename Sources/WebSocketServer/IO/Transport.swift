import CWebSocketShims
#if canImport(Glibc)
import Glibc
#endif

/// The byte stream under a connection. The connection code reads, writes and closes through
/// this seam only, so that TLS (`wss://`) can slide in underneath without touching the
/// WebSocket layer; today there is plain TCP.
///
/// Results follow the system calls: a count of bytes, 0 for end of stream on read, or -1 with
/// `errno` set (`EAGAIN` when the socket has nothing to give or no room).
protocol Transport: AnyObject {
    /// The descriptor the event loop watches.
    var fd: Int32 { get }
    /// Reads into `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int
    /// Writes the bytes described by `count` iovecs, in order, as far as the socket takes them.
    func write(_ iovecs: UnsafeMutablePointer<iovec>, count: Int) -> Int
    /// Ends the outgoing direction (TCP FIN; a TLS close_notify first).
    func shutdownWrite()
    /// Releases the descriptor.
    func close()
}

/// Plain TCP on a non-blocking socket.
final class SocketTransport: Transport {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        Glibc.read(fd, buffer.baseAddress, buffer.count)
    }

    func write(_ iovecs: UnsafeMutablePointer<iovec>, count: Int) -> Int {
        var message = msghdr()
        message.msg_iov = iovecs
        message.msg_iovlen = count
        // MSG_NOSIGNAL: a peer that went away gives EPIPE, never a SIGPIPE that kills the process.
        return Glibc.sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
    }

    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    func close() { _ = Glibc.close(fd) }
}
