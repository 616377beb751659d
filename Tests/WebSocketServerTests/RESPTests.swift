import Testing
import WebSocketRedis

/// RESP2 (https://redis.io/docs/latest/develop/reference/protocol-spec/): the spec's examples,
/// every split of the input, the limits, malformed input.
@Suite struct RESPTests {
    /// Every value in `bytes`, fed in pieces of `split` bytes.
    func values(_ bytes: [UInt8], split: Int, limits: RESPLimits = RESPLimits()) throws -> [RESPValue] {
        var parser = RESPParser(limits: limits)
        var values: [RESPValue] = []
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + split)
            parser.receive(bytes[index..<end])
            while let value = try parser.next() { values.append(value) }
            index = end
        }
        return values
    }

    static let vectors: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("-ERR unknown command 'foobar'\r\n", .error("ERR unknown command 'foobar'")),
        (":1000\r\n", .integer(1000)),
        (":-42\r\n", .integer(-42)),
        ("$5\r\nhello\r\n", .bulkString(Array("hello".utf8))),
        ("$0\r\n\r\n", .bulkString([])),
        ("$-1\r\n", .bulkString(nil)),
        ("*0\r\n", .array([])),
        ("*-1\r\n", .array(nil)),
        ("*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n", .array([.bulkString(Array("hello".utf8)), .bulkString(Array("world".utf8))])),
        ("*3\r\n:1\r\n:2\r\n:3\r\n", .array([.integer(1), .integer(2), .integer(3)])),
        ("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
         .array([.array([.integer(1), .integer(2), .integer(3)]), .array([.simpleString("Hello"), .error("World")])])),
        ("*3\r\n$7\r\nmessage\r\n$4\r\nws:t\r\n$4\r\n\r\n\0\u{1}\r\n",
         .array([.bulkString(Array("message".utf8)), .bulkString(Array("ws:t".utf8)), .bulkString([13, 10, 0, 1])])),
    ]

    @Test("The specification's examples, in every split", arguments: 1...8)
    func vectorsInEverySplit(split: Int) throws {
        let all = RESPTests.vectors.flatMap { Array($0.0.utf8) }
        #expect(try values(all, split: split) == RESPTests.vectors.map(\.1))
    }

    @Test func aBulkStringMayHoldCRLFAndAnyByte() throws {
        let payload = (0...255).map { UInt8($0) } + Array("\r\n\r\n".utf8)
        var bytes = Array("$\(payload.count)\r\n".utf8) + payload + [13, 10]
        bytes += Array(":7\r\n".utf8)
        for split in [1, 3, 7, 100, bytes.count] {
            #expect(try values(bytes, split: split) == [.bulkString(payload), .integer(7)])
        }
    }

    @Test func commandsAreArraysOfBulkStrings() throws {
        #expect(RESPCommand.encode("PUBLISH", "ws:t:room", "hi") == Array("*3\r\n$7\r\nPUBLISH\r\n$9\r\nws:t:room\r\n$2\r\nhi\r\n".utf8))
        var parser = RESPParser()
        parser.receive(RESPCommand.encode("SUBSCRIBE", "a", ""))
        #expect(try parser.next() == .array([.bulkString(Array("SUBSCRIBE".utf8)), .bulkString(Array("a".utf8)), .bulkString([])]))
    }

    @Test("Limits are enforced as soon as the header says so", arguments: [
        ("$100\r\n", "over the limit"),
        ("*11\r\n", "over the limit"),
        ("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "nested deeper"),
        ("+" + String(repeating: "x", count: 300), "a line over"),
    ])
    func limits(input: String, reason: String) {
        let limits = RESPLimits(maxBulkLength: 64, maxArrayCount: 10, maxDepth: 3, maxLineLength: 256)
        do {
            _ = try values(Array(input.utf8), split: 1000, limits: limits)
            Issue.record("\(input.prefix(20)) was accepted")
        } catch {
            #expect("\(error)".contains(reason), "\(error)")
        }
    }

    @Test("Malformed input is refused", arguments: [
        "?what\r\n", ":12a\r\n", ":\r\n", "$-2\r\n", "*-5\r\n", "$3\r\nabcXY", "+OK\rX", "+OK\n", ":99999999999999999999\r\n",
    ])
    func malformed(input: String) {
        #expect(throws: RESPError.self) { _ = try values(Array(input.utf8), split: 1) }
    }

    @Test func anIncompleteValueWaitsForMoreBytes() throws {
        var parser = RESPParser()
        parser.receive(Array("*2\r\n$5\r\nhel".utf8))
        #expect(try parser.next() == nil)
        parser.receive(Array("lo\r\n:".utf8))
        #expect(try parser.next() == nil)
        parser.receive(Array("1\r\n".utf8))
        #expect(try parser.next() == .array([.bulkString(Array("hello".utf8)), .integer(1)]))
        #expect(try parser.next() == nil)
    }
}
