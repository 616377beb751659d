import WebSocketServer

/// Where PEM text comes from: a file, read when the server starts (and again on reload), or
/// bytes the application already holds (from a secret store, say).
public enum PEMSource: Sendable, Hashable {
    /// A PEM file's path.
    case file(String)
    /// PEM text.
    case bytes([UInt8])

    /// PEM text given as a string.
    public static func string(_ pem: String) -> PEMSource { .bytes(Array(pem.utf8)) }

    /// How errors name it: the file's path, or "PEM bytes".
    var name: String {
        switch self {
        case .file(let path): path
        case .bytes: "PEM bytes"
        }
    }
}

/// A certificate chain (the leaf first, then the intermediates) and its private key.
public struct TLSCertificate: Sendable, Hashable {
    /// The chain, as one or more PEM `CERTIFICATE` blocks, the leaf first.
    public var chain: PEMSource
    /// The private key of the leaf certificate (PEM, unencrypted: PKCS#8, RSA or EC).
    public var privateKey: PEMSource

    /// A certificate from its chain and key.
    public init(chain: PEMSource, privateKey: PEMSource) {
        self.chain = chain
        self.privateKey = privateKey
    }

    /// A certificate from a chain file and a key file (what `certbot` writes as `fullchain.pem`
    /// and `privkey.pem`).
    public init(chainFile: String, privateKeyFile: String) {
        self.init(chain: .file(chainFile), privateKey: .file(privateKeyFile))
    }
}

/// The oldest TLS version a side accepts.
public enum TLSVersion: Sendable, Hashable {
    /// TLS 1.2 (RFC 5246) and 1.3: what every browser and library of the last decade speaks.
    case v1_2
    /// TLS 1.3 only (RFC 8446).
    case v1_3
}

/// Whether a server asks clients for a certificate (mutual TLS).
public enum ClientCertificatePolicy: Sendable, Hashable {
    /// No client certificate is asked for.
    case none
    /// A certificate is asked for; a client without one is let through, a client with one that
    /// `trustRoots` do not vouch for fails the handshake.
    case optional(trustRoots: PEMSource)
    /// A certificate that `trustRoots` vouch for is required; the handshake fails without one.
    case required(trustRoots: PEMSource)
}

/// What a server needs for TLS: its certificates and how strict to be.
///
/// ```swift
/// var configuration = WebSocketServer.Configuration(host: "0.0.0.0", port: 443)
/// configuration.transportSecurity = .tls(TLSServerConfiguration(certificateChainFile: "fullchain.pem", privateKeyFile: "privkey.pem"))
/// ```
///
/// The protocol is TLS 1.3, or 1.2 for an older client, with OpenSSL's default cipher suites and
/// groups; ALPN answers `http/1.1`; renegotiation and compression are off.
public struct TLSServerConfiguration: Sendable, Hashable {
    /// The certificates. The first is served by default; each other one is served to clients
    /// that ask (by SNI) for a host name it is valid for, wildcards included.
    public var certificates: [TLSCertificate]
    /// The oldest version accepted.
    public var minimumVersion: TLSVersion
    /// Whether clients must present certificates; their subject reaches the upgrade hook as
    /// `TLSInfo.peerSubject`.
    public var clientCertificates: ClientCertificatePolicy

    /// A configuration serving `certificates` (the first by default, the others by SNI).
    public init(certificates: [TLSCertificate], minimumVersion: TLSVersion = .v1_2, clientCertificates: ClientCertificatePolicy = .none) {
        self.certificates = certificates
        self.minimumVersion = minimumVersion
        self.clientCertificates = clientCertificates
    }

    /// A configuration serving one certificate, from a chain file and a key file.
    public init(certificateChainFile: String, privateKeyFile: String) {
        self.init(certificates: [TLSCertificate(chainFile: certificateChainFile, privateKeyFile: privateKeyFile)])
    }
}

extension TransportSecurity {
    /// TLS on the system OpenSSL with `configuration`. The certificates are read when the
    /// server starts; `WebSocketServer.reloadCertificates()` reads them again.
    public static func tls(_ configuration: TLSServerConfiguration) -> TransportSecurity {
        TransportSecurity { try ServerTLS(configuration) }
    }
}

/// What an error says when TLS cannot be set up or a handshake fails.
public struct TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, naming the file or the host where there is one.
    public var message: String

    /// An error that says `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
