/// HTTP header fields in the order they arrived, with case-insensitive look-up by name.
///
/// Repeated fields are kept as separate entries, in order; ``values(_:)`` returns all of them
/// and ``tokens(_:)`` splits comma-separated lists across every line of a field.
///
/// The fields are kept as bytes, as they came off the wire, with the position of each name and
/// value: parsing a head costs one copy of its field lines and no string per field. Strings are
/// made only for the fields the application asks for; bytes that are not UTF-8 (the obs-text a
/// peer may send, 0x80-0xFF) read as U+FFFD there, while equality and hashing use the bytes.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The fields' bytes. Each span below points into it; bytes no span points at (the `: ` and
    /// line ends of a parsed head, removed fields) are never read.
    private var bytes: [UInt8]
    /// Where each field's name and value are in `bytes`, in order.
    private var spans: [Span]

    /// The position of one field's name and value in `bytes`.
    struct Span: Sendable, Hashable {
        var nameStart: UInt32
        var nameEnd: UInt32
        var valueStart: UInt32
        var valueEnd: UInt32
    }

    /// Headers with the given fields, in order.
    public init(_ fields: [(name: String, value: String)] = []) {
        bytes = []
        spans = []
        if !fields.isEmpty {
            spans.reserveCapacity(fields.count)
            bytes.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count })
            for field in fields { add(name: field.name, value: field.value) }
        }
    }

    /// Headers from a literal: `["Origin": "https://example.com"]`.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements.map { (name: $0.0, value: $0.1) })
    }

    /// Empty headers with room for `fields` fields of `bytes` bytes in all.
    init(reservingFields fields: Int, bytes byteCount: Int) {
        bytes = []
        bytes.reserveCapacity(byteCount)
        spans = []
        spans.reserveCapacity(fields)
    }

    /// Headers over bytes already laid out, as the parser makes them.
    init(bytes: [UInt8], spans: [Span]) {
        self.bytes = bytes
        self.spans = spans
    }

    /// The fields as (name, value) pairs, names as the peer spelled them. Makes a string for
    /// every name and value; look fields up by name where you can.
    public var fields: [(name: String, value: String)] { Array(self) }

    /// Appends a field, keeping any with the same name.
    public mutating func add(name: String, value: String) {
        var name = name, value = value
        let nameStart = UInt32(bytes.count)
        name.withUTF8 { bytes.append(contentsOf: $0) }
        let nameEnd = UInt32(bytes.count)
        value.withUTF8 { bytes.append(contentsOf: $0) }
        spans.append(Span(nameStart: nameStart, nameEnd: nameEnd, valueStart: nameEnd, valueEnd: UInt32(bytes.count)))
    }

    /// Appends a field whose name and value are fixed text.
    mutating func add(name: StaticString, value: StaticString) {
        add(name: name, valueBytes: UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// Appends a field whose value is given as bytes.
    mutating func add(name: StaticString, valueBytes: UnsafeBufferPointer<UInt8>) {
        let nameStart = UInt32(bytes.count)
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        let nameEnd = UInt32(bytes.count)
        bytes.append(contentsOf: valueBytes)
        spans.append(Span(nameStart: nameStart, nameEnd: nameEnd, valueStart: nameEnd, valueEnd: UInt32(bytes.count)))
    }

    /// Replaces every field of this name with one field.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// Removes every field of this name.
    public mutating func remove(name: String) {
        let kept = withNameMatcher(name) { matches in spans.indices.filter { !matches($0) }.map { spans[$0] } }
        guard kept.count < spans.count else { return }
        spans = kept
        if spans.isEmpty { bytes.removeAll(keepingCapacity: true) }
    }

    /// The number of fields.
    public var count: Int { spans.count }

    /// The bytes the fields take as `name: value` lines.
    var serializedCount: Int {
        spans.reduce(0) { $0 + Int($1.nameEnd - $1.nameStart) + Int($1.valueEnd - $1.valueStart) + 4 }
    }

    /// The value of the first field with this name (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        guard let i = firstIndex(of: name) else { return nil }
        return value(at: i)
    }

    /// The values of every field with this name, in order.
    public func values(_ name: String) -> [String] {
        indices(of: name).map(value(at:))
    }

    /// Whether any field has this name.
    public func contains(_ name: String) -> Bool { firstIndex(of: name) != nil }

    /// The comma-separated list elements of every field with this name, trimmed of spaces,
    /// empty elements dropped (RFC 9110 §5.6.1).
    public func tokens(_ name: String) -> [String] {
        var result: [String] = []
        _ = forEachListElement(name) { element in
            result.append(String(decoding: element, as: UTF8.self))
            return false
        }
        return result
    }

    /// Whether a comma-separated field of this name contains `token`, compared case-insensitively.
    public func containsToken(_ token: String, in name: String) -> Bool {
        var token = token
        return token.withUTF8 { wanted in
            forEachListElement(name) { HTTPHeaders.bytesMatch($0, wanted) }
        }
    }

    /// The number of fields with this name.
    public func count(of name: String) -> Int { indices(of: name).count }

    /// Calls `body` with each list element of every field named `name`, trimmed, until it
    /// returns true; returns whether it did.
    func forEachListElement(_ name: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        for i in indices(of: name) {
            if withValueBytes(at: i, { HTTPHeaders.forEachListElement(of: $0, body) }) { return true }
        }
        return false
    }

    /// Calls `body` with each field's name and value bytes, in order.
    func forEachField(_ body: (_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Void) {
        bytes.withUnsafeBufferPointer { all in
            for span in spans {
                body(UnsafeBufferPointer(rebasing: all[Int(span.nameStart)..<Int(span.nameEnd)]),
                     UnsafeBufferPointer(rebasing: all[Int(span.valueStart)..<Int(span.valueEnd)]))
            }
        }
    }

    /// Calls `body` with the value bytes of the field at `index`.
    func withValueBytes<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let span = spans[index]
        return bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[Int(span.valueStart)..<Int(span.valueEnd)])) }
    }

    /// The name of the field at `index`.
    func name(at index: Int) -> String {
        let span = spans[index]
        return bytes.withUnsafeBufferPointer { String(decoding: $0[Int(span.nameStart)..<Int(span.nameEnd)], as: UTF8.self) }
    }

    /// The value of the field at `index`.
    func value(at index: Int) -> String {
        withValueBytes(at: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// The index of the first field with this name.
    private func firstIndex(of name: String) -> Int? {
        withNameMatcher(name) { spans.indices.first(where: $0) }
    }

    /// The indices of every field with this name, in order.
    private func indices(of name: String) -> [Int] {
        withNameMatcher(name) { spans.indices.filter($0) }
    }

    /// Calls `body` with a test of whether the field at an index is named `name` (ignoring case).
    private func withNameMatcher<R>(_ name: String, _ body: ((Int) -> Bool) -> R) -> R {
        var name = name
        return name.withUTF8 { wanted in
            bytes.withUnsafeBufferPointer { all in
                body { i in
                    HTTPHeaders.bytesMatch(UnsafeBufferPointer(rebasing: all[Int(spans[i].nameStart)..<Int(spans[i].nameEnd)]), wanted)
                }
            }
        }
    }

    /// Calls `body` with each trimmed, non-empty element of one comma-separated value until it
    /// returns true; returns whether it did.
    static func forEachListElement(of bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var a = start, b = end
            while a < b && (bytes[a] == 0x20 || bytes[a] == 0x09) { a += 1 }
            while b > a && (bytes[b - 1] == 0x20 || bytes[b - 1] == 0x09) { b -= 1 }
            if a < b && body(UnsafeBufferPointer(rebasing: bytes[a..<b])) { return true }
            start = end + 1
        }
        return false
    }

    /// Whether one comma-separated value contains `token`, compared case-insensitively.
    public static func listContainsToken(_ value: String, _ token: String) -> Bool {
        var value = value, token = token
        return value.withUTF8 { value in token.withUTF8 { wanted in forEachListElement(of: value) { bytesMatch($0, wanted) } } }
    }

    /// Whether one comma-separated value, as bytes, contains `token`, compared case-insensitively.
    @inline(__always)
    static func listContainsToken(_ value: UnsafeBufferPointer<UInt8>, _ token: StaticString) -> Bool {
        let wanted = UnsafeBufferPointer(start: token.utf8Start, count: token.utf8CodeUnitCount)
        return forEachListElement(of: value) { bytesMatch($0, wanted) }
    }

    /// Iterates over the (name, value) pairs in order, making their strings as it goes.
    public struct Iterator: IteratorProtocol {
        let headers: HTTPHeaders
        var index = 0

        /// The next field, or nil after the last.
        public mutating func next() -> (name: String, value: String)? {
            guard index < headers.spans.count else { return nil }
            defer { index += 1 }
            return (headers.name(at: index), headers.value(at: index))
        }
    }

    /// Iterates over the (name, value) pairs in order.
    public func makeIterator() -> Iterator { Iterator(headers: self) }

    /// The number of fields, for `Array(headers)` and the like.
    public var underestimatedCount: Int { spans.count }

    /// ASCII case-insensitive comparison, as header names and tokens are compared.
    public static func namesMatch(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in bytesMatch(x, y) } }
    }

    /// ASCII case-insensitive comparison of two byte strings.
    @inline(__always)
    static func bytesMatch(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        for i in 0..<x.count {
            let p = x[i], q = y[i]
            if p == q { continue }
            let lower = p | 0x20
            guard lower == q | 0x20, lower >= UInt8(ascii: "a"), lower <= UInt8(ascii: "z") else { return false }
        }
        return true
    }

    /// The fields as `name: value` lines.
    public var description: String {
        map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// Two header sets are equal when they hold the same fields, spelled the same, in the same order.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        guard lhs.spans.count == rhs.spans.count else { return false }
        return lhs.bytes.withUnsafeBufferPointer { l in
            rhs.bytes.withUnsafeBufferPointer { r in
                zip(lhs.spans, rhs.spans).allSatisfy { x, y in
                    l[Int(x.nameStart)..<Int(x.nameEnd)].elementsEqual(r[Int(y.nameStart)..<Int(y.nameEnd)])
                        && l[Int(x.valueStart)..<Int(x.valueEnd)].elementsEqual(r[Int(y.valueStart)..<Int(y.valueEnd)])
                }
            }
        }
    }

    /// Hashes the fields in order.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(spans.count)
        forEachField { name, value in
            hasher.combine(bytes: UnsafeRawBufferPointer(name))
            hasher.combine(name.count)
            hasher.combine(bytes: UnsafeRawBufferPointer(value))
            hasher.combine(value.count)
        }
    }
}

