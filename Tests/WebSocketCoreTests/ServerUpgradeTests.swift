import Testing
@testable import WebSocketCore

@Suite struct ServerUpgradeTests {
    @Test func aRequestInPiecesThenEarlyFramesGiveAnEngineThatHasThem() throws {
        let bytes = Array(rfcRequest.utf8) + clientFrame(0x1, Array("early".utf8))
        for cut in stride(from: 1, to: bytes.count, by: 7) {
            var upgrade = ServerUpgrade()
            let first = try upgrade.receive(Array(bytes[..<cut]))
            let request = try upgrade.receive(Array(bytes[cut...]))
            #expect(first == nil || first == request)
            #expect(request?.path == "/chat")
            var accepted = try upgrade.accept(subprotocol: "chat")
            let response = String(decoding: accepted.response, as: UTF8.self)
            #expect(response.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
            #expect(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
            #expect(response.contains("Sec-WebSocket-Protocol: chat\r\n"))
            #expect(accepted.engine.nextEvent() == .message(.text("early")), "cut at \(cut)")
        }
    }

    @Test func framesArrivingBeforeTheDecisionAreKept() throws {
        var upgrade = ServerUpgrade()
        #expect(try upgrade.receive(Array(rfcRequest.utf8))?.path == "/chat")
        #expect(try upgrade.receive(clientFrame(0x1, Array("waited".utf8)))?.path == "/chat")
        var accepted = try upgrade.accept()
        #expect(accepted.engine.nextEvent() == .message(.text("waited")))
    }

    @Test func compressionIsNegotiatedAndTheEngineUsesIt() throws {
        var upgrade = ServerUpgrade(configuration: .init(extensions: [PerMessageDeflate()]))
        let text = rfcRequest.replacingOccurrences("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n")
        _ = try upgrade.receive(Array(text.utf8))
        let accepted = try upgrade.accept()
        #expect(accepted.extensions.map(\.name) == ["permessage-deflate"])
        #expect(accepted.engine.extensionCodec != nil)
        #expect(String(decoding: accepted.response, as: UTF8.self).contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"))
    }

    @Test("Bad requests throw the response to write", arguments: [
        ("GET /chat HTTP/1.1\nHost: a\n\n", 400),
        (rfcRequest.replacingOccurrences("HTTP/1.1", "HTTP/2.0"), 505),
        (rfcRequest.replacingOccurrences("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"), 426),
        (rfcRequest.replacingOccurrences("Origin: http://example.com", "Origin: https://evil.example"), 403),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n", 431),
    ])
    func badRequests(text: String, status: Int) {
        var upgrade = ServerUpgrade(configuration: .init(allowedOrigins: ["http://example.com"]))
        do {
            _ = try upgrade.receive(Array(text.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.status == status)
            #expect(String(decoding: error.response.serialized(), as: UTF8.self).hasPrefix("HTTP/1.1 \(status) "))
        }
    }

    @Test func acceptBeforeARequestAndUnofferedSubprotocolsAreRefused() throws {
        let early = ServerUpgrade()
        #expect(throws: HandshakeError.self) { try early.accept() }
        var upgrade = ServerUpgrade()
        _ = try upgrade.receive(Array(rfcRequest.utf8))
        do { _ = try upgrade.accept(subprotocol: "mqtt"); Issue.record("accepted") } catch { #expect(error.status == 500) }
    }

    @Test func rejectAsksTheClientToClose() throws {
        var upgrade = ServerUpgrade()
        _ = try upgrade.receive(Array(rfcRequest.utf8))
        let response = String(decoding: upgrade.reject(.text(401, "no")), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        #expect(response.contains("Connection: close\r\n"))
    }
}
