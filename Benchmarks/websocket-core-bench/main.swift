// Throughput of WebSocketCore's hot paths, engine alone (no sockets).
//
//   swift run -c release websocket-core-bench [--quick] [unmask] [utf8] [decode] [handshake]
//
// Each figure is the best of several timed rounds; the machine is shared, so compare figures
// from the same run rather than across runs.
import WebSocketCore

let quick = CommandLine.arguments.contains("--quick")
let selected = CommandLine.arguments.dropFirst().filter { !$0.hasPrefix("--") }
/// Whether the section named `name` should run: all do unless some are named on the command line.
func runs(_ name: String) -> Bool { selected.isEmpty || selected.contains(name) }
let clock = ContinuousClock()
var sink = 0  // keeps results alive so the optimiser cannot drop the work

/// Runs `body` (which processes `bytesPerRun` bytes or `itemsPerRun` items) repeatedly and
/// returns the best rate seen.
func measure(rounds: Int = quick ? 3 : 7, minimumDuration: Duration = .milliseconds(quick ? 50 : 200), _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<rounds {
        var iterations = 0
        let start = clock.now
        var elapsed = Duration.zero
        repeat {
            body()
            iterations += 1
            elapsed = clock.now - start
        } while elapsed < minimumDuration
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        best = min(best, seconds / Double(iterations))
    }
    return best  // seconds per call
}

func report(_ name: String, bytes: Int, secondsPerCall: Double) {
    let gbps = Double(bytes) / secondsPerCall / 1e9
    print(pad(name, 44) + pad(String(format2(gbps)) + " GB/s", 14, left: true))
}

func reportRate(_ name: String, items: Int, secondsPerCall: Double, unit: String) {
    let rate = Double(items) / secondsPerCall
    print(pad(name, 44) + pad(format2(rate / 1e6) + " M" + unit + "/s", 14, left: true))
}

func format2(_ x: Double) -> String {
    let scaled = x * 100 + 0.5
    let whole = Int(scaled) / 100
    let frac = Int(scaled) % 100
    return "\(whole)." + (frac < 10 ? "0" : "") + "\(frac)"
}

func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - s.count))
    return left ? padding + s : s + padding
}

var rng = SystemRandomNumberGenerator()

// 1. Unmasking 1 MiB in place.
if runs("unmask") {
    var payload = [UInt8](repeating: 0, count: 1 << 20)
    for i in payload.indices { payload[i] = UInt8.random(in: 0...255, using: &rng) }
    let key = MaskingKey(0x37, 0xFA, 0x21, 0x3D)
    let t = measure {
        payload.withUnsafeMutableBytes { key.apply(to: $0, offset: 1) }
        sink &+= Int(payload[17])
    }
    report("unmask 1 MiB (in place)", bytes: payload.count, secondsPerCall: t)
}

// 2. UTF-8 validation.
if runs("utf8") {
    let ascii = [UInt8](repeating: 0x61, count: 1 << 20)
    let t = measure { sink &+= UTF8Validator.isValid(ascii) ? 1 : 0 }
    report("UTF-8 validate 1 MiB ASCII", bytes: ascii.count, secondsPerCall: t)
    var mixedText = ""
    while mixedText.utf8.count < 1 << 20 { mixedText += "Hello, κόσμε! Grüße, 世界 🌍 — plain ASCII words here. " }
    let mixed = Array(mixedText.utf8)
    let u = measure { sink &+= UTF8Validator.isValid(mixed) ? 1 : 0 }
    report("UTF-8 validate 1 MiB mixed", bytes: mixed.count, secondsPerCall: u)
}

// 3. Decode + unmask + UTF-8 validate text frames, server role.
for size in [16, 1024, 64 << 10, 1 << 20] where runs("decode") {
    var client = WebSocketEngine(role: .client, configuration: .init(maxFrameSize: 1 << 21, maxMessageSize: 1 << 21))
    let text = String(repeating: "a", count: size)
    let count = max(1, (4 << 20) / (size + 14))
    for _ in 0..<count { try! client.send(text: text) }
    let stream = client.takeOutboundBytes()
    let configuration = WebSocketEngine.Configuration(maxFrameSize: 1 << 21, maxMessageSize: 1 << 21)
    let t = measure {
        var server = WebSocketEngine(role: .server, configuration: configuration)
        stream.withUnsafeBytes { server.receive($0) }
        var messages = 0
        while let event = server.nextEvent() {
            if case .message = event { messages += 1 }
        }
        precondition(messages == count)
        sink &+= messages
    }
    let label = size >= 1024 ? "\(size / 1024) KiB" : "\(size) B"
    report("decode+unmask+validate text \(label)", bytes: count * size, secondsPerCall: t)
    reportRate("  (messages)", items: count, secondsPerCall: t, unit: "msg")
}

// 4. Handshakes: parse, validate, answer.
if runs("handshake") {
    let request = Array("""
    GET /chat HTTP/1.1\r
    Host: 127.0.0.1:9001\r
    Upgrade: websocket\r
    Connection: Upgrade\r
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
    Sec-WebSocket-Version: 13\r
    \r

    """.utf8)
    let batch = 1000
    let t = measure {
        for _ in 0..<batch {
            var parser = HTTPHeadParser()
            guard case .complete(let head, _) = try! parser.parseRequest(request) else { fatalError() }
            let upgrade = try! ServerHandshake.validate(head)
            let response = try! ServerHandshake.acceptResponse(for: upgrade).serialized()
            sink &+= response.count
        }
    }
    reportRate("handshakes parsed+validated+answered", items: batch, secondsPerCall: t, unit: "")
}

// 5. The pieces of a handshake.
if runs("handshake-parts") {
    let batch = 1000
    let key = "dGhlIHNhbXBsZSBub25jZQ=="
    let t = measure { for _ in 0..<batch { sink &+= ServerHandshake.acceptValue(forKey: key).utf8.count } }
    reportRate("  Sec-WebSocket-Accept (SHA-1 + Base64)", items: batch, secondsPerCall: t, unit: "")
    let request = Array("GET /chat HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8)
    let p = measure {
        for _ in 0..<batch {
            var parser = HTTPHeadParser()
            if case .complete(let head, _) = try! parser.parseRequest(request) { sink &+= head.headers.count }
        }
    }
    reportRate("  request head parsed", items: batch, secondsPerCall: p, unit: "")
    var parser = HTTPHeadParser()
    guard case .complete(let head, _) = try! parser.parseRequest(request) else { fatalError() }
    let v = measure { for _ in 0..<batch { sink &+= (try! ServerHandshake.validate(head)).key.utf8.count } }
    reportRate("  request validated", items: batch, secondsPerCall: v, unit: "")
    let upgrade = try! ServerHandshake.validate(head)
    let r = measure { for _ in 0..<batch { sink &+= (try! ServerHandshake.acceptResponse(for: upgrade)).serialized().count } }
    reportRate("  101 response built and serialized", items: batch, secondsPerCall: r, unit: "")
}

if sink == 42 { print("") }