/// An HTTP/1.1 request head: the request line and the header fields (RFC 9112 §3, §5).
public struct HTTPRequestHead: Sendable, Hashable {
    /// The method, such as `GET`.
    public var method: String
    /// The request target as sent, such as `/chat?room=1`.
    public var target: String
    /// The HTTP version's major and minor numbers.
    public var version: (major: Int, minor: Int)
    /// The header fields.
    public var headers: HTTPHeaders

    /// Makes a request head.
    public init(method: String, target: String, version: (major: Int, minor: Int) = (1, 1), headers: HTTPHeaders) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The path part of the target, before any `?`. For an absolute-form target
    /// (`http://example.com/chat?room=1`, which RFC 9112 §3.2.2 says servers must accept) it
    /// is the path after the authority, `/` when there is none.
    public var path: String {
        let rest = pathAndQuery
        let path = rest[..<(rest.firstIndex(of: "?") ?? rest.endIndex)]
        return path.isEmpty ? "/" : String(path)
    }

    /// The query part of the target, after the first `?`, or nil when there is none.
    public var query: String? {
        let rest = pathAndQuery
        guard let q = rest.firstIndex(of: "?") else { return nil }
        return String(rest[rest.index(after: q)...])
    }

    /// The authority (`host[:port]`) of an absolute-form target, or nil for any other form.
    /// RFC 9112 §3.2.2: a server uses it instead of the `Host` header.
    public var targetAuthority: String? {
        absoluteFormAuthority.map { String(target[$0]) }
    }

