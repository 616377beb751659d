import COpenSSL
import WebSocketServer

/// What a client needs for TLS (`wss://`): whom to trust and, for mutual TLS, its own
/// certificate.
public struct TLSClientConfiguration: Sendable, Hashable {
    /// The certificate authorities a server's certificate must chain to.
    public enum TrustRoots: Sendable, Hashable {
        /// The system's store (`/etc/ssl/certs` on Debian and Ubuntu).
        case system
        /// The certificates in a PEM file or bytes (a private CA, a test CA).
        case certificates(PEMSource)
    }

    /// Whom the server's certificate must chain to.
    public var trustRoots: TrustRoots
    /// Whether the server's certificate is checked at all (its chain, and that it is valid for
    /// the host in the URL). Turn it off only to test against a throwaway certificate: without
    /// it, anyone on the path can read and change the traffic.
    public var verifiesServer: Bool
    /// A certificate to present when the server asks for one (mutual TLS).
    public var certificate: TLSCertificate?
    /// The oldest version accepted.
    public var minimumVersion: TLSVersion

    /// A configuration trusting `trustRoots` (the system's store by default) and checking the
    /// server's certificate against the host name.
    public init(trustRoots: TrustRoots = .system, verifiesServer: Bool = true, certificate: TLSCertificate? = nil,
                minimumVersion: TLSVersion = .v1_2) {
        self.trustRoots = trustRoots
        self.verifiesServer = verifiesServer
        self.certificate = certificate
        self.minimumVersion = minimumVersion
    }
}

/// A client's TLS context, made once from a ``TLSClientConfiguration`` and shared by every
/// connection it opens: each gets a session that sends the host name (SNI, RFC 6066 §3) and
/// checks the certificate against it (RFC 6125), with ALPN `http/1.1`.
///
/// `@unchecked Sendable`: the OpenSSL context is immutable once configured, and OpenSSL allows
/// sessions to be made from it on any thread.
package final class ClientTLS: @unchecked Sendable {
    private let context: OpaquePointer
    private let verifiesServer: Bool

    package init(_ configuration: TLSClientConfiguration) throws(TLSError) {
        let context = try OpenSSL.makeContext(server: false, minimumVersion: configuration.minimumVersion)
        do throws(TLSError) {
            switch configuration.trustRoots {
            case .system:
                guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                    throw TLSError("cannot load the system's trusted certificates: \(OpenSSL.errors())")
                }
            case .certificates(let roots):
                try OpenSSL.trust(roots, in: context, acceptingFromClients: false)
            }
            if let certificate = configuration.certificate {
                X509_free(try OpenSSL.use(certificate, in: context))
            }
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        let protocols: [UInt8] = [8] + Array("http/1.1".utf8)
        _ = SSL_CTX_set_alpn_protos(context, protocols, UInt32(protocols.count))
        SSL_CTX_set_verify(context, configuration.verifiesServer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        self.context = context
        verifiesServer = configuration.verifiesServer
    }

    deinit { SSL_CTX_free(context) }

    /// A transport for a connected socket to `host` (a name or an IP address literal, as in
    /// the URL); the transport owns `fd` from now on.
    package func makeTransport(fd: Int32, host: String) -> TLSTransport {
        let verifies = verifiesServer
        return TLSTransport(context: context, fd: fd, role: .client, keepAlive: self) { ssl in
            let isAddress = ClientTLS.isIPAddress(host)
            // SNI carries names only (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not
            // permitted").
            if !isAddress { _ = cws_ssl_set_tlsext_host_name(ssl, host) }
            guard verifies else { return }
            if isAddress {
                _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
            } else {
                _ = SSL_set1_host(ssl, host)
            }
        }
    }

    /// Whether `host` is an IPv4 or IPv6 literal (brackets already removed).
    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0 == "." || $0.isASCII && $0.isNumber })
    }
}
