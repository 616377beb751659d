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