    /// Whether the target has one of the forms a server accepts for its resources (RFC 9112
    /// §3.2): origin form (`/path?query`), absolute form (`http://host/path`) or, for OPTIONS,
    /// asterisk form (`*`).
    public var hasServerTargetForm: Bool {
        target.utf8.first == UInt8(ascii: "/") || absoluteFormAuthority != nil || (target == "*" && method == "OPTIONS")
    }

    /// The target from its path on: all of an origin-form target, or what follows the
    /// authority of an absolute-form one.
    private var pathAndQuery: Substring {
        guard target.utf8.first != UInt8(ascii: "/"), let authority = absoluteFormAuthority else { return target[...] }
        return target[authority.upperBound...]
    }

    /// Where the authority of an absolute-form target (`scheme://authority/path`) is.
    private var absoluteFormAuthority: Range<String.Index>? {
        guard let colon = target.firstIndex(of: ":") else { return nil }
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let scheme = target.utf8[..<colon]
        guard let first = scheme.first, UInt8(ascii: "a")...UInt8(ascii: "z") ~= first | 0x20,
              scheme.allSatisfy({ byte in
                  (UInt8(ascii: "a")...UInt8(ascii: "z")) ~= byte | 0x20 || (UInt8(ascii: "0")...UInt8(ascii: "9")) ~= byte
                      || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
              }),
              target[colon...].hasPrefix("://")
        else { return nil }
        let start = target.index(colon, offsetBy: 3)
        let end = target[start...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? target.endIndex
        return start..<end
    }

    /// Compares every part of two heads.
    public static func == (lhs: HTTPRequestHead, rhs: HTTPRequestHead) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.version == rhs.version && lhs.headers == rhs.headers
    }

