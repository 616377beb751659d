import Foundation
import Testing
import WebSocketCore
import WebSocketRedis
@testable import WebSocketServer

/// A `redis-server` of the test's own on a free port, without persistence; stopped by PID.
/// .ci/run installs Debian's redis-server.
final class RedisProcess: @unchecked Sendable {
    // `@unchecked`: used by one test at a time.
    let port: Int
    private var process: Process?

    init() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 1, reusePort: false)
        port = Socket.localAddress(of: listener)!.port
        close(listener)
        try start()
    }

    var url: String { "redis://127.0.0.1:\(port)" }

    /// Whether Debian's redis-server is here (.ci/run installs it; a machine without it skips
    /// the Redis tests, and says so).
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--enable-debug-command", "local"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") else {
            throw TestError("redis-server is not installed (apt-get install redis-server; .ci/run does)")
        }
        try process.run()
        self.process = process
        guard eventually(timeout: 5000, { (try? cli("PING")) == "PONG" }) else { throw TestError("redis-server did not answer PING") }
    }

    /// Kills it at once (SIGKILL), as a crash would.
    func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Runs `redis-cli` against it and returns its output, trimmed.
    @discardableResult
    func cli(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", String(port)] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { kill() }
}

/// A topic server on a Redis backplane.
func redisNode(_ redis: RedisProcess) throws -> (WebSocketServer, Int) {
    let backplane = try RedisBackplane(redis.url, configuration: .init(connectTimeout: .seconds(1), probeInterval: .milliseconds(300),
                                                                      presenceInterval: .milliseconds(200), presenceTTL: .seconds(2)))
    let (server, port) = try topicServer { $0.backplane = backplane }
    #expect(eventually { server.backplaneStatus?.isConnected == true })
    return (server, port)
}

