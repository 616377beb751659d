// websocket-client-bench: a load generator written with this package's client, to measure the
// client beside the C load generator (Benchmarks/Peers/Sources/loadgen) against the same server.
//
//   websocket-client-bench --port P [--host H] [-c CONNS] [-s SIZE] [-d INFLIGHT] [-t SECONDS] [--loops N] [--server-pid PID]
//
// Every connection keeps INFLIGHT binary messages of SIZE bytes in flight and checks each echo
// (length and bytes). Output: one line of key=value pairs like loadgen's: msgs_per_s,
// client_cpu_s, client_cpu_us_per_msg, server_cpu_s, errors.
import Dispatch
import Synchronization
import BenchmarkSupport
import WebSocketClient
#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var host = "127.0.0.1", port = 9001, connections = 100, size = 16, inflight = 1, seconds = 5, loops = 1, serverPID: Int32 = 0
}

func parse() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        let value = arguments.first.flatMap { Int($0) }
        switch argument {
        case "--host": options.host = arguments.popFirst() ?? options.host
        case "--port": options.port = value ?? options.port; arguments.removeFirst()
        case "-c": options.connections = value ?? options.connections; arguments.removeFirst()
        case "-s": options.size = value ?? options.size; arguments.removeFirst()
        case "-d": options.inflight = value ?? options.inflight; arguments.removeFirst()
        case "-t": options.seconds = value ?? options.seconds; arguments.removeFirst()
        case "--loops": options.loops = value ?? options.loops; arguments.removeFirst()
        case "--server-pid": options.serverPID = Int32(value ?? 0); arguments.removeFirst()
        default:
            print("unknown argument \(argument)")
            exit(2)
        }
    }
    return options
}

let options = parse()
var configuration = WebSocketClient.Configuration()
configuration.eventLoops = EventLoops(count: options.loops)
configuration.idlePingInterval = nil
let client = WebSocketClient(configuration: configuration)
let payload = (0..<options.size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
let received = Atomic<Int>(0)
let errors = Atomic<Int>(0)

var sockets: [WebSocket] = []
for _ in 0..<options.connections {
    do {
        let socket = try await client.connect("ws://\(options.host):\(options.port)/") { socket in
            socket.onMessage { socket, message in
                // memcmp: comparing arrays element by element would cost more than the client.
                let same = message.data.count == payload.count && (payload.isEmpty || message.data.withUnsafeBytes { got in
                    payload.withUnsafeBytes { memcmp(got.baseAddress!, $0.baseAddress!, $0.count) == 0 }
                })
                if !same { errors.add(1, ordering: .relaxed) }
                received.add(1, ordering: .relaxed)
                socket.send(payload)
            }
            for _ in 0..<options.inflight { socket.send(payload) }
        }
        sockets.append(socket)
    } catch {
        print("connect failed: \(error)")
        exit(1)
    }
}

try? await Task.sleep(for: .seconds(1))  // warm-up
let start = DispatchTime.now().uptimeNanoseconds
let count0 = received.load(ordering: .relaxed), cpu0 = selfCPUSeconds(), server0 = cpuSeconds(of: options.serverPID)
try? await Task.sleep(for: .seconds(options.seconds))
let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
let messages = received.load(ordering: .relaxed) - count0
let clientCPU = selfCPUSeconds() - cpu0, serverCPU = cpuSeconds(of: options.serverPID) - server0
let open = sockets.filter { $0.readyState == .open }.count
print("mode=client-echo connections=\(options.connections) open=\(open) size=\(options.size) inflight=\(options.inflight) "
      + "msgs_per_s=\(Int(Double(messages) / elapsed)) errors=\(errors.load(ordering: .relaxed)) "
      + "client_cpu_s=\((clientCPU * 100).rounded() / 100) client_cpu_us_per_msg=\(messages > 0 ? (clientCPU * 1e7 / Double(messages)).rounded() / 10 : 0) "
      + "server_cpu_s=\((serverCPU * 100).rounded() / 100)")
exit(errors.load(ordering: .relaxed) == 0 && open == options.connections ? 0 : 1)
