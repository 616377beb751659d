import Synchronization
import Testing
import WebSocketCore
@testable import WebSocketServer
#if canImport(Glibc)
import Glibc
#endif

/// A backplane that records what the server asks of it, for tests without a broker.
final class RecordingBackplane: Backplane {
    private let state = Locked<(calls: [String], node: BackplaneNode?)>(([], nil))
    var calls: [String] { state.withLock { $0.calls } }
    var node: BackplaneNode? { state.withLock { $0.node } }

    func start(for node: BackplaneNode) throws { state.withLock { $0.node = node } }
    func subscribe(_ topic: String) { state.withLock { $0.calls.append("subscribe \(topic)") } }
    func unsubscribe(_ topic: String) { state.withLock { $0.calls.append("unsubscribe \(topic)") } }
    func publish(_ message: Message, to topic: String) { state.withLock { $0.calls.append("publish \(topic) \(message.text ?? "")") } }
    var status: BackplaneStatus { BackplaneStatus(isConnected: true) }
    /// Records the call and lets the node go (it holds the server, which holds this backplane).
    func shutdown() async {
        state.withLock {
            $0.calls.append("shutdown")
            $0.node = nil
        }
    }
}

/// A server whose sockets join the topics named in their path (`/join/a,b`) and whose text
/// messages `publish TOPIC TEXT` publish, excluding the sender.
func topicServer(_ configure: (inout WebSocketServer.Configuration) -> Void = { _ in }) throws -> (WebSocketServer, Int) {
    // The routes reach the server weakly: a strong reference from its own routes would keep it,
    // and its loops, alive after the test (AddressSanitizer's leak check reported it).
    let box = Locked<WeakServer>(WeakServer())
    let (server, port) = try startServer(configure) { server in
        server.webSocket("*") { socket in
            let path = socket.request.path
            if path.hasPrefix("/join/") {
                for topic in path.dropFirst("/join/".count).split(separator: ",") { socket.subscribe(String(topic)) }
            }
            socket.onText { socket, text in
                let parts = text.split(separator: " ", maxSplits: 2).map(String.init)
                if parts.count == 3, parts[0] == "publish" {
                    let reached = box.withLock { $0.server }?.publish(.text(parts[2]), to: parts[1], excluding: socket) ?? -1
                    socket.send("reached \(reached)")
                } else if parts.count == 2, parts[0] == "leave" {
                    socket.unsubscribe(parts[1])
                    socket.send("left")
                }
            }
        }
    }
    box.withLock { $0.server = server }
    return (server, port)
}

/// A server held weakly.
struct WeakServer {
    weak var server: WebSocketServer?
}

