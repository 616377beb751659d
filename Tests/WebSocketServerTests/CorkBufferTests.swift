import Testing
import WebSocketCore
@testable import WebSocketServer

/// The cork buffer lays out server frames a client engine reads back, at every header size it
/// writes (7-bit and 16-bit lengths), and tells when the next one would not fit.
@Suite struct CorkBufferTests {
    @Test func framesReadBackAtEveryLengthForm() {
        var cork = CorkBuffer()
        defer { cork.deallocate() }
        let claimed = cork.claim(for: 7)
        let claimedAgain = cork.claim(for: 8)  // owned already
        #expect(claimed && !claimedAgain)
        let sizes = [0, 1, 125, 126, 127, 1000, 4000]
        let messages = sizes.enumerated().map { i, size in
            i % 2 == 0 ? Message.binary((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13) }) : .text(String(repeating: "é", count: size / 2))
        }
        for message in messages {
            #expect(cork.hasRoom(forPayload: message.data.count))
            message.data.withUnsafeBytes { cork.appendFrame(message.kind, payload: $0, accounted: message.data.count) }
        }
        #expect(cork.accounted == messages.reduce(0) { $0 + $1.data.count })
        var client = WebSocketEngine(role: .client)
        client.receive(Array(cork.bytes))
        #expect(client.takeEvents() == messages.map { .message($0) })
        #expect(!cork.hasRoom(forPayload: CorkBuffer.capacity - cork.count))
        #expect(!CorkBuffer.canHold(payload: CorkBuffer.capacity))
        cork.release()
        #expect(cork.count == 0 && cork.accounted == 0)
        let claimedAfterRelease = cork.claim(for: 8)
        #expect(claimedAfterRelease)
    }
}
