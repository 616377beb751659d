import Logging
import Metrics
import MetricsTestKit
import ServiceLifecycle
import Synchronization
import Testing
import WebSocketClient
import WebSocketIntegrations

/// What a recording log handler was given.
final class Lines: Sendable {
    let lines = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
}

/// A swift-log handler that keeps what it is given.
struct RecordingLogHandler: Logging.LogHandler {
    let record: Lines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        record.lines.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
    }
}

/// swift-metrics takes one backend per process: made once, shared by the tests.
let testMetrics: TestMetrics = {
    let metrics = TestMetrics()
    MetricsSystem.bootstrap(metrics)
    return metrics
}()

@Suite(.serialized) struct IntegrationTests {
    @Test func aServiceGroupRunsTheServerAndItsGracefulShutdownClosesWith1001() async throws {
        let lines = Lines()
        var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: 0)
        configuration.log(to: Logger(label: "test") { _ in RecordingLogHandler(record: lines) })
        let server = WebSocketServer(configuration: configuration)
        server.webSocket("/echo") { socket in socket.onMessage { socket, message in socket.send(message) } }
        let group = ServiceGroup(services: [WebSocketService(server)], logger: Logger(label: "group"))
        let running = Task { try await group.run() }
        var port = 0
        for _ in 0..<100 where port == 0 {
            port = server.localAddress?.port ?? 0
            try await Task.sleep(for: .milliseconds(20))
        }
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/echo")
        try await socket.send("hello")
        for await message in socket.messages {
            #expect(message.text == "hello")
            break
        }
        await group.triggerGracefulShutdown()
        let event = await socket.closed()
        #expect(event.code == .goingAway && event.wasClean)
        try await running.value
        // The server's log lines arrived in swift-log, with their metadata.
        let logged = lines.lines.withLock { $0 }
        #expect(logged.contains { $0.1 == "Listening" && $0.0 == .info })
        #expect(logged.contains { $0.1 == "WebSocket open" && $0.2["path"] == "/echo" })
        #expect(logged.contains { $0.1 == "Shut down" })
    }

    @Test func theReporterCopiesCountersIntoSwiftMetrics() async throws {
        let metrics = testMetrics
        let server = WebSocketServer(configuration: .init(host: "127.0.0.1", port: 0))
        server.webSocket("/echo") { socket in socket.onMessage { socket, message in socket.send(message) } }
        let port = try server.start().port
        let reporter = MetricsReporter(server: server, prefix: "itest")
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/echo")
        try await socket.send("one")
        for await _ in socket.messages { break }
        try socket.close(code: .goingAway)
        _ = await socket.closed()
        try await Task.sleep(for: .milliseconds(100))
        let first = reporter.report(since: nil)
        #expect(try metrics.expectCounter("itest_messages_in_total").values.reduce(0, +) == 1)
        #expect(try metrics.expectCounter("itest_closes_total", [("code", "1001")]).values.reduce(0, +) == 1)
        // A second report adds only what changed.
        reporter.report(since: first)
        #expect(try metrics.expectCounter("itest_messages_in_total").values.reduce(0, +) == 1)
        #expect(try metrics.expectGauge("itest_open_websockets").lastValue == 0)
        await server.shutdown(timeout: .seconds(1))
    }
}
