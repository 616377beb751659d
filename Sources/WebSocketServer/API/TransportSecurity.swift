/// How a server secures the connections it accepts: set
/// ``WebSocketServer/Configuration/transportSecurity`` to one, and the server speaks
/// `https://` and `wss://` on its port.
///
/// This module has no TLS of its own, so that a server without TLS builds without OpenSSL's
/// headers; the `WebSocketTLS` module makes a value from certificates:
///
/// ```swift
/// import WebSocketTLS
/// configuration.transportSecurity = .tls(TLSServerConfiguration(certificateChainFile: "cert.pem", privateKeyFile: "key.pem"))
/// ```
public struct TransportSecurity: Sendable {
    /// Loads what the security needs (certificates, keys) when the server starts; throws what
    /// is wrong, naming the file.
    package let load: @Sendable () throws -> any SecureTransportFactory

    /// A security that `load` makes ready; for modules of this package.
    package init(load: @escaping @Sendable () throws -> any SecureTransportFactory) {
        self.load = load
    }
}

/// What a TLS connection agreed in its handshake.
public struct TLSInfo: Sendable, Hashable {
    /// The protocol version: `TLSv1.3` or `TLSv1.2`.
    public var version: String
    /// The cipher suite, with OpenSSL's name (`TLS_AES_256_GCM_SHA384`).
    public var cipher: String
    /// The host name the client asked for (SNI), if it sent one.
    public var serverName: String?
    /// The subject of the certificate the peer presented (mutual TLS), as an RFC 2253 string
    /// such as `CN=alice,O=Example`; nil if it presented none.
    public var peerSubject: String?

    /// Makes the description of a handshake; the TLS module makes these.
    public init(version: String, cipher: String, serverName: String? = nil, peerSubject: String? = nil) {
        self.version = version
        self.cipher = cipher
        self.serverName = serverName
        self.peerSubject = peerSubject
    }
}
