/// A value of RESP2, the Redis serialization protocol (https://redis.io/docs/latest/develop/reference/protocol-spec/):
/// what Redis (and Valkey) reply, and what pub/sub pushes.
public enum RESPValue: Sendable, Hashable {
    /// `+OK\r\n`
    case simpleString(String)
    /// `-ERR message\r\n`
    case error(String)
    /// `:42\r\n`
    case integer(Int64)
    /// `$5\r\nhello\r\n`; nil for the null bulk string `$-1\r\n`.
    case bulkString([UInt8]?)
    /// `*2\r\n...`; nil for the null array `*-1\r\n`.
    case array([RESPValue]?)

    /// The bytes of a bulk string, or the text of a simple string.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }
}

/// Why bytes are not RESP, or exceed the parser's limits; the connection must be dropped.
public struct RESPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var reason: String
    public var description: String { "RESP: \(reason)" }
}

/// How much a ``RESPParser`` accepts.
public struct RESPLimits: Sendable, Hashable {
    /// The longest bulk string (Redis's own limit is 512 MiB).
    public var maxBulkLength: Int
    /// The most elements in one array.
    public var maxArrayCount: Int
    /// Arrays inside arrays, at most.
    public var maxDepth: Int
    /// The longest simple string, error or number line.
    public var maxLineLength: Int

    /// Limits for a pub/sub client: 64 MiB bulk strings, a million elements, depth 8, 64 KiB lines.
    public init(maxBulkLength: Int = 64 << 20, maxArrayCount: Int = 1 << 20, maxDepth: Int = 8, maxLineLength: Int = 64 << 10) {
        self.maxBulkLength = maxBulkLength
        self.maxArrayCount = maxArrayCount
        self.maxDepth = maxDepth
        self.maxLineLength = maxLineLength
    }
}

/// Reads RESP2 values from bytes as they arrive, sans I/O: ``receive(_:)`` what the socket
/// gave, then take values with ``next()`` until it returns nil (more bytes needed).
public struct RESPParser: Sendable {
    private var buffer: [UInt8] = []
    private var offset = 0
    private let limits: RESPLimits

    /// A parser with `limits`.
    public init(limits: RESPLimits = RESPLimits()) { self.limits = limits }

    /// Adds bytes read from the connection.
    public mutating func receive(_ bytes: some Collection<UInt8>) {
        if offset > 0 && offset == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            offset = 0
        } else if offset > 64 << 10 && offset > buffer.count / 2 {
            buffer.removeSubrange(0..<offset)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete value, or nil if it has not fully arrived.
    public mutating func next() throws(RESPError) -> RESPValue? {
        var position = offset
        guard let value = try parse(at: &position, depth: 0) else { return nil }
        offset = position
        return value
    }

    /// Parses one value starting at `position`, advancing it past the value; nil if incomplete.
    private func parse(at position: inout Int, depth: Int) throws(RESPError) -> RESPValue? {
        guard position < buffer.count else { return nil }
        let kind = buffer[position]
        guard let line = try self.line(from: position + 1) else { return nil }
        let text = buffer[(position + 1)..<line.end]
        var next = line.next
        switch kind {
        case UInt8(ascii: "+"):
            position = next
            return .simpleString(String(decoding: text, as: UTF8.self))
        case UInt8(ascii: "-"):
            position = next
            return .error(String(decoding: text, as: UTF8.self))
        case UInt8(ascii: ":"):
            position = next
            return .integer(try integer(text))
        case UInt8(ascii: "$"):
            let length = try integer(text)
            if length == -1 {
                position = next
                return .bulkString(nil)
            }
            guard length >= 0 else { throw RESPError(reason: "negative bulk string length \(length)") }
            guard length <= limits.maxBulkLength else { throw RESPError(reason: "bulk string of \(length) bytes, over the limit of \(limits.maxBulkLength)") }
            let end = next + Int(length)
            guard end + 2 <= buffer.count else { return nil }
            guard buffer[end] == 0x0D, buffer[end + 1] == 0x0A else { throw RESPError(reason: "bulk string not followed by CRLF") }
            position = end + 2
            return .bulkString(Array(buffer[next..<end]))
        case UInt8(ascii: "*"):
            let count = try integer(text)
            if count == -1 {
                position = next
                return .array(nil)
            }
            guard count >= 0 else { throw RESPError(reason: "negative array length \(count)") }
            guard count <= limits.maxArrayCount else { throw RESPError(reason: "array of \(count) elements, over the limit of \(limits.maxArrayCount)") }
            guard depth < limits.maxDepth else { throw RESPError(reason: "arrays nested deeper than \(limits.maxDepth)") }
            var elements: [RESPValue] = []
            elements.reserveCapacity(Int(min(count, 1024)))
            for _ in 0..<count {
                guard let element = try parse(at: &next, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            position = next
            return .array(elements)
        default:
            throw RESPError(reason: "unknown type byte \(kind)")
        }
    }

    /// The line starting at `start`: where its CRLF is and where the next line starts; nil if
    /// the CRLF has not arrived.
    private func line(from start: Int) throws(RESPError) -> (end: Int, next: Int)? {
        var index = start
        while index < buffer.count {
            if buffer[index] == 0x0D {
                guard index + 1 < buffer.count else { return nil }
                guard buffer[index + 1] == 0x0A else { throw RESPError(reason: "CR without LF") }
                return (index, index + 2)
            }
            if buffer[index] == 0x0A { throw RESPError(reason: "LF without CR") }
            index += 1
            if index - start > limits.maxLineLength { throw RESPError(reason: "a line over \(limits.maxLineLength) bytes") }
        }
        if index - start > limits.maxLineLength { throw RESPError(reason: "a line over \(limits.maxLineLength) bytes") }
        return nil
    }

    /// A decimal integer line (an optional minus, then digits).
    private func integer(_ text: ArraySlice<UInt8>) throws(RESPError) -> Int64 {
        var digits = text[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw RESPError(reason: "not an integer: \(String(decoding: text.prefix(32), as: UTF8.self))")
        }
        let value = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - 0x30) }
        return negative ? -value : value
    }
}

/// Commands in RESP: an array of bulk strings, which is how every command goes to Redis.
public enum RESPCommand {
    /// `parts` as a RESP array of bulk strings, appended to `output`.
    public static func encode(_ parts: [[UInt8]], into output: inout [UInt8]) {
        output.append(UInt8(ascii: "*"))
        output.append(contentsOf: String(parts.count).utf8)
        output.append(contentsOf: [0x0D, 0x0A])
        for part in parts {
            output.append(UInt8(ascii: "$"))
            output.append(contentsOf: String(part.count).utf8)
            output.append(contentsOf: [0x0D, 0x0A])
            output.append(contentsOf: part)
            output.append(contentsOf: [0x0D, 0x0A])
        }
    }

    /// A command from text arguments.
    public static func encode(_ parts: String...) -> [UInt8] { encode(strings: parts) }

    /// A command from a list of text arguments.
    public static func encode(strings parts: [String]) -> [UInt8] {
        var output: [UInt8] = []
        encode(parts.map { Array($0.utf8) }, into: &output)
        return output
    }
}
