import COpenSSL
import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

/// TLS over a non-blocking socket: OpenSSL reads and writes the socket itself, and its
/// "want read" and "want write" become ``TransportStatus/wouldBlock(_:)``.
///
/// A server transport first looks at the first byte without taking it: a TLS connection
/// starts with a handshake record (22), an HTTP request with a letter. For the latter the
/// transport turns into plain TCP and reports ``TransportStatus/notTLS``, so the connection can
/// answer 400 instead of a TLS alert the client would not understand.
package final class TLSTransport: Transport {
    enum Role { case server, client }

    private enum State {
        /// Server: the first byte has not arrived.
        case sniffing
        case handshaking
        case established
        /// Plain text on a TLS port: bytes pass through unencrypted for the refusal.
        case plaintext
        /// A fatal TLS error or a closed transport: nothing more goes through OpenSSL.
        case failed(WebSocketError)
    }

    package let fd: Int32
    private var ssl: OpaquePointer?
    private var state: State
    /// Keeps alive what OpenSSL's callbacks find through unretained pointers.
    private let keepAlive: AnyObject

    /// The socket BIO's method table, made once for the process (see `cws_socket_bio_method`).
    /// `nonisolated(unsafe)`: written once by Swift's thread-safe global initialisation, then
    /// only read.
    private nonisolated(unsafe) static let socketMethod = cws_socket_bio_method()

    /// A transport for `fd` with a new session of `context`.
    init(context: OpaquePointer, fd: Int32, role: Role, keepAlive: AnyObject, configure: (OpaquePointer) -> Void = { _ in }) {
        self.fd = fd
        self.keepAlive = keepAlive
        let ssl = SSL_new(context)
        self.ssl = ssl
        if let ssl, let method = TLSTransport.socketMethod, let bio = cws_socket_bio_new(method, fd) {
            SSL_set_bio(ssl, bio, bio)  // the session owns the BIO (one reference for both directions)
            if role == .server { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
            configure(ssl)
            state = role == .server ? .sniffing : .handshaking
        } else {
            state = .failed(.tls("cannot make a TLS session: \(OpenSSL.errors())"))
        }
    }

    /// Whether the handshake has finished, ever (the state moves on to a failure or a close).
    private var handshakeFinished = false

    /// True from the first byte until the handshake finishes, also once the handshake has
    /// failed: the connection counts a failed handshake when it closes.
    package var isHandshaking: Bool {
        if case .plaintext = state { return false }
        return !handshakeFinished
    }

    package var hasBufferedInput: Bool {
        guard case .established = state, let ssl else { return false }
        return SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1
    }

    package func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportStatus {
        switch state {
        case .plaintext:
            return SocketTransport.read(fd, into: buffer)
        case .failed(let error):
            return .failed(error)
        case .sniffing:
            var first: UInt8 = 0
            let n = recv(fd, &first, 1, Int32(MSG_PEEK))
            if n == 0 { return .endOfStream }
            if n < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return .wouldBlock(.readable) }
                return .failed(.transport(SystemError(call: "recv", errno: code)))
            }
            if (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) {
                state = .plaintext
                return .notTLS
            }
            state = .handshaking
        case .handshaking, .established:
            break
        }
        guard let ssl else { return .failed(.tls("no TLS session")) }
        ERR_clear_error()
        var total = 0
        // One call returns at most one record; go on while OpenSSL holds more (read-ahead can
        // bring many records in one read(2)) and the buffer has room.
        repeat {
            var n = 0
            let succeeded = SSL_read_ex(ssl, buffer.baseAddress! + total, buffer.count - total, &n) == 1
            noteHandshakeProgress(ssl)
            guard succeeded else {
                let status = failureStatus(of: ssl, call: "read")
                // What arrived before a failure goes first; a failure repeats on the next call.
                return total > 0 ? .moved(total) : status
            }
            total += n
        } while total < buffer.count && SSL_has_pending(ssl) == 1
        return .moved(total)
    }

    package func write(_ iovecs: UnsafeMutablePointer<iovec>, count: Int, scratch: UnsafeMutableRawBufferPointer) -> TransportStatus {
        switch state {
        case .plaintext: return SocketTransport.write(fd, iovecs, count: count)
        case .failed(let error): return .failed(error)
        case .sniffing, .handshaking, .established: break
        }
        guard let ssl else { return .failed(.tls("no TLS session")) }
        // OpenSSL encrypts one buffer per call: the front of the queue is put together in
        // `scratch`, up to one record (16 KiB), unless a single iovec can go as it is.
        let source: UnsafeRawPointer, length: Int
        if count == 1 || iovecs[0].iov_len >= scratch.count {
            source = UnsafeRawPointer(iovecs[0].iov_base!)
            length = min(iovecs[0].iov_len, scratch.count)
        } else {
            var filled = 0
            for index in 0..<count where filled < scratch.count {
                let take = min(iovecs[index].iov_len, scratch.count - filled)
                (scratch.baseAddress! + filled).copyMemory(from: iovecs[index].iov_base!, byteCount: take)
                filled += take
            }
            source = UnsafeRawPointer(scratch.baseAddress!)
            length = filled
        }
        ERR_clear_error()
        var written = 0
        let succeeded = SSL_write_ex(ssl, source, length, &written) == 1
        noteHandshakeProgress(ssl)
        return succeeded ? .moved(written) : failureStatus(of: ssl, call: "write")
    }

    /// Drives the handshake as far as the socket allows, without application data:
    /// `.moved(0)` once it is done. A client calls it before its first write, so that a failed
    /// verification is reported before the request is.
    package func handshake() -> TransportStatus {
        switch state {
        case .established: return .moved(0)
        case .failed(let error): return .failed(error)
        case .plaintext, .sniffing: return .notTLS
        case .handshaking: break
        }
        guard let ssl else { return .failed(.tls("no TLS session")) }
        ERR_clear_error()
        let succeeded = SSL_do_handshake(ssl) == 1
        noteHandshakeProgress(ssl)
        return succeeded ? .moved(0) : failureStatus(of: ssl, call: "handshake")
    }

    /// Moves to `.established` once the handshake is over, which a read or a write may finish.
    private func noteHandshakeProgress(_ ssl: OpaquePointer) {
        if case .handshaking = state, SSL_is_init_finished(ssl) == 1 {
            state = .established
            handshakeFinished = true
        }
    }

    /// What a failed `SSL_read_ex` or `SSL_write_ex` means.
    private func failureStatus(of ssl: OpaquePointer, call: String) -> TransportStatus {
        let code = errno
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_WANT_READ:
            return .wouldBlock(.readable)
        case SSL_ERROR_WANT_WRITE:
            return .wouldBlock(.writable)
        case SSL_ERROR_ZERO_RETURN:
            return .endOfStream
        case SSL_ERROR_SYSCALL:
            if ERR_peek_error() == 0 && code == 0 {
                state = .failed(.transport(SystemError(call: call, errno: EPIPE)))
                return .endOfStream
            }
            _ = OpenSSL.errors()
            let error = WebSocketError.transport(SystemError(call: call, errno: code))
            state = .failed(error)
            return .failed(error)
        default:
            var reason = OpenSSL.errors()
            let verification = SSL_get_verify_result(ssl)
            if verification != X509_V_OK, let text = X509_verify_cert_error_string(verification) {
                reason += " (\(String(cString: text)))"
            }
            let error = WebSocketError.tls(reason)
            state = .failed(error)
            return .failed(error)
        }
    }

    package func shutdownWrite() {
        if case .established = state, let ssl {
            // close_notify (RFC 8446 §6.1); the peer's answer is not waited for.
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        }
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    /// Whether the peer's close_notify has arrived (RFC 8446 §6.1): it closed cleanly, nothing
    /// was cut off.
    package var receivedCloseNotify: Bool {
        guard let ssl else { return false }
        return SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN != 0
    }

    package func close() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
        state = .failed(.transport(SystemError(call: "read", errno: EBADF)))
        _ = Glibc.close(fd)
    }

    deinit {
        if let ssl { SSL_free(ssl) }
    }

    package var tlsInfo: TLSInfo? {
        guard case .established = state, let ssl else { return nil }
        let version = String(cString: SSL_get_version(ssl))
        let cipher = cws_ssl_get_cipher_name(ssl).map { String(cString: $0) } ?? ""
        let serverName = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
        var subject: String?
        if let certificate = SSL_get1_peer_certificate(ssl) {
            defer { X509_free(certificate) }
            subject = OpenSSL.text(of: X509_get_subject_name(certificate))
        }
        return TLSInfo(version: version, cipher: cipher, serverName: serverName, peerSubject: subject)
    }
}
