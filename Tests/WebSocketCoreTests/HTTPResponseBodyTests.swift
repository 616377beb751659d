import Testing
import WebSocketCore

/// RFC 9112 §6.3 and §7.1: what a client keeps of a refusal's body.
@Suite struct HTTPResponseBodyTests {
    func head(_ text: String) throws -> (HTTPResponseHead, [UInt8]) {
        var parser = HTTPHeadParser()
        guard case .complete(let head, let rest) = try parser.parseResponse(Array(text.utf8)) else { throw ParseFailure() }
        return (head, rest)
    }
    struct ParseFailure: Error {}

    /// Feeds `rest` in pieces of `split` bytes.
    func read(_ text: String, split: Int, limit: Int = 1 << 16) throws -> HTTPResponseBody {
        let (head, rest) = try head(text)
        var body = HTTPResponseBody(for: head, limit: limit)
        var index = 0
        while index < rest.count, !body.isComplete {
            let end = min(rest.count, index + split)
            body.receive(Array(rest[index..<end]))
            index = end
        }
        return body
    }

    @Test("Content-Length, in every split", arguments: 1...12)
    func contentLength(split: Int) throws {
        let body = try read("HTTP/1.1 401 Unauthorized\r\nContent-Length: 9\r\n\r\nGo away.\nEXTRA", split: split)
        #expect(body.isComplete && !body.isTruncated)
        #expect(String(decoding: body.bytes, as: UTF8.self) == "Go away.\n")
    }

    @Test("Chunked, with an extension and a trailer, in every split", arguments: 1...40)
    func chunked(split: Int) throws {
        let text = "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nNot \r\nB\r\nallowed, no\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT"
        let body = try read(text, split: split)
        #expect(body.isComplete)
        #expect(String(decoding: body.bytes, as: UTF8.self) == "Not allowed, no")
    }

    @Test func aBodyWithoutALengthRunsToTheEnd() throws {
        var body = try read("HTTP/1.0 500 Oops\r\n\r\npart one, ", split: 4)
        #expect(!body.isComplete)
        body.receive(Array("part two".utf8))
        body.finish()
        #expect(body.isComplete && String(decoding: body.bytes, as: UTF8.self) == "part one, part two")
    }

    @Test func theLimitKeepsTheFirstBytesAndMarksTheRest() throws {
        let body = try read("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 100), split: 7, limit: 10)
        #expect(body.isComplete && body.isTruncated && body.bytes.count == 10)
    }

    @Test("No body for 1xx, 204 and 304", arguments: ["HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n"])
    func noBody(text: String) throws {
        #expect(try read(text, split: 1).isComplete)
    }

    @Test func brokenChunkFramingStopsWithWhatArrived() throws {
        let body = try read("HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n", split: 3)
        #expect(body.isComplete && String(decoding: body.bytes, as: UTF8.self) == "abc")
    }
}
