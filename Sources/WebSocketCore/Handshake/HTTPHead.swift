/// An HTTP/1.1 request head: the request line and the header fields (RFC 9112 §3, §5).
public struct HTTPRequestHead: Sendable, Hashable {
    /// The method, such as `GET`.
    public var method: String
    /// The request target as sent, such as `/chat?room=1`.
    public var target: String
    /// The header fields.
    public var headers: HTTPHeaders
    /// The HTTP version's major and minor numbers, 0-255 each (RFC 9112 §2.3 allows one digit;
    /// larger values are kept as 255).
    public var version: (major: Int, minor: Int) {
        get { (Int(versionMajor), Int(versionMinor)) }
        set {
            versionMajor = UInt8(clamping: newValue.major)
            versionMinor = UInt8(clamping: newValue.minor)
        }
    }
    // Two bytes, not two words: a server keeps the request head of every open WebSocket.
    private var versionMajor: UInt8
    private var versionMinor: UInt8

    /// Makes a request head.
    public init(method: String, target: String, version: (major: Int, minor: Int) = (1, 1), headers: HTTPHeaders) {
        self.method = method
        self.target = target
        self.headers = headers
        versionMajor = UInt8(clamping: version.major)
        versionMinor = UInt8(clamping: version.minor)
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

    /// Whether the connection may carry another request after this one's response (RFC 9112
    /// §9.3): HTTP/1.1 or later, no `close` option in `Connection`, and no body announced
    /// (`Content-Length` above 0, or `Transfer-Encoding`). A server that does not read request
    /// bodies could not tell where such a body ends and the next request begins, so it closes
    /// after answering. HTTP/1.0's `Connection: keep-alive` is not honoured: it closes too.
    public var permitsKeepAlive: Bool {
        guard version.major == 1, version.minor >= 1, !headers.containsToken("close", in: "Connection"),
              !headers.contains("Transfer-Encoding") else { return false }
        guard let length = headers["Content-Length"] else { return true }
        return !length.isEmpty && length.utf8.allSatisfy { $0 == UInt8(ascii: "0") }
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
