import Testing
@testable import WebSocketCore

private func validateUpgrade(_ text: String) throws(HandshakeError) -> UpgradeRequest {
    guard let head = try? parseRequest(text) else { throw HandshakeError(status: 0, reason: "did not parse") }
    return try ServerHandshake.validate(head)
}

private func status(ofUpgrade text: String) -> Int? {
    do { _ = try validateUpgrade(text); return nil } catch { return error.status }
}

private func status(ofRequest text: String) -> Int? {
    guard let head = try? parseRequest(text) else { return -1 }
    do { try ServerHandshake.checkRequest(head); return nil } catch { return error.status }
}

/// RFC 9112 as it applies at the upgrade and to every request (issue: strict HTTP).
@Suite struct RequestRuleTests {
    @Test("HTTP versions other than 1.x get 505", arguments: ["HTTP/2.0", "HTTP/9.9", "HTTP/0.9", "HTTP/3.1"])
    func otherVersions(version: String) {
        let text = rfcRequest.replacingOccurrences("HTTP/1.1", version)
        #expect(status(ofUpgrade: text) == 505)
        #expect(status(ofRequest: "GET / \(version)\r\nHost: a\r\n\r\n") == 505)
    }

    @Test func http10KeepsItsOwnError() {
        #expect(status(ofUpgrade: rfcRequest.replacingOccurrences("HTTP/1.1", "HTTP/1.0")) == 400)
        // A plain HTTP/1.0 request needs no Host.
        #expect(status(ofRequest: "GET / HTTP/1.0\r\n\r\n") == nil)
        #expect(status(ofRequest: "GET / HTTP/1.1\r\n\r\n") == 400)
    }

    @Test("An upgrade that announces a body gets 400", arguments: [
        "Content-Length: 5\r\n", "Content-Length: 1\r\n", "Content-Length: \r\n", "Content-Length: abc\r\n",
        "Content-Length: 0, 0\r\n", "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: identity\r\n",
        "transfer-encoding: chunked\r\nContent-Length: 0\r\n",
    ])
    func bodies(field: String) {
        let text = rfcRequest.replacingOccurrences("Upgrade: websocket\r\n", "Upgrade: websocket\r\n" + field)
        #expect(status(ofUpgrade: text) == 400)
    }

    @Test func contentLengthZeroIsNoBody() throws {
        for value in ["0", "00"] {
            let text = rfcRequest.replacingOccurrences("Upgrade: websocket\r\n", "Upgrade: websocket\r\nContent-Length: \(value)\r\n")
            _ = try validateUpgrade(text)
        }
    }

    @Test("Missing, empty, repeated or malformed Host gets 400", arguments: [
        "", "Host: \r\n", "Host: a\r\nHost: a\r\n", "Host: a b\r\n", "Host: a/b\r\n", "Host: a@b\r\n", "Host: :80\r\n",
        "Host: a:b\r\n", "Host: a:123456\r\n", "Host: [::1\r\n", "Host: []\r\n", "Host: [::1]x\r\n", "Host: a:80:80\r\n",
        "Host: caf\u{E9}.example\r\n", "Host: http://a\r\n",
    ])
    func badHosts(field: String) {
        let text = rfcRequest.replacingOccurrences("Host: server.example.com\r\n", field)
        #expect(status(ofUpgrade: text) == 400, "\(field)")
        #expect(status(ofRequest: "GET / HTTP/1.1\r\n\(field)\r\n") == 400, "\(field)")
    }

    @Test("Valid Host values pass", arguments: [
        "example.com", "example.com:80", "EXAMPLE.com:", "127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:8080",
        "[fe80::1%25eth0]:1", "[v7.fe80::abcd]", "xn--bcher-kva.example", "a-b_c~d.e!$&'()*+,;=", "%41.example",
    ])
    func goodHosts(value: String) throws {
        let text = rfcRequest.replacingOccurrences("Host: server.example.com", "Host: \(value)")
        _ = try validateUpgrade(text)
        #expect(status(ofRequest: "GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n") == nil)
    }

