import CWebSocketShims
#if canImport(Glibc)
import Glibc
#endif

/// What a transport call did.
package enum TransportStatus {
    /// Bytes moved: read into the buffer (more than 0), or taken from the iovecs.
    case moved(Int)
    /// The peer ended the stream (TCP FIN; for TLS, close_notify or a FIN).
    case endOfStream
    /// Nothing can move until the socket is ready for `Readiness`. TLS may need the socket to
    /// be writable to go on reading (a handshake message to send) or readable to go on
    /// writing (a handshake message to receive).
    case wouldBlock(Readiness)
    /// The peer sent plain text to a TLS port. The transport now passes bytes through
    /// unencrypted, so that a short HTTP refusal can reach the peer.
    case notTLS
    /// The stream failed.
    case failed(WebSocketError)

    /// What a socket must become before a blocked call can go on.
    package enum Readiness {
        case readable, writable
    }
}

/// The byte stream under a connection. The connection code reads, writes and closes through
/// this seam only, so that plain TCP and TLS (`wss://`) serve the same WebSocket layer.
///
/// A transport belongs to one connection and is used on its loop's queue only.
package protocol Transport: AnyObject {
    /// The descriptor the event loop watches.
    var fd: Int32 { get }
    /// Reads into `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportStatus
    /// Whether bytes were read from the socket but not yet returned by ``read(into:)``: epoll
    /// will not announce them, so the reader must come back for them by itself.
    var hasBufferedInput: Bool { get }
    /// Writes the bytes described by `count` iovecs, in order, as far as the socket takes them.
    /// A transport that has to put the bytes together first (TLS encrypts one buffer at a time)
    /// may use `scratch`, which the loop owns; after `.wouldBlock`, the next call starts with
    /// the same bytes.
    func write(_ iovecs: UnsafeMutablePointer<iovec>, count: Int, scratch: UnsafeMutableRawBufferPointer) -> TransportStatus
    /// Ends the outgoing direction: a TLS close_notify, then the TCP FIN.
    func shutdownWrite()
    /// Releases the descriptor and everything the transport holds.
    func close()
    /// The TLS session's parameters, once its handshake is done; nil for plain TCP.
    var tlsInfo: TLSInfo? { get }
    /// Whether a TLS handshake has begun and not finished; false for plain TCP.
    var isHandshaking: Bool { get }
}

/// Plain TCP on a non-blocking socket.
package final class SocketTransport: Transport {
    package let fd: Int32

    package init(fd: Int32) { self.fd = fd }

    package func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportStatus {
        SocketTransport.read(fd, into: buffer)
    }

    package var hasBufferedInput: Bool { false }

    package func write(_ iovecs: UnsafeMutablePointer<iovec>, count: Int, scratch: UnsafeMutableRawBufferPointer) -> TransportStatus {
        SocketTransport.write(fd, iovecs, count: count, scratch: scratch)
    }

    package func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    package func close() { _ = Glibc.close(fd) }

    package var tlsInfo: TLSInfo? { nil }

    package var isHandshaking: Bool { false }

    /// `recv(2)` on `fd`, as a status. Not `read(2)`: its file-system layer (`vfs_read`, the
    /// file position lock) cost about 0.1 us a message more in the kernel (`perf`, echo of 1 KiB).
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> TransportStatus {
        while true {
            let n = cws_recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 { return .moved(n) }
            if n == 0 { return .endOfStream }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock(.readable)
            default: return .failed(.transport(SystemError(call: "recv", errno: errno)))
            }
        }
    }

    /// The iovecs written to `fd`, as a status. One iovec goes out with one `send(2)`; several
    /// that fit in `scratch` are copied there and sent with one `send(2)`: `sendmsg(2)` costs
    /// about 0.2 us more in the kernel (the message header and iovecs copied in and checked;
    /// `perf`, echo of 1 KiB), more than copying a few KiB; larger batches go out with
    /// `sendmsg(2)`, payloads in place.
    package static func write(_ fd: Int32, _ iovecs: UnsafeMutablePointer<iovec>, count: Int, scratch: UnsafeMutableRawBufferPointer) -> TransportStatus {
        if count == 1 { return send(fd, UnsafeRawBufferPointer(start: iovecs[0].iov_base, count: iovecs[0].iov_len)) }
        var total = 0
        for i in 0..<count { total += iovecs[i].iov_len }
        guard total <= scratch.count else { return write(fd, iovecs, count: count) }
        var at = 0
        for i in 0..<count where iovecs[i].iov_len > 0 {
            (scratch.baseAddress! + at).copyMemory(from: iovecs[i].iov_base, byteCount: iovecs[i].iov_len)
            at += iovecs[i].iov_len
        }
        return send(fd, UnsafeRawBufferPointer(rebasing: scratch[0..<total]))
    }

    /// `send(2)` of `bytes` on `fd`, as a status.
    private static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> TransportStatus {
        while true {
            // MSG_NOSIGNAL: a peer that went away gives EPIPE, never a SIGPIPE that kills the process.
            let n = cws_send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .moved(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock(.writable)
            default: return .failed(.transport(SystemError(call: "send", errno: errno)))
            }
        }
    }

    /// `sendmsg(2)` of the iovecs on `fd`, as a status.
    package static func write(_ fd: Int32, _ iovecs: UnsafeMutablePointer<iovec>, count: Int) -> TransportStatus {
        var message = msghdr()
        message.msg_iov = iovecs
        message.msg_iovlen = count
        while true {
            // MSG_NOSIGNAL: a peer that went away gives EPIPE, never a SIGPIPE that kills the process.
            let n = cws_sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .moved(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock(.writable)
            default: return .failed(.transport(SystemError(call: "sendmsg", errno: errno)))
            }
        }
    }
}

/// Makes the transport of each connection a server accepts on a secured port. The TLS module
/// provides one; ``TransportSecurity`` carries it in the configuration.
package protocol SecureTransportFactory: AnyObject, Sendable {
    /// Wraps an accepted socket; the transport owns `fd` from now on.
    func makeServerTransport(fd: Int32) -> any Transport
    /// Reads the certificates again; connections accepted afterwards use them.
    func reload() throws
}
