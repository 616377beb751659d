import Testing
import WebSocketCore

/// RFC 6455 §3: the ws and wss URIs a client opens.
@Suite struct WebSocketURLTests {
    @Test("Valid URLs come apart into host, port, TLS and resource name", arguments: [
        ("ws://example.com", false, "example.com", 80, "/", "example.com"),
        ("wss://example.com", true, "example.com", 443, "/", "example.com"),
        ("WSS://Example.COM:443/chat", true, "example.com", 443, "/chat", "example.com"),
        ("ws://example.com:8080/chat?room=1&x=%20y", false, "example.com", 8080, "/chat?room=1&x=%20y", "example.com:8080"),
        ("ws://example.com?query", false, "example.com", 80, "/?query", "example.com"),
        ("ws://127.0.0.1:9001/", false, "127.0.0.1", 9001, "/", "127.0.0.1:9001"),
        ("wss://[::1]:8443/x", true, "::1", 8443, "/x", "[::1]:8443"),
        ("ws://[2001:db8::1]/", false, "2001:db8::1", 80, "/", "[2001:db8::1]"),
        ("http://example.com/a", false, "example.com", 80, "/a", "example.com"),
        ("https://example.com/a", true, "example.com", 443, "/a", "example.com"),
    ])
    func parses(url: String, secure: Bool, host: String, port: Int, resource: String, authority: String) throws {
        let parsed = try WebSocketURL(url)
        #expect(parsed.isSecure == secure)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
        #expect(parsed.resourceName == resource)
        #expect(parsed.authority == authority)
    }

    @Test("Invalid URLs are refused with a reason", arguments: [
        ("example.com", "no scheme"),
        ("ftp://example.com/", "not ws or wss"),
        ("ws:example.com", "no //"),
        ("ws://example.com/#frag", "fragment"),
        ("ws://user:pass@example.com/", "Authorization"),
        ("ws:///path", "no host"),
        ("ws://example.com:0/", "not 1-65535"),
        ("ws://example.com:65536/", "not 1-65535"),
        ("ws://example.com:80a/", "not 1-65535"),
        ("ws://example.com:/", "not 1-65535"),
        ("ws://[::1/", "closing ]"),
        ("ws://[::1]x/", "after the IPv6"),
        ("ws://[example]/", "not an IPv6"),
        ("ws://exa mple.com/", "space or control"),
        ("ws://example.com/a b", "space or control"),
        ("ws://exa*mple.com/", "not a host"),
    ])
    func refuses(url: String, reason: String) {
        do {
            _ = try WebSocketURL(url)
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.message.contains(reason), "\(error)")
        }
    }

    @Test func describesItselfAsAWebSocketURL() throws {
        #expect(try WebSocketURL("https://Example.com:443/a?b").description == "wss://example.com/a?b")
        #expect(try WebSocketURL("ws://[::1]:81").description == "ws://[::1]:81/")
    }
}
