/// The rules of RFC 9112 that an origin server applies to every request before it looks at
/// what is asked for: the HTTP version, the target's form, and the `Host` header.
/// ``ServerHandshake/validate(_:)`` applies them to upgrades in its own pass over the head.
extension ServerHandshake {
    /// Checks a request head against the rules every request to a server must pass: an HTTP/1.x
    /// version (505 otherwise), a target in origin or absolute form (400), and exactly one
    /// valid, non-empty `Host` (400; HTTP/1.0 may leave it out), as RFC 9112 §3.2 requires.
    public static func checkRequest(_ head: HTTPRequestHead) throws(HandshakeError) {
        try checkVersion(head)
        try checkTarget(head)
        var hosts = 0, hostIndex = -1, index = 0
        head.headers.forEachField { name, _ in
            if name.count == 4 && HTTPHeaders.bytesMatch(name, UnsafeBufferPointer(start: hostName.utf8Start, count: 4)) {
                hosts += 1
                hostIndex = index
            }
            index += 1
        }
        if hosts == 0 && head.version.minor == 0 { return }
        try checkHost(head.headers, count: hosts, index: hostIndex)
    }

    private static let hostName: StaticString = "Host"

    /// 505 unless the version is HTTP/1.x: this server speaks HTTP/1.1 (RFC 9112 §2.3).
    static func checkVersion(_ head: HTTPRequestHead) throws(HandshakeError) {
        guard head.version.major == 1 else {
            throw HandshakeError(status: 505, reason: "Only HTTP/1.1 is supported")
        }
    }

    /// 400 unless the target is in a form a server accepts (RFC 9112 §3.2).
    static func checkTarget(_ head: HTTPRequestHead) throws(HandshakeError) {
        guard head.hasServerTargetForm else {
            throw HandshakeError(status: 400, reason: "Malformed request target")
        }
    }

    /// 400 unless there is exactly one `Host` field (at `index` of the headers) whose value is
    /// a valid, non-empty `uri-host [":" port]` (RFC 9112 §3.2, RFC 9110 §7.2).
    static func checkHost(_ headers: HTTPHeaders, count: Int, index: Int) throws(HandshakeError) {
        guard count == 1 else {
            throw HandshakeError(status: 400, reason: count == 0 ? "Missing Host header" : "More than one Host header")
        }
        guard headers.withValueBytes(at: index, isValidHost) else {
            throw HandshakeError(status: 400, reason: "Malformed Host header")
        }
    }

    /// Whether `value` is `uri-host [":" port]` (RFC 3986 §3.2.2-3.2.3): a bracketed IP literal
    /// or a reg-name / IPv4 address, then at most five port digits; empty is not valid.
    static func isValidHost(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !value.isEmpty else { return false }
        var i = 0
        if value[0] == UInt8(ascii: "[") {
            // IP-literal: hex digits, ':' and '.' (IPv6), or IPvFuture's unreserved and sub-delims.
            i = 1
            while i < value.count && value[i] != UInt8(ascii: "]") {
                guard isRegNameByte(value[i]) || value[i] == UInt8(ascii: ":") else { return false }
                i += 1
            }
            guard i < value.count, i > 1 else { return false }
            i += 1
        } else {
            while i < value.count && value[i] != UInt8(ascii: ":") {
                guard isRegNameByte(value[i]) else { return false }
                i += 1
            }
            guard i > 0 else { return false }
        }
        guard i < value.count else { return true }
        guard value[i] == UInt8(ascii: ":"), value.count - i - 1 <= 5 else { return false }
        return value[(i + 1)...].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// reg-name's bytes: unreserved (letters, digits, `-._~`), sub-delims (`!$&'()*+,;=`) and
    /// `%` of a pct-encoded triple.
    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-._~!$&'()*+,;=%".utf8.contains(byte)
        }
    }
}
