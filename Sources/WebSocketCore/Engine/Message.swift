/// Whether a message is text (UTF-8) or binary.
public enum MessageKind: Sendable, Hashable {
    /// A text message: its bytes are valid UTF-8.
    case text
    /// A binary message: any bytes.
    case binary

    /// The opcode of the first frame of a message of this kind.
    @inlinable public var opcode: Opcode { self == .text ? .text : .binary }
}

/// A whole WebSocket message: its kind and its bytes (for text, valid UTF-8).
///
/// Keeping the bytes, rather than a `String`, lets a text message be echoed or broadcast
/// without converting it; ``text`` makes the `String` when it is wanted.
public struct Message: Sendable, Hashable {
    /// Text or binary.
    public var kind: MessageKind
    /// The payload: UTF-8 for text.
    public var data: [UInt8]

    /// A message of the given kind. For `.text`, `data` must be valid UTF-8.
    @inlinable
    public init(kind: MessageKind, data: [UInt8]) {
        self.kind = kind
        self.data = data
    }

    /// A text message.
    public static func text(_ string: String) -> Message { Message(kind: .text, data: Array(string.utf8)) }
    /// A binary message.
    public static func binary(_ bytes: [UInt8]) -> Message { Message(kind: .binary, data: bytes) }

    /// The text of a text message, or nil for a binary one.
    public var text: String? { kind == .text ? String(decoding: data, as: UTF8.self) : nil }
}

/// A piece of a message, delivered as it arrives when the engine streams messages
/// (``WebSocketEngine/Configuration/deliversFragments``) instead of buffering them whole.
public struct MessageFragment: Sendable, Hashable {
    /// The kind of the message this piece belongs to.
    public var kind: MessageKind
    /// The piece's bytes. For text, a piece may end inside a character; the whole message is
    /// valid UTF-8 (checked as it arrives).
    public var data: [UInt8]
    /// Whether this is the message's first piece.
    public var isFirst: Bool
    /// Whether this is the message's last piece.
    public var isFinal: Bool

    /// Makes a fragment.
    public init(kind: MessageKind, data: [UInt8], isFirst: Bool, isFinal: Bool) {
        self.kind = kind
        self.data = data
        self.isFirst = isFirst
        self.isFinal = isFinal
    }
}

/// A message ``WebSocketEngine/receive(lending:)`` left where it arrived, in the caller's
/// buffer: whole, unmasked in place and, for text, checked to be valid UTF-8.
public struct LentMessage: Sendable, Hashable {
    /// Text or binary.
    public var kind: MessageKind
    /// Where the payload lies in the buffer that was passed in.
    public var payload: Range<Int>

    /// Makes a description of a lent message.
    public init(kind: MessageKind, payload: Range<Int>) {
        self.kind = kind
        self.payload = payload
    }
}
