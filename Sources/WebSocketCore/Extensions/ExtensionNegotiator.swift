/// An extension agreed in the handshake: the element for the response header and the codec
/// that does its work on the connection.
public struct ExtensionAgreement: Sendable {
    /// The `Sec-WebSocket-Extensions` element that tells the peer what was agreed.
    public var response: ExtensionOffer
    /// Makes the per-connection codec. Called once per connection, on the connection's queue.
    public var makeCodec: @Sendable () -> any ExtensionCodec

    /// Makes an agreement.
    public init(response: ExtensionOffer, makeCodec: @escaping @Sendable () -> any ExtensionCodec) {
        self.response = response
        self.makeCodec = makeCodec
    }
}

/// A server-side extension: looks at the offers a client made for it and accepts one or none.
public protocol ExtensionNegotiator: Sendable {
    /// The extension tokens this negotiator answers, such as `["permessage-deflate"]`.
    var extensionNames: [String] { get }
    /// Receives every offer whose name is in ``extensionNames``, in the client's order of
    /// preference, and returns the agreement for the first it can honour, or nil to decline
    /// them all. Throws a 400 when an offer is invalid by the extension's own rules.
    func negotiate(_ offers: [ExtensionOffer]) throws(HandshakeError) -> ExtensionAgreement?
}