    /// Hashes every part of the head.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(target)
        hasher.combine(version.major)
        hasher.combine(version.minor)
        hasher.combine(headers)
    }
}

/// An HTTP/1.1 response head: the status line and the header fields.
public struct HTTPResponseHead: Sendable, Hashable {
    /// The status code, such as 101.
    public var status: Int
    /// The reason phrase, such as `Switching Protocols`.
    public var reasonPhrase: String
    /// The header fields.
    public var headers: HTTPHeaders
}

/// Limits on an HTTP head, guarding memory against a peer that sends too much.
public struct HTTPHeadLimits: Sendable, Hashable {
    /// The largest head accepted, in bytes, up to and including the blank line. Default 8 KiB.
    public var maxHeadSize: Int
    /// The most header fields accepted. Default 100.
    public var maxHeaderCount: Int

    /// Makes limits; the defaults are 8 KiB and 100 fields.
    public init(maxHeadSize: Int = 8192, maxHeaderCount: Int = 100) {
        self.maxHeadSize = maxHeadSize
        self.maxHeaderCount = maxHeaderCount
    }
}

/// An HTTP response to send: status, headers and a body. Used for the 101 of the handshake,
/// for the errors that refuse one, and for plain HTTP routes.
public struct HTTPResponse: Sendable, Hashable {
    /// The status code.
    public var status: Int
    /// The reason phrase; the standard one for the status when not given.
    public var reasonPhrase: String
    /// The header fields. `Content-Length` is added when the body is non-empty and it is absent.
    public var headers: HTTPHeaders
    /// The body.
    public var body: [UInt8]

    /// Makes a response.
    public init(status: Int, reasonPhrase: String? = nil, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.reasonPhrase = reasonPhrase ?? HTTPResponse.standardReasonPhrase(for: status)
        self.headers = headers
        self.body = body
    }

    /// A plain-text response with `Content-Type: text/plain; charset=utf-8`.
    public static func text(_ status: Int, _ text: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var h = headers
        if !h.contains("Content-Type") { h.add(name: "Content-Type", value: "text/plain; charset=utf-8") }
        return HTTPResponse(status: status, headers: h, body: Array(text.utf8))
    }

