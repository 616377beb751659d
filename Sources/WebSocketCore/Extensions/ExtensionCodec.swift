/// A negotiated extension's work on one connection: it transforms message payloads and owns
/// the reserved bits it claimed. One instance serves one connection, in one direction pair,
/// on one thread at a time.
///
/// The engine calls it for every data frame: ``inboundFrame(reservedBits:opcode:isFirstFrame:)``
/// says whether the frame's payload must go through ``decode(_:endOfFrame:endOfMessage:into:limit:)``;
/// ``encode(_:opcode:force:)`` turns an outgoing message into its wire payload and RSV bits.
public protocol ExtensionCodec: AnyObject {
    /// The extension token as negotiated, for logs.
    var name: String { get }
    /// The RSV bits this extension may set (all others stay protocol errors).
    var reservedBits: ReservedBits { get }
    /// Called at the start of each inbound data frame. Returns whether its payload is encoded
    /// by this extension; throws a ``ProtocolError`` if its RSV bits break the extension's rules.
    func inboundFrame(reservedBits: ReservedBits, opcode: Opcode, isFirstFrame: Bool) throws(ProtocolError) -> Bool
    /// Decodes one piece of an encoded payload and appends the result to `output`, which must
    /// not grow past `limit` bytes in total (throw 1009 instead). `endOfFrame` and
    /// `endOfMessage` mark where the piece ends.
    func decode(_ piece: UnsafeRawBufferPointer, endOfFrame: Bool, endOfMessage: Bool, into output: inout [UInt8], limit: Int) throws(ProtocolError)
    /// Encodes a whole outgoing message. Returns the wire payload and the RSV bits for its
    /// first frame, or nil to send the message as it is. `force` asks to encode even where the
    /// codec would not by default (a message under its size threshold).
    func encode(_ payload: [UInt8], opcode: Opcode, force: Bool) -> (payload: [UInt8], reservedBits: ReservedBits)?
    /// What the codec has transformed since the last call (and resets that count), for a
    /// server's compression metrics. The default reports nothing.
    func takeTally() -> CodecTally
}

extension ExtensionCodec {
    /// Reports nothing: a codec that keeps no count.
    public func takeTally() -> CodecTally { CodecTally() }
}

/// Payload bytes an extension codec transformed, and what they became: from these a server
/// tells how well compression works (`encodedTo` / `encodedFrom` is the outgoing ratio).
public struct CodecTally: Sendable, Hashable {
    /// Application bytes of the messages ``ExtensionCodec/encode(_:opcode:force:)`` encoded.
    public var encodedFrom = 0
    /// The wire bytes they became.
    public var encodedTo = 0
    /// Wire bytes given to ``ExtensionCodec/decode(_:endOfFrame:endOfMessage:into:limit:)``.
    public var decodedFrom = 0
    /// The application bytes they became.
    public var decodedTo = 0

    /// No bytes yet.
    public init() {}
}
