// websocket-topics-bench: fan-out through topics, in one process or across processes on Redis.
//
//   websocket-topics-bench server --port P [--redis URL]
//       A socket on /sub/TOPIC joins TOPIC; every message a socket on /pub/TOPIC sends is
//       published to TOPIC.
//   websocket-topics-bench load --ports P1,P2,... --topics T --subscribers S [--size BYTES]
//       [--rate MESSAGES_PER_SECOND] [--seconds N] [--publish-port P] [--server-pids PID,...]
//       S subscribers spread over the ports and the T topics; one publisher per topic (on the
//       first port, or P) sends messages carrying a sequence number and its send time, at RATE
//       per topic (0: as fast as the server takes them). Every delivery is checked for order.
//
// Output (load): one line of key=value pairs: deliveries_per_s, p50_us, p99_us, p999_us (publish
// to delivery), missing, out_of_order, server_cpu_us_per_delivery.
import Dispatch
import BenchmarkSupport
import Synchronization
import WebSocketClient
import WebSocketRedis
#if canImport(Glibc)
import Glibc
#endif

func nowNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

switch arguments.first {
case "server":
    var configuration = WebSocketServer.Configuration(host: "127.0.0.1", port: Int(option("--port") ?? "") ?? 9100)
    configuration.loopCount = 1
    configuration.maxConnections = 100_000
    configuration.idlePingInterval = nil
    if let url = option("--redis") { configuration.backplane = try RedisBackplane(url) }
    let server = WebSocketServer(configuration: configuration)
    server.webSocket("*") { socket in
        let path = socket.request.path
        if path.hasPrefix("/sub/") { socket.subscribe(String(path.dropFirst(5))) }
        if path.hasPrefix("/pub/") {
            let topic = String(path.dropFirst(5))
            socket.onMessage { _, message in server.publish(message, to: topic) }
        }
    }
    let address = try server.start()
    print("websocket-topics-bench server on \(address)")
    fflush(nil)
    while true { sleep(3600) }

case "load":
    let ports = (option("--ports") ?? "9100").split(separator: ",").compactMap { Int($0) }
    let topics = Int(option("--topics") ?? "") ?? 1
    let subscribers = Int(option("--subscribers") ?? "") ?? 100
    let size = max(16, Int(option("--size") ?? "") ?? 16)
    let rate = Double(option("--rate") ?? "") ?? 0
    let seconds = Double(option("--seconds") ?? "") ?? 5
    let pids = (option("--server-pids") ?? "").split(separator: ",").compactMap { Int32($0) }
    var configuration = WebSocketClient.Configuration()
    configuration.eventLoops = EventLoops(count: 1)
    configuration.idlePingInterval = nil
    let client = WebSocketClient(configuration: configuration)

    /// Latencies (in 100 ns units) and counts of the measured window, behind a lock (taken
    /// once per delivery, by the client's one loop: uncontended).
    struct Tally {
        var latencies: [UInt32] = []
        /// Sequence numbers that went backwards (must never happen).
        var outOfOrder = 0
        /// Sequence numbers skipped (a member over its high-water mark is skipped by design).
        var skipped = 0
        var measuring = false
        var lastSequence: [ObjectIdentifier: UInt64] = [:]
    }
    let tally = Mutex(Tally())
    var sockets: [WebSocket] = []
    for index in 0..<subscribers {
        let port = ports[index % ports.count], topic = index % topics
        sockets.append(try await client.connect("ws://127.0.0.1:\(port)/sub/t\(topic)") { socket in
            socket.onMessage { socket, message in
                let arrived = nowNanoseconds()
                let bytes = message.data
                let sequence = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let sent = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                tally.withLock { tally in
                    let key = ObjectIdentifier(socket)
                    if let last = tally.lastSequence[key] {
                        if sequence <= last { tally.outOfOrder += 1 } else if tally.measuring { tally.skipped += Int(sequence - last - 1) }
                    }
                    tally.lastSequence[key] = sequence
                    if tally.measuring { tally.latencies.append(UInt32(min(UInt64(UInt32.max), (arrived - sent) / 100))) }
                }
            }
        })
    }
    var publishers: [WebSocket] = []
    let publishPort = Int(option("--publish-port") ?? "") ?? ports[0]
    for topic in 0..<topics { publishers.append(try await client.connect("ws://127.0.0.1:\(publishPort)/pub/t\(topic)")) }
    try await Task.sleep(for: .milliseconds(500))  // subscriptions settle (and reach Redis)

    /// A message for `topic`: its publisher's sequence number and the send time, then filler.
    final class Counter: Sendable { let value = Atomic<UInt64>(0) }
    let perTopic = (0..<topics).map { _ in Counter() }
    @Sendable func message(for topic: Int) -> [UInt8] {
        let number = perTopic[topic].value.add(1, ordering: .relaxed).newValue
        var bytes = [UInt8](repeating: 0x2A, count: size)
        let time = nowNanoseconds()
        for i in 0..<8 {
            bytes[i] = UInt8(truncatingIfNeeded: number >> (56 - 8 * UInt64(i)))
            bytes[8 + i] = UInt8(truncatingIfNeeded: time >> (56 - 8 * UInt64(i)))
        }
        return bytes
    }

    let warmUp = 1.0
    let end = nowNanoseconds() + UInt64((warmUp + seconds + 0.2) * 1e9)
    let publishing = Task {
        await withTaskGroup(of: Void.self) { group in
            for (topic, publisher) in publishers.enumerated() {
                group.addTask {
                    let interval = rate > 0 ? UInt64(1e9 / rate) : 0
                    var next = nowNanoseconds()
                    while nowNanoseconds() < end {
                        try? await publisher.send(.binary(message(for: topic)))
                        if interval > 0 {
                            next += interval
                            let now = nowNanoseconds()
                            if next > now { try? await Task.sleep(for: .nanoseconds(Int(next - now))) }
                        }
                    }
                }
            }
        }
    }
    func serverCPU() -> Double { pids.reduce(0) { $0 + cpuSeconds(of: $1) } }
    try await Task.sleep(for: .seconds(warmUp))
    let cpu0 = serverCPU()
    tally.withLock { $0.measuring = true }
    try await Task.sleep(for: .seconds(seconds))
    tally.withLock { $0.measuring = false }
    let cpu = serverCPU() - cpu0
    await publishing.value
    let (latencies, outOfOrder, skipped) = tally.withLock { ($0.latencies.sorted(), $0.outOfOrder, $0.skipped) }
    func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 10 }
    print("mode=topics ports=\(ports.count) topics=\(topics) subscribers=\(subscribers) size=\(size) rate=\(Int(rate)) "
          + "deliveries_per_s=\(Int(Double(latencies.count) / seconds)) p50_us=\(percentile(0.5)) p99_us=\(percentile(0.99)) p999_us=\(percentile(0.999)) "
          + "out_of_order=\(outOfOrder) skipped=\(skipped) server_cpu_us_per_delivery=\(latencies.isEmpty ? 0 : (cpu * 1e7 / Double(latencies.count)).rounded() / 10)")
    exit(outOfOrder == 0 ? 0 : 1)

default:
    print("usage: websocket-topics-bench server|load ...")
    exit(2)
}