    /// The head and body in wire format. Adds `Content-Length` unless the status forbids a
    /// body (1xx, 204, 304) or the headers already carry it.
    public func serialized(includeBody: Bool = true) -> [UInt8] {
        let mayHaveBody = !(100..<200).contains(status) && status != 204 && status != 304
        let contentLength = mayHaveBody && !headers.contains("Content-Length") && !headers.contains("Transfer-Encoding")
            ? Array(String(body.count).utf8) : nil
        let bodyCount = includeBody && mayHaveBody ? body.count : 0
        var reason = reasonPhrase
        return reason.withUTF8 { reason in
            let size = 9 + 3 + 1 + reason.count + 2 + headers.serializedCount + (contentLength.map { 16 + $0.count + 2 } ?? 0) + 2 + bodyCount
            // One allocation, filled front to back.
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                var out = ByteWriter(buffer.baseAddress!)
                out.put("HTTP/1.1 ")
                out.put(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: status / 100 % 10))
                out.put(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: status / 10 % 10))
                out.put(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: status % 10))
                out.put(UInt8(ascii: " "))
                out.put(reason)
                out.put("\r\n")
                headers.forEachField { name, value in
                    out.put(name)
                    out.put(": ")
                    out.put(value)
                    out.put("\r\n")
                }
                if let contentLength {
                    out.put("Content-Length: ")
                    contentLength.withUnsafeBufferPointer { out.put($0) }
                    out.put("\r\n")
                }
                out.put("\r\n")
                if bodyCount > 0 { body.withUnsafeBufferPointer { out.put($0) } }
                count = out.position - buffer.baseAddress!
                precondition(count == size)
            }
        }
    }

    /// The standard reason phrase for common statuses, `Unknown` for others.
    public static func standardReasonPhrase(for status: Int) -> String {
        switch status {
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Unknown"
        }
    }
}

/// Writes bytes front to back into memory the caller has sized.
struct ByteWriter {
    /// Where the next byte goes.
    private(set) var position: UnsafeMutablePointer<UInt8>

    init(_ start: UnsafeMutablePointer<UInt8>) { position = start }

    mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        UnsafeMutableRawPointer(position).copyMemory(from: base, byteCount: bytes.count)
        position += bytes.count
    }

    mutating func put(_ text: StaticString) {
        put(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func put(_ byte: UInt8) {
        position.pointee = byte
        position += 1
    }
}

/// Why an HTTP head could not be parsed.
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The status to answer with: 400 for a malformed head, 431 for one over the limits.
    public var status: Int
    /// What was wrong.
    public var reason: String

    /// Makes an error.
    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    /// `400: reason`.
    public var description: String { "\(status): \(reason)" }

    /// The response that reports this error to the peer, closing the connection.
    public var response: HTTPResponse {
        HTTPResponse.text(status, reason + "\n", headers: ["Connection": "close"])
    }
}

/// An incremental HTTP/1.1 head parser (RFC 9112): feed it bytes as they arrive until it
/// returns a head; the bytes after the blank line belong to whatever follows (WebSocket frames).
///
/// It rejects bare LF line ends, obs-fold continuation lines, whitespace before a field's
/// colon, control characters, and heads over the size and field-count limits.
public struct HTTPHeadParser: Sendable {
    /// The limits enforced.
    public let limits: HTTPHeadLimits
    private var buffer: [UInt8] = []
    private var scanned = 0
    // Empty lines before a request line: whether it has begun, a CR waiting for its LF, and
    // how many bytes were skipped.
    private var requestLineStarted = false
    private var carriageReturnPending = false
    private var emptyLinesSkipped = 0

    /// A parser with the given limits.
    public init(limits: HTTPHeadLimits = HTTPHeadLimits()) { self.limits = limits }

    /// What parsing has reached.
    public enum Progress<Head: Sendable>: Sendable {
        /// The head is not complete yet: feed more bytes.
        case needMoreData
        /// The head, and the bytes that followed it in the input.
        case complete(Head, remainder: [UInt8])
    }

