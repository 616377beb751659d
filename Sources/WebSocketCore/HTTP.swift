/// HTTP header fields in the order they arrived, with case-insensitive look-up by name.
///
/// Repeated fields are kept as separate entries, in order; ``values(_:)`` returns all of them
/// and ``tokens(_:)`` splits comma-separated lists across every line of a field.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// The fields as (name, value) pairs, names as the peer spelled them.
    public private(set) var fields: [(name: String, value: String)]

    /// Headers with the given fields, in order.
    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

    /// Headers from a literal: `["Origin": "https://example.com"]`.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// Appends a field, keeping any with the same name.
    public mutating func add(name: String, value: String) { fields.append((name, value)) }

    /// Replaces every field of this name with one field.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        fields.append((name, value))
    }

    /// Removes every field of this name.
    public mutating func remove(name: String) {
        fields.removeAll { HTTPHeaders.namesMatch($0.name, name) }
    }

    /// The number of fields.
    public var count: Int { fields.count }

    /// The value of the first field with this name (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        fields.first { HTTPHeaders.namesMatch($0.name, name) }?.value
    }

    /// The values of every field with this name, in order.
    public func values(_ name: String) -> [String] {
        fields.compactMap { HTTPHeaders.namesMatch($0.name, name) ? $0.value : nil }
    }

    /// Whether any field has this name.
    public func contains(_ name: String) -> Bool { self[name] != nil }

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

    /// Calls `body` with each list element of every field named `name`, trimmed, until it
    /// returns true; returns whether it did.
    func forEachListElement(_ name: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        for field in fields where HTTPHeaders.namesMatch(field.name, name) {
            if HTTPHeaders.forEachListElement(of: field.value, body) { return true }
        }
        return false
    }

    /// Calls `body` with each trimmed, non-empty element of one comma-separated value until it
    /// returns true; returns whether it did.
    static func forEachListElement(of value: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        var value = value
        return value.withUTF8 { bytes -> Bool in
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
    }

    /// Whether one comma-separated value contains `token`, compared case-insensitively.
    public static func listContainsToken(_ value: String, _ token: String) -> Bool {
        var token = token
        return token.withUTF8 { wanted in forEachListElement(of: value) { bytesMatch($0, wanted) } }
    }

    /// Iterates over the (name, value) pairs in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    /// ASCII case-insensitive comparison, as header names and tokens are compared.
    public static func namesMatch(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in bytesMatch(x, y) } }
    }

    /// ASCII case-insensitive comparison of two byte strings.
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

    /// The number of fields with this name.
    public func count(of name: String) -> Int {
        var n = 0
        for field in fields where HTTPHeaders.namesMatch(field.name, name) { n += 1 }
        return n
    }

    /// Two header sets are equal when they hold the same fields in the same order.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// Hashes the fields in order.
    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }
}

extension Substring {
    func trimmingHTTPWhitespace() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return s
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

    /// The path part of the target, before any `?`.
    public var path: String {
        guard let q = target.firstIndex(of: "?") else { return target }
        return String(target[..<q])
    }

    /// The query part of the target, after the first `?`, or nil when there is none.
    public var query: String? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: q)...])
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
        var out = [UInt8]()
        out.reserveCapacity(256 + body.count)
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: status / 100 % 10))
        out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: status / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: status % 10))
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: reasonPhrase.utf8)
        out.append(0x0D)
        out.append(0x0A)
        for field in headers.fields {
            out.append(contentsOf: field.name.utf8)
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: field.value.utf8)
            out.append(0x0D)
            out.append(0x0A)
        }
        let mayHaveBody = !(100..<200).contains(status) && status != 204 && status != 304
        if mayHaveBody && !headers.contains("Content-Length") && !headers.contains("Transfer-Encoding") {
            out.append(contentsOf: "Content-Length: \(body.count)\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        if includeBody && mayHaveBody { out.append(contentsOf: body) }
        return out
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

    /// A parser with the given limits.
    public init(limits: HTTPHeadLimits = HTTPHeadLimits()) { self.limits = limits }

    /// What parsing has reached.
    public enum Progress<Head: Sendable>: Sendable {
        /// The head is not complete yet: feed more bytes.
        case needMoreData
        /// The head, and the bytes that followed it in the input.
        case complete(Head, remainder: [UInt8])
    }

    /// Feeds bytes and tries to parse a request head.
    public mutating func parseRequest(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Progress<HTTPRequestHead> {
        let limits = self.limits
        return try feed(bytes) { (head) throws(HTTPParseError) in try HTTPHeadParser.requestHead(head, limits: limits) }
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
        while i < count {
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

    /// The end of the line starting at `start` (the index of its CR).
    private static func lineEnd(_ head: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        while head[i] != UInt8(ascii: "\r") { i += 1 }
        return i
    }

    private static func requestHead(_ head: UnsafeBufferPointer<UInt8>, limits: HTTPHeadLimits) throws(HTTPParseError) -> HTTPRequestHead {
        if head[0] == UInt8(ascii: "\r") { throw HTTPParseError(status: 400, reason: "Empty line before the request line") }
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

    /// Parses the field lines from `start` up to the blank line that ends `head`.
    private static func parseFields(_ head: UnsafeBufferPointer<UInt8>, from start: Int, limits: HTTPHeadLimits) throws(HTTPParseError) -> HTTPHeaders {
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(12)
        var lineStart = start
        let headEnd = head.count - 2  // the blank line's CR
        while lineStart < headEnd {
            let end = lineEnd(head, from: lineStart)
            guard fields.count < limits.maxHeaderCount else {
                throw HTTPParseError(status: 431, reason: "More than \(limits.maxHeaderCount) header fields")
            }
            let first = head[lineStart]
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                throw HTTPParseError(status: 400, reason: "Obsolete line folding in the request head")
            }
            var colon = lineStart
            while colon < end && head[colon] != UInt8(ascii: ":") { colon += 1 }
            guard colon < end else { throw HTTPParseError(status: 400, reason: "Header line without a colon") }
            let name = UnsafeBufferPointer(rebasing: head[lineStart..<colon])
            guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
                throw HTTPParseError(status: 400, reason: "Malformed header name")
            }
            var a = colon + 1, b = end
            while a < b && (head[a] == 0x20 || head[a] == 0x09) { a += 1 }
            while b > a && (head[b - 1] == 0x20 || head[b - 1] == 0x09) { b -= 1 }
            let value = UnsafeBufferPointer(rebasing: head[a..<b])
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw HTTPParseError(status: 400, reason: "Control character in a header value")
            }
            fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
            lineStart = end + 2
        }
        return HTTPHeaders(fields)
    }

    /// Whether `byte` may appear in an HTTP token (RFC 9110 §5.6.2).
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
