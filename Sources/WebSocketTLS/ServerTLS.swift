import COpenSSL
import Synchronization
import WebSocketServer

/// A server's TLS: the contexts made from its configuration, swapped whole on reload, and a
/// ``TLSTransport`` for each accepted socket.
final class ServerTLS: SecureTransportFactory {
    private let configuration: TLSServerConfiguration
    private let current: Mutex<ContextSet>

    init(_ configuration: TLSServerConfiguration) throws {
        self.configuration = configuration
        current = Mutex(try ContextSet(configuration))
        // The SNI callback finds this object through its argument, unretained: every
        // transport made here keeps it alive for as long as its handshake can call back.
        current.withLock { $0.install(owner: self) }
    }

    func makeServerTransport(fd: Int32) -> any Transport {
        let set = current.withLock { $0 }
        return TLSTransport(context: set.contexts[0], fd: fd, role: .server, keepAlive: self)
    }

    func reload() throws {
        let fresh = try ContextSet(configuration)
        fresh.install(owner: self)
        // Open connections hold their own references to the old contexts, which OpenSSL frees
        // with the last of them.
        current.withLock { $0 = fresh }
    }

    /// The context whose certificate is valid for `serverName`, other than the default one.
    fileprivate func context(for serverName: UnsafePointer<CChar>) -> OpaquePointer? {
        // The set stays alive while the handshake holds the context it returns.
        let set = current.withLock { $0 }
        let length = strlen(serverName)
        for (context, leaf) in zip(set.contexts, set.leaves).dropFirst()
        where X509_check_host(leaf, serverName, length, 0, nil) == 1 {
            return context
        }
        return nil
    }
}

/// One context per certificate, made together from one reading of the configuration.
/// `@unchecked Sendable`: immutable once made; OpenSSL contexts may be shared between threads
/// once configured.
private final class ContextSet: @unchecked Sendable {
    let contexts: [OpaquePointer]
    /// Each context's leaf certificate, for matching SNI names.
    let leaves: [OpaquePointer]

    init(_ configuration: TLSServerConfiguration) throws(TLSError) {
        guard !configuration.certificates.isEmpty else { throw TLSError("TLSServerConfiguration has no certificate") }
        var contexts: [OpaquePointer] = [], leaves: [OpaquePointer] = []
        do {
            for certificate in configuration.certificates {
                let context = try OpenSSL.makeContext(server: true, minimumVersion: configuration.minimumVersion)
                contexts.append(context)
                leaves.append(try OpenSSL.use(certificate, in: context))
                SSL_CTX_set_alpn_select_cb(context, selectHTTP11, nil)
                // A session resumed on another context must not skip its checks.
                _ = SSL_CTX_set_session_id_context(context, "websocket", 9)
                switch configuration.clientCertificates {
                case .none:
                    break
                case .optional(let roots):
                    try OpenSSL.trust(roots, in: context, acceptingFromClients: true)
                    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
                case .required(let roots):
                    try OpenSSL.trust(roots, in: context, acceptingFromClients: true)
                    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
                }
            }
        } catch {
            contexts.forEach { SSL_CTX_free($0) }
            leaves.forEach { X509_free($0) }
            throw error
        }
        self.contexts = contexts
        self.leaves = leaves
    }

    /// Points the default context's SNI callback at `owner`, when there is more than one certificate.
    func install(owner: ServerTLS) {
        guard contexts.count > 1 else { return }
        cws_ssl_ctx_set_servername_callback(contexts[0], chooseCertificate, Unmanaged.passUnretained(owner).toOpaque())
    }

    deinit {
        contexts.forEach { SSL_CTX_free($0) }
        leaves.forEach { X509_free($0) }
    }
}

/// SNI (RFC 6066 §3): moves the handshake to the context whose certificate is valid for the
/// name the client asked for; without a name, or for an unknown one, the default stays.
private func chooseCertificate(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let argument, let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return SSL_TLSEXT_ERR_OK }
    let owner = Unmanaged<ServerTLS>.fromOpaque(argument).takeUnretainedValue()
    if let context = owner.context(for: name) { _ = SSL_set_SSL_CTX(ssl, context) }
    return SSL_TLSEXT_ERR_OK
}

/// ALPN (RFC 7301 §3.2): answers `http/1.1` when the client offers it; a client that offers
/// only protocols this server does not speak (h2 alone, say) gets the fatal
/// no_application_protocol alert. A client that sends no ALPN is not asked.
private func selectHTTP11(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                          _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
                          _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let out, let outLength, let offered else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    let wanted: [UInt8] = Array("http/1.1".utf8)
    var index = 0
    let end = Int(offeredLength)
    while index < end {
        let length = Int(offered[index])
        let start = index + 1
        guard start + length <= end else { break }
        if length == wanted.count, (0..<length).allSatisfy({ offered[start + $0] == wanted[$0] }) {
            out.pointee = offered + start
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        index = start + length
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL
}
