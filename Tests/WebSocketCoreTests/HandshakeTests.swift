import Testing
@testable import WebSocketCore

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite struct SHA1AndBase64Tests {
    @Test("FIPS 180 SHA-1 vectors", arguments: [
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"),
    ])
    func sha1(input: String, digest: String) {
        #expect(hex(SHA1.hash(Array(input.utf8))) == digest)
    }

    @Test func sha1MillionA() {
        var sha = SHA1()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { sha.update(chunk) }
        #expect(hex(sha.finalize()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test("RFC 4648 §10 Base64 vectors", arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func base64(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test("Non-canonical Base64 is rejected", arguments: ["Zg", "Zg=", "Z===", "Zh==", "Zm9=", "Zm9vYg=a", "Zm 9", "Zm9v\n", "=Zm9"])
    func base64Rejects(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func base64RoundTripsRandomBytes() {
        var rng = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }
}

@Suite struct AcceptKeyTests {
    @Test("Sec-WebSocket-Accept vectors", arguments: [
        ("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),  // RFC 6455 §1.3
        ("Iv8io/9s+lYFgZWcXczP8Q==", "hsBlbuDTkk24srzEOTBUlZAlC2g="),  // the seed texts' example
    ])
    func accept(key: String, accept: String) {
        #expect(ServerHandshake.acceptValue(forKey: key) == accept)
    }
}

/// The request of RFC 6455 §1.2, as bytes.
let rfcRequest = """
GET /chat?room=1 HTTP/1.1\r
Host: server.example.com\r
Upgrade: websocket\r
Connection: Upgrade\r
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
Origin: http://example.com\r
Sec-WebSocket-Protocol: chat, superchat\r
Sec-WebSocket-Version: 13\r
\r

"""

func parseRequest(_ text: String, limits: HTTPHeadLimits = HTTPHeadLimits()) throws(HTTPParseError) -> HTTPRequestHead? {
    var parser = HTTPHeadParser(limits: limits)
    if case .complete(let head, _) = try parser.parseRequest(Array(text.utf8)) { return head }
    return nil
}

@Suite struct HTTPHeadParserTests {
    @Test func parsesTheRFCRequest() throws {
        let head = try #require(try parseRequest(rfcRequest))
        #expect(head.method == "GET")
        #expect(head.path == "/chat")
        #expect(head.query == "room=1")
        #expect(head.version == (1, 1))
        #expect(head.headers["host"] == "server.example.com")
        #expect(head.headers["SEC-WEBSOCKET-KEY"] == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(head.headers.tokens("Sec-WebSocket-Protocol") == ["chat", "superchat"])
    }

    /// Split anywhere, with or without empty lines before the request line (skipped): the same
    /// head, and the same bytes after it (which the parser now locates by offset).
    @Test(arguments: ["", "\r\n\r\n"])
    func anySplitGivesTheSameHeadAndRemainder(emptyLines: String) throws {
        let bytes = Array((emptyLines + rfcRequest + "\u{81}\u{0}").utf8)  // two bytes of a frame follow the head
        var whole = HTTPHeadParser()
        guard case .complete(let expected, let expectedRemainder) = try whole.parseRequest(bytes) else {
            Issue.record("no head"); return
        }
        for split in 1..<bytes.count {
            var parser = HTTPHeadParser()
            var result = try parser.parseRequest(Array(bytes[..<split]))
            var trailing: [UInt8] = []
            if case .needMoreData = result {
                result = try parser.parseRequest(Array(bytes[split...]))
            } else {
                trailing = Array(bytes[split...])  // bytes after the head that arrive later
            }
            guard case .complete(let head, let remainder) = result else { Issue.record("split \(split)"); continue }
            #expect(head == expected)
            #expect(remainder + trailing == expectedRemainder)
        }
        // One byte at a time.
        var parser = HTTPHeadParser()
        var found: HTTPRequestHead?
        var remainder: [UInt8] = []
        for byte in bytes {
            if found != nil { remainder.append(byte); continue }
            if case .complete(let head, let rest) = try parser.parseRequest([byte]) { found = head; remainder = rest }
        }
        #expect(found == expected)
        #expect(remainder == expectedRemainder)
    }

    @Test func repeatedHeadersKeptInOrder() throws {
        let head = try #require(try parseRequest("GET / HTTP/1.1\r\nA: 1\r\nB: x\r\na: 2\r\n\r\n"))
        #expect(head.headers.values("A") == ["1", "2"])
        #expect(head.headers.fields.map(\.name) == ["A", "B", "a"])
    }

    @Test("Malformed heads get 400", arguments: [
        "GET / HTTP/1.1\nHost: a\r\n\r\n",            // bare LF
        "GET / HTTP/1.1\r\nHost: a\n\r\n",            // bare LF
        "GET / HTTP/1.1\r\nHost: a\r\n continued\r\n\r\n",  // obs-fold
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",         // whitespace before colon
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /  HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET / HTTX/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",          // bare CR
        "GET / HTTP/1.1\r\nA: b\u{01}c\r\n\r\n",      // control character
    ])
    func malformed(text: String) {
        #expect(throws: HTTPParseError.self) { try parseRequest(text) }
        do { _ = try parseRequest(text) } catch { #expect(error.status == 400) }
    }

    @Test func headOverTheSizeLimitGets431() {
        let big = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n"
        do { _ = try parseRequest(big); Issue.record("accepted") } catch { #expect(error.status == 431) }
        // Also when the limit is reached across several inputs without a blank line.
        var parser = HTTPHeadParser(limits: HTTPHeadLimits(maxHeadSize: 64))
        var status = 0
        for _ in 0..<10 {
            do { _ = try parser.parseRequest(Array("X-Some: header\r\n".utf8)) } catch { status = error.status; break }
        }
        #expect(status == 431)
    }

    @Test func tooManyHeadersGets431() {
        let text = "GET / HTTP/1.1\r\n" + (0..<101).map { "H\($0): v\r\n" }.joined() + "\r\n"
        do { _ = try parseRequest(text); Issue.record("accepted") } catch { #expect(error.status == 431) }
        let ok = "GET / HTTP/1.1\r\n" + (0..<100).map { "H\($0): v\r\n" }.joined() + "\r\n"
        #expect((try? parseRequest(ok)) != nil)
    }

    @Test func parsesAResponse() throws {
        var parser = HTTPHeadParser()
        let text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nxy"
        guard case .complete(let head, let rest) = try parser.parseResponse(Array(text.utf8)) else { Issue.record(); return }
        #expect(head.status == 101)
        #expect(head.reasonPhrase == "Switching Protocols")
        #expect(rest == Array("xy".utf8))
    }
}

@Suite struct ServerHandshakeTests {
    func validate(_ text: String) throws(HandshakeError) -> UpgradeRequest {
        try ServerHandshake.validate(try! parseRequest(text)!)
    }

    @Test func acceptsTheRFCRequestAndAnswersWithTheRFCAccept() throws {
        let request = try validate(rfcRequest)
        #expect(request.subprotocols == ["chat", "superchat"])
        #expect(request.origin == "http://example.com")
        let response = try ServerHandshake.acceptResponse(for: request, subprotocol: "chat", headers: ["Set-Cookie": "a=b"])
        let text = String(decoding: response.serialized(), as: UTF8.self)
        #expect(text == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\nSet-Cookie: a=b\r\n\r\n")
    }

    @Test func refusesASubprotocolThatWasNotOffered() throws {
        let request = try validate(rfcRequest)
        #expect(throws: HandshakeError.self) { try ServerHandshake.acceptResponse(for: request, subprotocol: "mqtt") }
    }

    @Test func connectionTokenListsAndCaseAreAccepted() throws {
        let text = rfcRequest.replacingOccurrences("Connection: Upgrade", "Connection: keep-alive, UPGRADE")
            .replacingOccurrences("Upgrade: websocket", "Upgrade: WebSocket")
        _ = try validate(text)
        // A second Connection line carrying the token counts too.
        let split = rfcRequest.replacingOccurrences("Connection: Upgrade", "Connection: keep-alive\r\nConnection: upgrade")
        _ = try validate(split)
    }

    static let failures: [(String, String, Int)] = [
        ("GET /chat?room=1 HTTP/1.1", "POST /chat HTTP/1.1", 405),
        ("GET /chat?room=1 HTTP/1.1", "GET /chat HTTP/1.0", 400),
        ("Host: server.example.com\r\n", "", 400),
        ("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n", 400),
        ("Upgrade: websocket\r\n", "", 426),
        ("Upgrade: websocket\r\n", "Upgrade: h2c\r\n", 400),
        ("Connection: Upgrade\r\n", "Connection: keep-alive\r\n", 400),
        ("Connection: Upgrade\r\n", "", 400),
        ("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 8\r\n", 426),
        ("Sec-WebSocket-Version: 13\r\n", "", 426),
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 400),
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n", 400),  // 10 bytes
        ("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Key: not base64 at all!!!!!!!\r\n", 400),
        ("Sec-WebSocket-Protocol: chat, superchat\r\n", "Sec-WebSocket-Protocol: chat, su per\r\n", 400),
        ("Sec-WebSocket-Protocol: chat, superchat\r\n", "Sec-WebSocket-Extensions: permessage-deflate; =x\r\n", 400),
    ]

    @Test("Each rule of §4.2.1 maps to its status", arguments: failures)
    func failure(replacing: String, with replacement: String, status: Int) {
        let text = rfcRequest.replacingOccurrences(replacing, replacement)
        do {
            _ = try validate(text)
            Issue.record("accepted: \(replacement)")
        } catch {
            #expect(error.status == status)
            if status == 426 { #expect(error.response.headers["Sec-WebSocket-Version"] == "13") }
            if status == 405 { #expect(error.response.headers["Allow"] == "GET") }
            let wire = String(decoding: error.response.serialized(), as: UTF8.self)
            #expect(wire.hasPrefix("HTTP/1.1 \(status) "))
            #expect(wire.contains("Connection: close\r\n"))
        }
    }

    @Test func extensionOffersAreParsedAcrossLinesWithQuotedValues() throws {
        let text = rfcRequest.replacingOccurrences("Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n")
        let request = try validate(text)
        #expect(request.extensionOffers == [
            ExtensionOffer(name: "permessage-deflate", parameters: [.init("client_max_window_bits")]),
            ExtensionOffer(name: "permessage-deflate", parameters: [.init("server_max_window_bits", "10")]),
            ExtensionOffer(name: "x-webkit-deflate-frame"),
        ])
    }

    @Test("Extension syntax errors", arguments: ["a;", "a; b=", "a; b=\"\"", "a; b=\"x y\"", "a b", ";a", "a; b=\"unterminated", "a,,b;c=d e"])
    func extensionSyntax(value: String) {
        #expect(ExtensionOffer.parse([value]) == nil)
    }

    @Test func clientAndServerAgree() throws {
        let client = ClientHandshake(host: "localhost:1", path: "/x", subprotocols: ["a", "b"], headers: ["Origin": "http://o"])
        var parser = HTTPHeadParser()
        guard case .complete(let head, _) = try parser.parseRequest(client.serializedRequest) else { Issue.record(); return }
        let request = try ServerHandshake.validate(head)
        #expect(request.origin == "http://o")
        let response = try ServerHandshake.acceptResponse(for: request, subprotocol: "b")
        var responseParser = HTTPHeadParser()
        guard case .complete(let responseHead, _) = try responseParser.parseResponse(response.serialized()) else { Issue.record(); return }
        let accepted = try client.validate(responseHead)
        #expect(accepted.subprotocol == "b")
        // A wrong accept value is refused.
        var tampered = responseHead
        tampered.headers.replaceOrAdd(name: "Sec-WebSocket-Accept", value: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(throws: ClientHandshakeError.self) { try client.validate(tampered) }
    }

    @Test func eachOfTheClientsChecksRefusesItsCase() throws {
        let client = ClientHandshake(host: "h", path: "/", subprotocols: ["a"], extensions: [ExtensionOffer(name: "permessage-deflate")],
                                     key: "dGhlIHNhbXBsZSBub25jZQ==")
        func answer(_ status: Int, _ fields: [(String, String)]) -> HTTPResponseHead {
            HTTPResponseHead(status: status, reasonPhrase: HTTPResponse.standardReasonPhrase(for: status), headers: HTTPHeaders(fields))
        }
        let good: [(String, String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]
        #expect(try client.validate(answer(101, good)).subprotocol == nil)
        let refusal = answer(401, [("WWW-Authenticate", "Bearer")])
        #expect(throws: ClientHandshakeError.unexpectedResponse(refusal)) { try client.validate(refusal) }
        let broken: [[(String, String)]] = [
            good.filter { $0.0 != "Upgrade" },
            good.filter { $0.0 != "Connection" },
            good.filter { $0.0 != "Sec-WebSocket-Accept" },
            good + [("Sec-WebSocket-Protocol", "b")],
            good + [("Sec-WebSocket-Protocol", "a"), ("Sec-WebSocket-Protocol", "a")],
            good + [("Sec-WebSocket-Extensions", "x-unoffered")],
            good + [("Sec-WebSocket-Extensions", "permessage-deflate; =")],
        ]
        for fields in broken {
            do {
                _ = try client.validate(answer(101, fields))
                Issue.record("accepted \(fields)")
            } catch {
                guard case .invalidUpgrade = error else { Issue.record("\(error)"); continue }
            }
        }
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        guard !target.isEmpty else { return nil }
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(target) { return index..<self.index(index, offsetBy: target.count) }
            index = self.index(after: index)
        }
        return nil
    }
}

@Suite struct Base64CountTests {
    @Test("decodedCount agrees with decode", arguments: ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zh==", "Zm9=", "Zg=", "=Zm9", "Zm=v", "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR==", "a!==", "Zm9vYmFy"])
    func agrees(text: String) {
        #expect(Base64.decodedCount(text) == Base64.decode(text)?.count)
    }
}

/// Checks of the fast paths the handshake takes: each against a plain, independent version.
@Suite struct HandshakeFastPathTests {
    @Test func acceptShortcutAgreesWithTheGeneralSHA1() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let key = Base64.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let general = Base64.encode(SHA1.hash(Array((key + ServerHandshake.guid).utf8)))
            #expect(ServerHandshake.acceptValue(forKey: key) == general)
        }
        // Keys of other lengths take the general path and still hash key + GUID.
        #expect(ServerHandshake.acceptValue(forKey: "abc") == Base64.encode(SHA1.hash(Array(("abc" + ServerHandshake.guid).utf8))))
    }

    @Test func decodedCountAgreesWithDecodeOnRandomText() {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=!- ".utf8)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let length = Int.random(in: 0...12, using: &rng)
            var chars = (0..<length).map { _ in alphabet[Int.random(in: 0..<64, using: &rng)] }
            // Often end in one or two '=', sometimes put an odd character anywhere.
            if length >= 2, Bool.random(using: &rng) { chars[length - 1] = UInt8(ascii: "=") }
            if length >= 2, Bool.random(using: &rng) { chars[length - 2] = UInt8(ascii: "=") }
            if length >= 1, Int.random(in: 0..<4, using: &rng) == 0 {
                chars[Int.random(in: 0..<length, using: &rng)] = alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
            }
            let text = String(decoding: chars, as: UTF8.self)
            #expect(Base64.decodedCount(text) == Base64.decode(text)?.count, "\(text)")
        }
    }

    @Test func everyByteInAHeaderNameIsJudgedByTheTokenRule() throws {
        // RFC 9110 §5.6.2, written out independently of the parser's table.
        let tchar = Set(Array("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8))
        for byte in UInt8(0)...UInt8(255) where byte != UInt8(ascii: ":") && byte != 0x0D && byte != 0x0A {
            let head = Array("GET / HTTP/1.1\r\nX".utf8) + [byte] + Array("Y: v\r\n\r\n".utf8)
            var parser = HTTPHeadParser()
            let accepted = (try? parser.parseRequest(head)).map { if case .complete = $0 { true } else { false } } ?? false
            #expect(accepted == tchar.contains(byte), "byte \(byte)")
        }
    }

    @Test func everyControlCharacterAtEveryPlaceInAValueIsRefused() throws {
        // Long enough that the eight-bytes-at-a-time scan meets the byte at every offset of a word.
        let value = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        for position in 0..<value.count {
            for byte in [UInt8(0x00), 0x01, 0x08, 0x0B, 0x1F, 0x7F] {
                var bad = value
                bad[position] = byte
                let head = Array("GET / HTTP/1.1\r\nName: ".utf8) + bad + Array("\r\n\r\n".utf8)
                var parser = HTTPHeadParser()
                #expect(throws: HTTPParseError.self) { try parser.parseRequest(head) }
            }
            // Tab, space inside, and obs-text (bytes 0x80-0xFF) are allowed in values.
            for byte in [UInt8(0x09), 0x20, 0x80, 0xFF] where position > 0 && position < value.count - 1 {
                var fine = value
                fine[position] = byte
                let head = Array("GET / HTTP/1.1\r\nName: ".utf8) + fine + Array("\r\n\r\n".utf8)
                var parser = HTTPHeadParser()
                guard case .complete(let parsed, _) = try parser.parseRequest(head) else { Issue.record("incomplete"); continue }
                #expect(parsed.headers.withValueBytes(at: 0) { Array($0) } == fine)
            }
        }
    }

    @Test func aBareCROrLFAnywhereIsRefusedWhateverTheAlignment() throws {
        for pad in 0..<8 {
            // Padding the target shifts every later byte against the eight-byte words.
            let text = "GET /a" + String(repeating: "b", count: pad) + " HTTP/1.1\r\nHost: example.com\r\nX-Long-Header-Name: some long value here\r\n\r\n"
            let bytes = Array(text.utf8)
            var parser = HTTPHeadParser()
            guard case .complete = try parser.parseRequest(bytes) else { Issue.record("valid head refused"); continue }
            for position in 0..<(bytes.count - 4) where bytes[position] != 0x0D && bytes[position] != 0x0A {
                for stray in [UInt8(0x0D), 0x0A] {
                    var bad = bytes
                    bad[position] = stray
                    var parser = HTTPHeadParser()
                    let outcome = try? parser.parseRequest(bad)
                    if case .complete = outcome { Issue.record("pad \(pad) position \(position) byte \(stray) accepted") }
                }
            }
        }
    }

    @Test func parsedAndBuiltHeadersBehaveAlike() throws {
        let head = try #require(try parseRequest("GET / HTTP/1.1\r\nHost: h\r\nA:  one  \r\nb: two, three\r\nA: four\r\n\r\n"))
        var built = HTTPHeaders([("Host", "h"), ("A", "one"), ("b", "two, three"), ("A", "four")])
        #expect(head.headers == built)
        #expect(head.headers.hashValue == built.hashValue)
        #expect(head.headers.fields.map(\.value) == ["h", "one", "two, three", "four"])
        #expect(Array(head.headers).map(\.name) == ["Host", "A", "b", "A"])
        var parsed = head.headers
        parsed.replaceOrAdd(name: "a", value: "five")
        built.remove(name: "A")
        built.add(name: "a", value: "five")
        #expect(parsed == built)
        #expect(parsed.values("A") == ["five"])
        #expect(parsed.count == 3)
        #expect(parsed.tokens("B") == ["two", "three"])
        #expect(parsed.containsToken("THREE", in: "b"))
        parsed.remove(name: "host")
        parsed.remove(name: "b")
        parsed.remove(name: "a")
        #expect(parsed == HTTPHeaders())
        #expect(parsed["a"] == nil)
        // Spelling matters to equality, as before.
        #expect(HTTPHeaders([("A", "1")]) != HTTPHeaders([("a", "1")]))
        #expect(HTTPHeaders([("A", "1")]) != HTTPHeaders([("A", "2")]))
    }

    /// The span table is narrow (16-bit offsets) while the field bytes fit in 64 KiB, and
    /// turns wide when a field takes them past it, parsed or built: nothing read changes.
    @Test func headersPast64KiBKeepEveryField() throws {
        let big = String(repeating: "v", count: 30_000)
        var built = HTTPHeaders([("Host", "h")])
        for i in 0..<4 { built.add(name: "X-\(i)", value: big + "\(i)") }  // 120 KB: wide from the third
        #expect(built.count == 5)
        #expect(built["host"] == "h")
        #expect((0..<4).map { built["x-\($0)"] } == (0..<4).map { big + "\($0)" })
        built.remove(name: "X-1")
        built.add(name: "Last", value: "end")
        #expect(built.fields.map(\.name) == ["Host", "X-0", "X-2", "X-3", "Last"])
        #expect(built["X-3"] == big + "3" && built["last"] == "end")

        let lines = (0..<4).map { "X-\($0): \(big)\($0)\r\n" }.joined()
        let head = try #require(try parseRequest("GET / HTTP/1.1\r\nHost: h\r\n" + lines + "\r\n", limits: HTTPHeadLimits(maxHeadSize: 200_000)))
        #expect(head.headers == HTTPHeaders([("Host", "h")] + (0..<4).map { ("X-\($0)", big + "\($0)") }))
        #expect(head.headers["X-2"] == big + "2")
    }
}
