/// A `ws://` or `wss://` URL, taken apart as a client needs it (RFC 6455 §3): the host to
/// connect to, the port, whether TLS is used, and the resource name for the request line.
///
/// ```swift
/// let url = try WebSocketURL("wss://example.com/chat?room=1")
/// url.host            // "example.com"
/// url.port            // 443
/// url.resourceName    // "/chat?room=1"
/// ```
///
/// As browsers do (WHATWG URL), `http://` and `https://` mean `ws://` and `wss://`. A fragment
/// (`#...`) is refused, as RFC 6455 §3 says; so are user names and passwords in the URL (send an
/// `Authorization` header instead), spaces and control characters.
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    /// Whether the connection uses TLS (`wss://`).
    public var isSecure: Bool
    /// The host: a name (lowercased), an IPv4 address, or an IPv6 address without brackets.
    public var host: String
    /// The port: the one in the URL, else 80 (`ws`) or 443 (`wss`).
    public var port: Int
    /// The path and query for the request line: `/` when the URL has no path.
    public var resourceName: String

    /// Whether ``host`` is an IPv6 address (it goes in brackets in a URL or a `Host` header).
    public var isIPv6: Bool { host.contains(":") }

    /// The `Host` header's value: the host, and the port unless it is the scheme's default.
    public var authority: String {
        let name = isIPv6 ? "[\(host)]" : host
        return port == (isSecure ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// `wss://example.com/chat?room=1`.
    public var description: String { "\(isSecure ? "wss" : "ws")://\(authority)\(resourceName)" }

    /// Parses `string`, or throws what is wrong with it.
    public init(_ string: String) throws(WebSocketURLError) {
        let bytes = Array(string.utf8)
        guard let schemeEnd = bytes.firstIndex(of: UInt8(ascii: ":")) else {
            throw WebSocketURLError("\(string): no scheme; a WebSocket URL starts with ws:// or wss://")
        }
        switch String(decoding: bytes[..<schemeEnd], as: UTF8.self).lowercased() {
        case "ws", "http": isSecure = false
        case "wss", "https": isSecure = true
        case let other: throw WebSocketURLError("\(string): the scheme \(other) is not ws or wss")
        }
        var rest = bytes[(schemeEnd + 1)...]
        guard rest.starts(with: "//".utf8) else { throw WebSocketURLError("\(string): no // after the scheme") }
        rest = rest.dropFirst(2)
        if let bad = rest.first(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw WebSocketURLError("\(string): the character \(bad) (space or control) is not allowed; percent-encode it")
        }
        if rest.contains(UInt8(ascii: "#")) {
            throw WebSocketURLError("\(string): a WebSocket URL has no fragment (RFC 6455 §3); percent-encode # as %23")
        }
        let authorityEnd = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let resource = String(decoding: rest[authorityEnd...], as: UTF8.self)
        resourceName = resource.isEmpty ? "/" : (resource.hasPrefix("?") ? "/" + resource : resource)
        if authority.contains(UInt8(ascii: "@")) {
            throw WebSocketURLError("\(string): a user name or password in the URL is not sent; use an Authorization header")
        }
        // The host, then an optional :port.
        var portText: ArraySlice<UInt8>?
        let hostText: ArraySlice<UInt8>
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw WebSocketURLError("\(string): an IPv6 address without its closing ]")
            }
            hostText = authority[(authority.startIndex + 1)..<close]
            let afterHost = authority[(close + 1)...]
            if !afterHost.isEmpty {
                guard afterHost.first == UInt8(ascii: ":") else { throw WebSocketURLError("\(string): unexpected text after the IPv6 address") }
                portText = afterHost.dropFirst()
            }
            guard hostText.contains(UInt8(ascii: ":")),
                  hostText.allSatisfy({ WebSocketURL.isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { throw WebSocketURLError("\(string): \(String(decoding: hostText, as: UTF8.self)) is not an IPv6 address") }
        } else {
            if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
                hostText = authority[..<colon]
                portText = authority[(colon + 1)...]
            } else {
                hostText = authority
            }
            guard hostText.allSatisfy(WebSocketURL.isHostCharacter) else {
                throw WebSocketURLError("\(string): \(String(decoding: hostText, as: UTF8.self)) is not a host name or address")
            }
        }
        guard !hostText.isEmpty else { throw WebSocketURLError("\(string): no host") }
        host = String(decoding: hostText, as: UTF8.self).lowercased()
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ (0x30...0x39).contains($0) }),
                  let number = Int(String(decoding: portText, as: UTF8.self)), (1...65535).contains(number)
            else { throw WebSocketURLError("\(string): the port \(String(decoding: portText, as: UTF8.self)) is not 1-65535") }
            port = number
        } else {
            port = isSecure ? 443 : 80
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// A letter, digit, `-`, `.`, `_` or `~` (RFC 3986's unreserved characters, which is what
    /// DNS names and IPv4 addresses use).
    private static func isHostCharacter(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
    }
}

/// Why a string is not a WebSocket URL.
public struct WebSocketURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URL and what is wrong with it.
    public var message: String

    /// An error that says `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