    @Test func absoluteFormTargetsRouteByTheirPath() throws {
        let text = rfcRequest.replacingOccurrences("GET /chat?room=1 HTTP/1.1", "GET http://server.example.com:8080/chat?room=1 HTTP/1.1")
        let request = try validateUpgrade(text)
        #expect(request.path == "/chat")
        #expect(request.query == "room=1")
        // RFC 9112 §3.2.2: the target's authority, not the Host header, names the host.
        #expect(request.host == "server.example.com:8080")
        let bare = try #require(try parseRequest("GET HTTPS://example.com HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(bare.path == "/")
        #expect(bare.query == nil)
        #expect(bare.targetAuthority == "example.com")
        let queryOnly = try #require(try parseRequest("GET http://example.com?a=b HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(queryOnly.path == "/")
        #expect(queryOnly.query == "a=b")
        // Origin form is unchanged, and has no target authority.
        let origin = try #require(try parseRequest("GET /a/b?c HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(origin.path == "/a/b")
        #expect(origin.targetAuthority == nil)
    }

    @Test("Targets in no server form get 400", arguments: ["chat", "example.com:80", "*", "1http://a/", "http:/a"])
    func badTargets(target: String) {
        #expect(status(ofRequest: "GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        #expect(status(ofUpgrade: rfcRequest.replacingOccurrences("/chat?room=1", target)) == 400)
    }

    @Test func optionsMayUseTheAsteriskForm() {
        #expect(status(ofRequest: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") == nil)
    }

    @Test func emptyLinesBeforeTheRequestLineAreSkippedForEverySplit() throws {
        let text = Array(("\r\n\r\n\r\n" + rfcRequest + "rest").utf8)
        for cut in 0...text.count {
            var parser = HTTPHeadParser()
            var result: (HTTPRequestHead, [UInt8])?
            for piece in [Array(text[..<cut]), Array(text[cut...])] {
                if result != nil {
                    result!.1 += piece  // after the head, the bytes are the caller's
                } else if case .complete(let head, let remainder) = try parser.parseRequest(piece) {
                    result = (head, remainder)
                }
            }
            let (head, remainder) = try #require(result, "cut at \(cut)")
            #expect(head.path == "/chat", "cut at \(cut)")
            #expect(remainder == Array("rest".utf8), "cut at \(cut)")
        }
    }

    @Test func emptyLinesStayStrict() {
        for text in ["\n" + rfcRequest, "\r\r\n" + rfcRequest, "\r\n \r\n" + rfcRequest] {
            #expect(throws: HTTPParseError.self) { try parseRequest(text) }
        }
        // Endless empty lines reach the head-size limit.
        var parser = HTTPHeadParser(limits: HTTPHeadLimits(maxHeadSize: 100))
        var failed: HTTPParseError?
        for _ in 0..<100 {
            do { _ = try parser.parseRequest(Array("\r\n".utf8)) } catch { failed = error; break }
        }
        #expect(failed?.status == 431)
    }

    @Test("Origin against Host", arguments: [
        ("http://server.example.com", "server.example.com", true),
        ("http://server.example.com", "server.example.com:80", true),
        ("https://server.example.com", "server.example.com:443", true),
        ("HTTP://Server.Example.com:8080", "server.example.com:8080", true),
        ("http://[::1]:8080", "[::1]:8080", true),
        ("http://[::1]", "[::1]:80", true),
        // A Host without a port means the request scheme's default: the https page of this
        // host opening wss:// sends exactly this pair.
        ("https://server.example.com", "server.example.com", true),
        ("http://server.example.com:8080", "server.example.com", false),
        ("http://evil.example", "server.example.com", false),
        ("http://server.example.com.evil.example", "server.example.com", false),
        ("null", "server.example.com", false),
        ("ws://server.example.com", "server.example.com", false),
        ("http://server.example.com/path", "server.example.com", false),
    ])
    func originMatchesHost(origin: String, host: String, same: Bool) throws {
        let text = rfcRequest.replacingOccurrences("Origin: http://example.com", "Origin: \(origin)")
            .replacingOccurrences("Host: server.example.com", "Host: \(host)")
        #expect(try validateUpgrade(text).originMatchesHost == same, "\(origin) vs \(host)")
    }

    @Test func noOriginIsNotSameOrigin() throws {
        let text = rfcRequest.replacingOccurrences("Origin: http://example.com\r\n", "")
        #expect(try validateUpgrade(text).originMatchesHost == false)
    }
}