extension WebSocketServerTests {
    @Suite(.enabled(if: RedisProcess.isInstalled, "redis-server is not installed: apt-get install redis-server (.ci/run does)"))
    struct RedisBackplaneTests {
        @Test func aMessagePublishedOnOneNodeReachesMembersOnEveryNodeOnce() throws {
            let redis = try RedisProcess()
            let (a, aPort) = try redisNode(redis), (b, bPort) = try redisNode(redis)
            defer { stop(a); stop(b) }
            let onA = try TestClient(port: aPort, path: "/join/room"), onB = try TestClient(port: bPort, path: "/join/room")
            let publisher = try TestClient(port: bPort, path: "/join/room")
            // One Redis subscription per node (two nodes), plus none for a topic nobody joined.
            #expect(eventually { (try? redis.cli("PUBSUB", "NUMSUB", "ws:t:room")) == "ws:t:room\n2" })
            try publisher.send("publish room hello")
            // The count is of this node's members (the publisher's own socket among them).
            #expect(publisher.nextMessage()?.text == "reached 2")
            #expect(onA.nextMessage()?.text == "hello")
            #expect(onB.nextMessage()?.text == "hello")
            // Node B does not deliver its own message a second time when Redis sends it back.
            #expect(onB.nextMessage(timeout: 300) == nil)
            #expect(publisher.nextMessage(timeout: 100) == nil)
            // Order per publisher, binary included.
            for i in 0..<500 { b.publish(.binary(Array("\(i)".utf8)), to: "room") }
            for i in 0..<500 { #expect(onA.nextMessage()?.data == Array("\(i)".utf8)) }
            #expect(a.backplaneStatus?.lost == 0)
            // The last member leaving unsubscribes its node.
            try onA.close()
            #expect(eventually { (try? redis.cli("PUBSUB", "NUMSUB", "ws:t:room")) == "ws:t:room\n1" })
        }

        @Test func afterRedisRestartsDeliveryResumesAndEachNodeReportsOneDiscontinuity() throws {
            let redis = try RedisProcess()
            let (a, aPort) = try redisNode(redis), (b, bPort) = try redisNode(redis)
            defer { stop(a); stop(b) }
            let discontinuities = Recorder<[String]>()
            a.onDiscontinuity { discontinuities.append($0) }
            let onA = try TestClient(port: aPort, path: "/join/live"), onB = try TestClient(port: bPort, path: "/join/live")
            #expect(eventually { (try? redis.cli("PUBSUB", "NUMSUB", "ws:t:live")) == "ws:t:live\n2" })
            redis.kill()
            #expect(eventually { a.backplaneStatus?.isConnected == false })
            // Local delivery goes on while Redis is down; publish neither blocks nor throws.
            b.publish(.text("during the outage"), to: "live")
            #expect(onB.nextMessage()?.text == "during the outage")
            try redis.start()
            let back = now()
            #expect(eventually { a.backplaneStatus?.isConnected == true && b.backplaneStatus?.isConnected == true })
            #expect(now() - back < 3000)
            #expect(eventually { discontinuities.all == [["live"]] })
            #expect(eventually { (try? redis.cli("PUBSUB", "NUMSUB", "ws:t:live")) == "ws:t:live\n2" })
            b.publish(.text("after"), to: "live")
            // The message queued during the outage went out when the command connection came back.
            var seen: [String] = []
            while let text = onA.nextMessage(timeout: 2000)?.text {
                seen.append(text)
                if text == "after" { break }
            }
            #expect(seen.last == "after")
            #expect(a.backplaneStatus?.discontinuities == 1 && a.backplaneStatus?.reconnects == 1)
        }

        @Test func memberCountsAddUpAcrossLiveNodes() async throws {
            let redis = try RedisProcess()
            let (a, aPort) = try redisNode(redis), (b, bPort) = try redisNode(redis)
            defer { stop(a) }
            let onA = try (0..<2).map { _ in try TestClient(port: aPort, path: "/join/p") }
            let onB = try (0..<3).map { _ in try TestClient(port: bPort, path: "/join/p") }
            #expect(eventually { a.subscriberCount("p") == 2 && b.subscriberCount("p") == 3 })
            var counts: (Int, Int) = (0, 0)
            for _ in 0..<50 {
                counts = (await a.subscriberCountAcrossNodes("p"), await b.subscriberCountAcrossNodes("p"))
                if counts == (5, 5) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(counts == (5, 5))
            // A node whose liveness mark has lapsed (it died without a word) does not count; a
            // live one does. Written by hand, as other nodes would.
            let now = Int(Date().timeIntervalSince1970)
            try redis.cli("ZADD", "ws:nodes", String(now - 10), "dead-node")
            try redis.cli("HSET", "ws:pc:p", "dead-node", "7")
            try redis.cli("ZADD", "ws:nodes", String(now + 100), "live-node")
            try redis.cli("HSET", "ws:pc:p", "live-node", "4")
            #expect(await a.subscriberCountAcrossNodes("p") == 9)
            // A node that shuts down takes its counts with it at once.
            stop(b)
            #expect(await a.subscriberCountAcrossNodes("p") == 6)
            withExtendedLifetime((onA, onB)) {}
        }

        @Test func messagesPublishedWhileRedisStallsArriveInOrderWhenItWakes() throws {
            let redis = try RedisProcess()
            let (a, aPort) = try redisNode(redis), (b, _) = try redisNode(redis)
            defer { stop(a); stop(b) }
            let onA = try TestClient(port: aPort, path: "/join/s")
            #expect(eventually { (try? redis.cli("PUBSUB", "NUMSUB", "ws:t:s")) == "ws:t:s\n1" })
            let sleeper = Thread { _ = try? redis.cli("DEBUG", "SLEEP", "1") }
            sleeper.start()
            usleep(100_000)
            for i in 0..<50 { b.publish(.text("during \(i)"), to: "s") }
            let start = now()
            for i in 0..<50 { #expect(onA.nextMessage(timeout: 4000)?.text == "during \(i)") }
            #expect(now() - start < 4000)
        }

        @Test func aSubscriberConnectionKilledByRedisComesBack() throws {
            let redis = try RedisProcess()
            let (a, aPort) = try redisNode(redis), (b, _) = try redisNode(redis)
            defer { stop(a); stop(b) }
            let onA = try TestClient(port: aPort, path: "/join/k")
            #expect(eventually { (try? redis.cli("PUBSUB", "NUMSUB", "ws:t:k")) == "ws:t:k\n1" })
            try redis.cli("CLIENT", "KILL", "TYPE", "pubsub")
            #expect(eventually { (try? redis.cli("PUBSUB", "NUMSUB", "ws:t:k")) == "ws:t:k\n1" && a.backplaneStatus?.reconnects == 1 })
            b.publish(.text("still there"), to: "k")
            #expect(onA.nextMessage()?.text == "still there")
        }
    }
}
