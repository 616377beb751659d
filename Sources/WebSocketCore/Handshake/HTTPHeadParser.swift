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
        guard let (head, consumed) = try parseRequestHead(bytes) else { return .needMoreData }
        return .complete(head, remainder: Array(UnsafeRawBufferPointer(rebasing: bytes[consumed...])))
    }

    /// Like ``parseRequest(_:)-(UnsafeRawBufferPointer)``, but instead of copying the bytes that
    /// follow the head it says how many bytes of `bytes` the head took: a server answering
    /// pipelined requests walks one buffer rather than copying what is left after each request.
    package mutating func parseRequestHead(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> (head: HTTPRequestHead, consumed: Int)? {
        var input = bytes
        if !requestLineStarted {
            input = try skipEmptyLines(bytes)
            if input.isEmpty { return nil }
        }
        let limits = self.limits
        let found = try feed(input) { (head) throws(HTTPParseError) in try HTTPHeadParser.requestHead(head, limits: limits) }
        return found.map { ($0.head, bytes.count - input.count + $0.consumed) }
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
        guard let (head, consumed) = try feed(bytes, { (head) throws(HTTPParseError) in try HTTPHeadParser.responseHead(head, limits: limits) }) else {
            return .needMoreData
        }
        return .complete(head, remainder: Array(UnsafeRawBufferPointer(rebasing: bytes[consumed...])))
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
    /// Returns the head and how many bytes of this input it took (the rest follows it), or nil
    /// while the head is incomplete.
    private mutating func feed<Head>(_ bytes: UnsafeRawBufferPointer, _ parse: (UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Head) throws(HTTPParseError) -> (head: Head, consumed: Int)? {
        let input = bytes.bindMemory(to: UInt8.self)
        if buffer.isEmpty {
            let window = UnsafeBufferPointer(rebasing: input[0..<min(input.count, limits.maxHeadSize)])
            switch HTTPHeadParser.findHeadEnd(window, from: 0) {
            case .end(let end):
                return (try parse(UnsafeBufferPointer(rebasing: input[0..<end])), end)
            case .bareLF: throw HTTPParseError(status: 400, reason: "Bare LF in the request head")
            case .bareCR: throw HTTPParseError(status: 400, reason: "Bare CR in the request head")
            case .notYet: break
            }
        }
        // Take no more than the limit.
        let kept = buffer.count
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
            return nil
        case .end(let end):
            // The earlier inputs did not hold the end, so the head ends in this one.
            var outcome: Result<Head, HTTPParseError>!
            buffer.withUnsafeBufferPointer { all in
                do throws(HTTPParseError) { outcome = .success(try parse(UnsafeBufferPointer(rebasing: all[0..<end]))) } catch { outcome = .failure(error) }
            }
            buffer = []
            scanned = 0
            return (try outcome.get(), end - kept)
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
        var lineStart = start
        let headEnd = head.count - 2  // the blank line's CR
        // One span per line: counting the lines first sizes the array exactly, since a
        // request's headers may be kept for the life of its WebSocket.
        var lines = 0
        for i in start..<headEnd where head[i] == 0x0A { lines += 1 }
        spans.reserveCapacity(min(lines, limits.maxHeaderCount))
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
        guard !spans.isEmpty else { return HTTPHeaders() }
        return HTTPHeaders(bytes: UnsafeBufferPointer(rebasing: head[start..<headEnd]), spans: spans)
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