extension WebSocketServerTests {
    @Suite struct TopicTests {
        @Test func membersOnEveryLoopGetAPublicationAndOthersDoNot() throws {
            let (server, port) = try topicServer()
            defer { stop(server) }
            // Four members (spread over both loops), one socket in another topic.
            let members = try (0..<4).map { _ in try TestClient(port: port, path: "/join/news,sport") }
            let other = try TestClient(port: port, path: "/join/weather")
            #expect(eventually { server.subscriberCount("news") == 4 && server.subscriberCount("weather") == 1 })
            #expect(server.publish(.text("headline"), to: "news") == 4)
            for member in members { #expect(member.nextMessage()?.text == "headline") }
            #expect(other.nextMessage(timeout: 200) == nil)
            // From a member, excluding itself.
            try members[0].send("publish sport goal")
            #expect(members[0].nextMessage()?.text == "reached 4")
            for member in members.dropFirst() { #expect(member.nextMessage()?.text == "goal") }
            #expect(server.publish(.text("nobody"), to: "empty") == 0)
        }

        @Test func leavingAndClosingEndMembership() throws {
            let (server, port) = try topicServer()
            defer { stop(server) }
            let a = try TestClient(port: port, path: "/join/t")
            let b = try TestClient(port: port, path: "/join/t")
            #expect(eventually { server.subscriberCount("t") == 2 })
            try a.send("leave t")
            #expect(a.nextMessage()?.text == "left")
            #expect(server.subscriberCount("t") == 1)
            try b.close()
            #expect(eventually { server.subscriberCount("t") == 0 })
            #expect(server.publish(.text("x"), to: "t") == 0)
        }

        @Test func manyPublicationsArriveInOrder() throws {
            let (server, port) = try topicServer()
            defer { stop(server) }
            let member = try TestClient(port: port, path: "/join/feed")
            #expect(eventually { server.subscriberCount("feed") == 1 })
            for i in 0..<2000 { server.publish(.binary(Array("\(i)".utf8)), to: "feed") }
            for i in 0..<2000 { #expect(member.nextMessage()?.data == Array("\(i)".utf8)) }
        }

        /// A member that does not read: publications go straight out while the socket takes
        /// them, what it does not take waits in the member's queue, later ones queue behind it,
        /// and once the member reads, every publication arrives whole and in order, and nothing
        /// is left counted in `bufferedAmount`.
        @Test func publicationsToASlowMemberStayWholeAndInOrder() throws {
            let (server, port) = try topicServer { $0.highWaterMark = 64 << 20 }
            defer { stop(server) }
            let member = try TestClient(port: port, path: "/join/slow", receiveBuffer: 4096)
            #expect(eventually { server.subscriberCount("slow") == 1 })
            let publications = (0..<1500).map { i in (0..<8000).map { UInt8(truncatingIfNeeded: $0 &+ i) } }  // 12 MB: more than the socket buffers hold
            for publication in publications {
                #expect(server.publish(.binary(publication), to: "slow", overflow: .queue) == 1)
                usleep(200)  // one publication per delivery turn, mostly
            }
            #expect(eventually { (server.connections().first?.bufferedAmount ?? 0) > 0 })  // the socket is full
            for (i, publication) in publications.enumerated() {
                let received = member.nextMessage()?.data
                #expect(received == publication, "publication \(i)")
                if received != publication { break }
            }
            #expect(eventually { server.connections().first?.bufferedAmount == 0 })
        }

        /// The open handler has run, and joined its topics, by the time the peer reads the 101:
        /// a publication right after the handshake reaches the new member (a chat interop run
        /// once lost a message to this race, when the 101 left before the handler ran).
        @Test func aMemberJoinedInItsOpenHandlerGetsWhatIsPublishedRightAfterTheHandshake() throws {
            let opened = Recorder<Bool>()
            let (server, port) = try startServer { server in
                server.webSocket("/") { socket in
                    usleep(200_000)  // a slow open handler
                    socket.subscribe("news")
                    opened.append(true)
                }
            }
            defer { stop(server) }
            let client = try TestClient(port: port)
            #expect(opened.all == [true])
            #expect(server.publish(.text("first"), to: "news") == 1)
            #expect(client.nextMessage()?.text == "first")
        }

        @Test func compressedMembersGetTheirOwnFrames() throws {
            let (server, port) = try topicServer { $0.extensions = [PerMessageDeflate()] }
            defer { stop(server) }
            let plain = try TestClient(port: port, path: "/join/mix")
            let deflated = try TestClient(port: port, path: "/join/mix", extensions: [PerMessageDeflate.clientOffer()])
            #expect(deflated.accepted.extensions.map(\.name) == ["permessage-deflate"])
            #expect(eventually { server.subscriberCount("mix") == 2 })
            let text = String(repeating: "same words ", count: 500)
            server.publish(.text(text), to: "mix")
            #expect(plain.nextMessage()?.text == text)
            #expect(deflated.nextMessage()?.text == text)
        }

        @Test func theBackplaneHearsFirstJoinsLastLeavesAndPublishesAndDeliversToMembers() throws {
            let backplane = RecordingBackplane()
            let (server, port) = try topicServer { $0.backplane = backplane }
            let a = try TestClient(port: port, path: "/join/room")
            let b = try TestClient(port: port, path: "/join/room")
            #expect(eventually { server.subscriberCount("room") == 2 })
            #expect(backplane.calls == ["subscribe room"])
            server.publish(.text("local"), to: "room")
            #expect(backplane.calls.last == "publish room local")
            #expect(a.nextMessage()?.text == "local" && b.nextMessage()?.text == "local")
            // What another node published arrives through the backplane: local members only.
            backplane.node?.deliver(.text("from afar"), "room")
            #expect(a.nextMessage()?.text == "from afar" && b.nextMessage()?.text == "from afar")
            #expect(backplane.calls.filter { $0.hasPrefix("publish") }.count == 1)
            #expect(backplane.node?.topics() == ["room"])
            let reported = Recorder<[String]>()
            server.onDiscontinuity { reported.append($0) }
            backplane.node?.discontinuity(["room"])
            #expect(reported.all == [["room"]])
            try a.close()
            try b.close()
            #expect(eventually { backplane.calls.last == "unsubscribe room" })
            stop(server)
            #expect(backplane.calls.last == "shutdown")
        }
    }
}