    /// Feeds bytes and tries to parse a request head. Empty lines before the request line are
    /// skipped, as RFC 9112 §2.2 asks of a robust server (they count toward the size limit).
    public mutating func parseRequest(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Progress<HTTPRequestHead> {
        var bytes = bytes
        if !requestLineStarted {
            bytes = try skipEmptyLines(bytes)
            if bytes.isEmpty { return .needMoreData }
        }
        let limits = self.limits
        return try feed(bytes) { (head) throws(HTTPParseError) in try HTTPHeadParser.requestHead(head, limits: limits) }
    }

    /// Drops the CRLFs at the front of the input; returns the rest once the request line starts.
    private mutating func skipEmptyLines(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> UnsafeRawBufferPointer {
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if carriageReturnPending {
                guard byte == UInt8(ascii: "\n") else { throw HTTPParseError(status: 400, reason: "Bare CR in the request head") }
                carriageReturnPending = false
                emptyLinesSkipped += 2
                guard emptyLinesSkipped < limits.maxHeadSize else {
                    throw HTTPParseError(status: 431, reason: "Request head larger than \(limits.maxHeadSize) bytes")
                }
            } else if byte == UInt8(ascii: "\r") {
                carriageReturnPending = true
            } else if byte == UInt8(ascii: "\n") {
                throw HTTPParseError(status: 400, reason: "Bare LF in the request head")
            } else {
                requestLineStarted = true
                break
            }
            i += 1
        }
        return UnsafeRawBufferPointer(rebasing: bytes[i...])
    }

    /// Feeds bytes and tries to parse a request head.
    public mutating func parseRequest(_ bytes: [UInt8]) throws(HTTPParseError) -> Progress<HTTPRequestHead> {
        var outcome: Result<Progress<HTTPRequestHead>, HTTPParseError> = .success(.needMoreData)
        bytes.withUnsafeBytes { raw in
            do throws(HTTPParseError) { outcome = .success(try parseRequest(raw)) } catch { outcome = .failure(error) }
        }
        return try outcome.get()
    }

    /// Feeds bytes and tries to parse a response head (the client side of the handshake).
    public mutating func parseResponse(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Progress<HTTPResponseHead> {
        let limits = self.limits
        return try feed(bytes) { (head) throws(HTTPParseError) in try HTTPHeadParser.responseHead(head, limits: limits) }
    }

    /// Feeds bytes and tries to parse a response head.
    public mutating func parseResponse(_ bytes: [UInt8]) throws(HTTPParseError) -> Progress<HTTPResponseHead> {
        var outcome: Result<Progress<HTTPResponseHead>, HTTPParseError> = .success(.needMoreData)
        bytes.withUnsafeBytes { raw in
            do throws(HTTPParseError) { outcome = .success(try parseResponse(raw)) } catch { outcome = .failure(error) }
        }
        return try outcome.get()
    }

    /// Finds the end of the head in the input (or in the bytes kept from earlier inputs) and
    /// hands the head's bytes, up to and including the blank line, to `parse`. When a whole head
    /// arrives in one input, as it nearly always does, it is parsed in place without a copy.
    private mutating func feed<Head>(_ bytes: UnsafeRawBufferPointer, _ parse: (UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Head) throws(HTTPParseError) -> Progress<Head> {
        let input = bytes.bindMemory(to: UInt8.self)
        if buffer.isEmpty {
            let window = UnsafeBufferPointer(rebasing: input[0..<min(input.count, limits.maxHeadSize)])
            switch HTTPHeadParser.findHeadEnd(window, from: 0) {
            case .end(let end):
                let head = try parse(UnsafeBufferPointer(rebasing: input[0..<end]))
                return .complete(head, remainder: Array(UnsafeRawBufferPointer(rebasing: bytes[end...])))
            case .bareLF: throw HTTPParseError(status: 400, reason: "Bare LF in the request head")
            case .bareCR: throw HTTPParseError(status: 400, reason: "Bare CR in the request head")
            case .notYet: break
            }
        }
        // Take no more than the limit.
        let room = limits.maxHeadSize - buffer.count
        let take = min(bytes.count, max(room, 0))
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
        let scan = buffer.withUnsafeBufferPointer { HTTPHeadParser.findHeadEnd($0, from: max(scanned, 0)) }
        switch scan {
        case .bareLF: throw HTTPParseError(status: 400, reason: "Bare LF in the request head")
        case .bareCR: throw HTTPParseError(status: 400, reason: "Bare CR in the request head")
        case .notYet:
            // Keep the last byte unscanned so a CR at the end is checked against the next input.
            scanned = max(buffer.count - 1, 0)
            if buffer.count >= limits.maxHeadSize {
                throw HTTPParseError(status: 431, reason: "Request head larger than \(limits.maxHeadSize) bytes")
            }
            return .needMoreData
        case .end(let end):
            var remainder = Array(buffer[end...])
            remainder.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[take...]))
            var outcome: Result<Head, HTTPParseError>!
            buffer.withUnsafeBufferPointer { all in
                do throws(HTTPParseError) { outcome = .success(try parse(UnsafeBufferPointer(rebasing: all[0..<end]))) } catch { outcome = .failure(error) }
            }
            buffer = []
            scanned = 0
            return .complete(try outcome.get(), remainder: remainder)
        }
    }

    private enum Scan { case end(Int), notYet, bareLF, bareCR }

    /// Finds the end of the blank line that ends the head, checking every line end is CRLF.
    private static func findHeadEnd(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Scan {
        var i = start
        let count = buffer.count
        let base = UnsafeRawPointer(buffer.baseAddress)
        while i < count {
            // Skip eight bytes at a time while they hold neither CR nor LF.
            if i > 0, i + 8 <= count, let base {
                let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if !hasByte(word, 0x0D) && !hasByte(word, 0x0A) && buffer[i - 1] != UInt8(ascii: "\r") {
                    i += 8
                    continue
                }
            }
            let byte = buffer[i]
            if byte == UInt8(ascii: "\n") {
                guard i > 0, buffer[i - 1] == UInt8(ascii: "\r") else { return .bareLF }
                if i >= 3, buffer[i - 2] == UInt8(ascii: "\n") { return .end(i + 1) }
            } else if i > 0, buffer[i - 1] == UInt8(ascii: "\r") {
                return .bareCR
            }
            i += 1
        }
        return .notYet
    }

    /// Whether any of the eight bytes of `word` is below 0x20 (the same test, on `word - 0x20…`).
    @inline(__always)
    private static func hasByteBelowSpace(_ word: UInt64) -> Bool {
        (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080 != 0
    }

    /// Whether any of the eight bytes of `word` equals `byte` (the classic zero-byte test on
    /// `word ^ byte × 0x0101…`).
    @inline(__always)
    private static func hasByte(_ word: UInt64, _ byte: UInt8) -> Bool {
        let x = word ^ (0x0101_0101_0101_0101 &* UInt64(byte))
        return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 != 0
    }

    /// The end of the line starting at `start` (the index of its CR).
    private static func lineEnd(_ head: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        while head[i] != UInt8(ascii: "\r") { i += 1 }
        return i
    }

    private static func requestHead(_ head: UnsafeBufferPointer<UInt8>, limits: HTTPHeadLimits) throws(HTTPParseError) -> HTTPRequestHead {
        let end = lineEnd(head, from: 0)
        // method SP target SP version, with exactly two single spaces.
        var firstSpace = -1, secondSpace = -1
        for i in 0..<end where head[i] == UInt8(ascii: " ") {
            if firstSpace < 0 { firstSpace = i } else if secondSpace < 0 { secondSpace = i } else {
                throw HTTPParseError(status: 400, reason: "Malformed request line")
            }
        }
        guard firstSpace > 0, secondSpace > firstSpace + 1, secondSpace < end - 1 else {
            throw HTTPParseError(status: 400, reason: "Malformed request line")
        }
        let method = UnsafeBufferPointer(rebasing: head[0..<firstSpace])
        let target = UnsafeBufferPointer(rebasing: head[(firstSpace + 1)..<secondSpace])
        guard method.allSatisfy(isTokenCharacter) else { throw HTTPParseError(status: 400, reason: "Malformed method") }
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw HTTPParseError(status: 400, reason: "Malformed request target") }
        let version = try parseVersion(UnsafeBufferPointer(rebasing: head[(secondSpace + 1)..<end]))
        let headers = try parseFields(head, from: end + 2, limits: limits)
        return HTTPRequestHead(method: String(decoding: method, as: UTF8.self), target: String(decoding: target, as: UTF8.self),
                               version: version, headers: headers)
    }

    private static func responseHead(_ head: UnsafeBufferPointer<UInt8>, limits: HTTPHeadLimits) throws(HTTPParseError) -> HTTPResponseHead {
        let end = lineEnd(head, from: 0)
        // version SP status [SP reason]
        guard end >= 12, head[8] == UInt8(ascii: " "), (end == 12 || head[12] == UInt8(ascii: " ")) else {
            throw HTTPParseError(status: 400, reason: "Malformed status line")
        }
        _ = try parseVersion(UnsafeBufferPointer(rebasing: head[0..<8]))
        var status = 0
        for i in 9..<12 {
            guard (0x30...0x39).contains(head[i]) else { throw HTTPParseError(status: 400, reason: "Malformed status line") }
            status = status * 10 + Int(head[i] - 0x30)
        }
        let reason = end > 13 ? String(decoding: UnsafeBufferPointer(rebasing: head[13..<end]), as: UTF8.self) : ""
        let headers = try parseFields(head, from: end + 2, limits: limits)
        return HTTPResponseHead(status: status, reasonPhrase: reason, headers: headers)
    }

    private static func parseVersion(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> (major: Int, minor: Int) {
        guard bytes.count == 8, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
              bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[6] == UInt8(ascii: "."),
              (0x30...0x39).contains(bytes[5]), (0x30...0x39).contains(bytes[7])
        else {
            throw HTTPParseError(status: 400, reason: "Malformed HTTP version")
        }
        return (Int(bytes[5] - 0x30), Int(bytes[7] - 0x30))
    }

    /// Parses the field lines from `start` up to the blank line that ends `head`. The field
    /// lines are copied once, as they are; the headers point into that copy.
    private static func parseFields(_ head: UnsafeBufferPointer<UInt8>, from start: Int, limits: HTTPHeadLimits) throws(HTTPParseError) -> HTTPHeaders {
        var spans: [HTTPHeaders.Span] = []
        spans.reserveCapacity(12)
        var lineStart = start
        let headEnd = head.count - 2  // the blank line's CR
        while lineStart < headEnd {
            guard spans.count < limits.maxHeaderCount else {
                throw HTTPParseError(status: 431, reason: "More than \(limits.maxHeaderCount) header fields")
            }
            let first = head[lineStart]
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                throw HTTPParseError(status: 400, reason: "Obsolete line folding in the request head")
            }
            var colon = lineStart
            while isTokenCharacter(head[colon]) { colon += 1 }  // stops at the line's CR at the latest
            guard head[colon] == UInt8(ascii: ":") else {
                throw HTTPParseError(status: 400, reason: head[colon] == 0x0D ? "Header line without a colon" : "Malformed header name")
            }
            guard colon > lineStart else { throw HTTPParseError(status: 400, reason: "Malformed header name") }
            // The value: leading whitespace skipped, then every byte checked up to the CR
            // (findHeadEnd made sure each CR is followed by LF), then trailing whitespace trimmed.
            var a = colon + 1
            while head[a] == 0x20 || head[a] == 0x09 { a += 1 }
            var end = a
            // Eight bytes at a time while none is a control character, then byte by byte.
            if let base = UnsafeRawPointer(head.baseAddress) {
                while end + 8 <= head.count {
                    let word = base.loadUnaligned(fromByteOffset: end, as: UInt64.self)
                    guard !hasByteBelowSpace(word), !hasByte(word, 0x7F) else { break }
                    end += 8
                }
            }
            while true {
                let byte = head[end]
                if byte >= 0x20 ? byte != 0x7F : byte == 0x09 { end += 1; continue }
                guard byte == 0x0D else { throw HTTPParseError(status: 400, reason: "Control character in a header value") }
                break
            }
            var b = end
            while b > a && (head[b - 1] == 0x20 || head[b - 1] == 0x09) { b -= 1 }
            spans.append(HTTPHeaders.Span(nameStart: UInt32(lineStart - start), nameEnd: UInt32(colon - start),
                                          valueStart: UInt32(a - start), valueEnd: UInt32(b - start)))
            lineStart = end + 2
        }
        let bytes = spans.isEmpty ? [] : Array(UnsafeBufferPointer(rebasing: head[start..<headEnd]))
        return HTTPHeaders(bytes: bytes, spans: spans)
    }

    /// Whether `byte` may appear in an HTTP token (RFC 9110 §5.6.2): letters, digits and
    /// ``!#$%&'*+-.^_`|~``. One load from a 128-entry table.
    @inline(__always)
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        byte < 128 && tokenTable.utf8Start[Int(byte)] == UInt8(ascii: "t")
    }

    /// `t` at the position of each token character, `.` elsewhere: 0x00-0x1F, 0x20-0x3F,
    /// 0x40-0x5F, 0x60-0x7F, a row each.
    private static let tokenTable: StaticString = """
        ................................\
        .t.ttttt..tt.tt.tttttttttt......\
        .tttttttttttttttttttttttttt...tt\
        ttttttttttttttttttttttttttt.t.t.
        """
}
