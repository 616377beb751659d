/// Collects the body of an HTTP response (RFC 9112 §6.3) up to a limit: what a client keeps of
/// a server's refusal (a 401's message, a redirect's page) to show the application.
///
/// The length comes from the head: `Transfer-Encoding: chunked` (decoded), else
/// `Content-Length`, else the body runs to the end of the connection (``finish()``). A 1xx,
/// 204 or 304 response has no body.
public struct HTTPResponseBody: Sendable {
    /// The body so far, decoded, at most `limit` bytes.
    public private(set) var bytes: [UInt8] = []
    /// Whether the body is longer than `limit`: ``bytes`` has its first `limit` bytes.
    public private(set) var isTruncated = false
    /// Whether the whole body has arrived (or the limit was reached, or it cannot be read).
    public private(set) var isComplete: Bool

    private let limit: Int
    private var framing: Framing
    private enum Framing {
        case length(remaining: Int)
        case toEnd
        /// Chunked: reading a size line, or `left` bytes of a chunk (then its CRLF), or the
        /// trailer section after the last chunk.
        case chunkSize(line: [UInt8])
        case chunkData(left: Int)
        case chunkDataEnd(crlfLeft: Int)
        case trailer(line: [UInt8])
    }

    /// Starts reading the body of the response `head`, keeping at most `limit` bytes.
    public init(for head: HTTPResponseHead, limit: Int = 64 << 10) {
        self.limit = limit
        let headers = head.headers
        if (100..<200).contains(head.status) || head.status == 204 || head.status == 304 {
            framing = .length(remaining: 0)
        } else if headers.containsToken("chunked", in: "Transfer-Encoding") {
            framing = .chunkSize(line: [])
        } else if let text = headers["Content-Length"], let length = Int(text), length >= 0 {
            framing = .length(remaining: length)
        } else {
            framing = .toEnd
        }
        if case .length(0) = framing { isComplete = true } else { isComplete = false }
    }

    /// Takes bytes that followed the head; returns how many belonged to the body.
    @discardableResult
    public mutating func receive(_ input: [UInt8]) -> Int {
        var index = 0
        while index < input.count, !isComplete {
            switch framing {
            case .length(let remaining):
                let take = min(remaining, input.count - index)
                keep(input[index..<(index + take)])
                index += take
                framing = .length(remaining: remaining - take)
                if remaining - take == 0 { isComplete = true }
            case .toEnd:
                keep(input[index...])
                index = input.count
            case .chunkSize(var line):
                let byte = input[index]
                index += 1
                guard byte == UInt8(ascii: "\n") else {
                    line.append(byte)
                    guard line.count <= 1024 else { return stop(at: index) }  // no size line is that long
                    framing = .chunkSize(line: line)
                    continue
                }
                // The size in hex, before any chunk extension (";...") and the CR.
                let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: " ") }
                guard !digits.isEmpty, digits.count <= 15, let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    return stop(at: index)
                }
                framing = size == 0 ? .trailer(line: []) : .chunkData(left: size)
            case .chunkData(let left):
                let take = min(left, input.count - index)
                keep(input[index..<(index + take)])
                index += take
                framing = left - take == 0 ? .chunkDataEnd(crlfLeft: 2) : .chunkData(left: left - take)
            case .chunkDataEnd(let crlfLeft):
                index += 1
                framing = crlfLeft == 1 ? .chunkSize(line: []) : .chunkDataEnd(crlfLeft: crlfLeft - 1)
            case .trailer(var line):
                let byte = input[index]
                index += 1
                if byte == UInt8(ascii: "\n") {
                    // An empty line (maybe with its CR) ends the trailer section, and the body.
                    if line.isEmpty || line == [UInt8(ascii: "\r")] { isComplete = true } else { framing = .trailer(line: []) }
                } else {
                    line.append(byte)
                    guard line.count <= 8192 else { return stop(at: index) }
                    framing = .trailer(line: line)
                }
            }
        }
        return index
    }

    /// The connection ended: a body that runs to the end is complete; any other is cut short.
    public mutating func finish() {
        isComplete = true
    }

    private mutating func keep(_ slice: ArraySlice<UInt8>) {
        let room = limit - bytes.count
        if slice.count > room {
            bytes += slice.prefix(room)
            isTruncated = true
            isComplete = true
        } else {
            bytes += slice
        }
    }

    /// Gives up on a body whose framing is broken: what arrived so far is what there is.
    private mutating func stop(at index: Int) -> Int {
        isComplete = true
        return index
    }
}
