// Throughput of WebSocketCore's hot paths, engine alone (no sockets).
//
//   swift run -c release websocket-core-bench [--quick] [unmask] [utf8] [decode] [handshake] [handshake-parts] [deflate] [deflate-memory]
//
// Each figure is the best of several timed rounds; the machine is shared, so compare figures
// from the same run rather than across runs.
import CZlib
import WebSocketCore
#if canImport(Glibc)
import Glibc
#endif

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
    if x < 0 { return "-" + format2(-x) }
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
    for _ in 0..<count { try! client.send(text) }
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
        var bytes = 0
        for _ in 0..<batch {
            var parser = HTTPHeadParser()
            guard case .complete(let head, _) = try! parser.parseRequest(request) else { fatalError() }
            let upgrade = try! ServerHandshake.validate(head)
            let response = try! ServerHandshake.acceptResponse(for: upgrade).serialized()
            bytes &+= response.count
        }
        sink &+= bytes
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

// 6. permessage-deflate: the engine against zlib called directly on the same data.
func jsonText(_ size: Int) -> [UInt8] {
    let sample = "{\"id\":12345,\"symbol\":\"BTC-USD\",\"price\":\"43125.50\",\"size\":\"0.0125\",\"side\":\"buy\",\"ts\":1700000000123},"
    var out: [UInt8] = []
    var n = 0
    while out.count < size {
        out += Array(sample.replacingFirstDigits(with: n).utf8)
        n += 7919
    }
    return Array(out.prefix(size))
}

extension String {
    /// The sample with its id changed, so that messages differ as real ones do.
    func replacingFirstDigits(with n: Int) -> String {
        let parts = split(separator: "12345", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? parts[0] + String(10000 + n % 90000) + parts[1] : self
    }
}

let agreement = PerMessageDeflate.Agreement(serverNoContextTakeover: false, clientNoContextTakeover: false, serverWindowBits: 15, clientWindowBits: 15, perFrame: false)

/// Deflates each message with a sync flush, as permessage-deflate does, straight through zlib.
func zlibDirect(_ messages: [[UInt8]]) -> Int {
    var stream = z_stream()
    czlib_deflateInit2(&stream, 6, -15, 8)
    var out = [UInt8](repeating: 0, count: 1 << 20)
    var total = 0
    for message in messages {
        message.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(input.count)
                stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(output.count)
                deflate(&stream, Z_SYNC_FLUSH)
                total += output.count - Int(stream.avail_out)
            }
        }
    }
    deflateEnd(&stream)
    return total
}

if runs("deflate") {
    for (label, size, random) in [("JSON 1 KiB", 1024, false), ("JSON 64 KiB", 64 << 10, false), ("random 64 KiB", 64 << 10, true)] {
        let count = max(8, (4 << 20) / size)
        let messages: [[UInt8]] = (0..<count).map { i in
            random ? (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) } : jsonText(size + i % 7)
        }
        let bytes = messages.reduce(0) { $0 + $1.count }
        let direct = measure(rounds: quick ? 2 : 5) { sink &+= zlibDirect(messages) }
        var frames: [UInt8] = []
        let engine = measure(rounds: quick ? 2 : 5) {
            var server = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreement, role: .server))
            for message in messages { try! server.send(Message(kind: random ? .binary : .text, data: message), compress: true) }
            frames = server.takeOutboundBytes()
            sink &+= frames.count
        }
        print(pad("deflate \(label): engine / zlib direct", 44) + pad(format2(Double(bytes) / engine / 1e6) + " / " + format2(Double(bytes) / direct / 1e6) + " MB/s", 24, left: true)
              + "  overhead " + format2((engine / direct - 1) * 100) + " %  ratio " + format2(Double(frames.count) / Double(bytes)))
        // Decompression: the client sent these (masked); the server inflates and checks UTF-8.
        var client = WebSocketEngine(role: .client, configuration: .init(maxFrameSize: 1 << 21, maxMessageSize: 1 << 21),
                                     extensionCodec: DeflateCodec(agreement: agreement, role: .client))
        for message in messages { try! client.send(Message(kind: random ? .binary : .text, data: message), compress: true) }
        let wire = client.takeOutboundBytes()
        let inflate = measure(rounds: quick ? 2 : 5) {
            var server = WebSocketEngine(role: .server, configuration: .init(maxFrameSize: 1 << 21, maxMessageSize: 1 << 21),
                                         extensionCodec: DeflateCodec(agreement: agreement, role: .server))
            wire.withUnsafeBytes { server.receive($0) }
            var n = 0
            while let event = server.nextEvent() { if case .message = event { n += 1 } }
            precondition(n == count)
            sink &+= n
        }
        print(pad("inflate \(label) (engine, output)", 44) + pad(format2(Double(bytes) / inflate / 1e6) + " MB/s", 24, left: true))
    }
}

// 7. Memory a connection pays for compression once both directions have been used.
if runs("deflate-memory") {
    func rssKiB() -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmRSS:") { return Int(text.split(separator: " ")[1]) ?? 0 }
        }
        return 0
    }
    let json = jsonText(1024)
    var client = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: agreement, role: .client))
    try! client.send(Message.text(String(decoding: json, as: UTF8.self)), compress: true)
    let frame = client.takeOutboundBytes()
    for (label, configuration, noContext) in [("context takeover, 15-bit windows", PerMessageDeflate.Configuration(), false),
                                              ("no context takeover (shared streams)", PerMessageDeflate.Configuration(), true)] {
        let agreed = PerMessageDeflate.Agreement(serverNoContextTakeover: noContext, clientNoContextTakeover: noContext,
                                                 serverWindowBits: 15, clientWindowBits: 15, perFrame: false)
        let count = 1000
        let before = rssKiB()
        var engines: [WebSocketEngine] = []
        for _ in 0..<count {
            var server = WebSocketEngine(role: .server, extensionCodec: DeflateCodec(agreement: agreed, configuration: configuration, role: .server))
            var c2 = WebSocketEngine(role: .client, extensionCodec: DeflateCodec(agreement: agreed, role: .client))
            try! c2.send(Message.text(String(decoding: json, as: UTF8.self)), compress: true)
            server.receive(noContext ? c2.takeOutboundBytes() : frame)
            _ = server.takeEvents()
            try! server.send(Message.text(String(decoding: json, as: UTF8.self)), compress: true)
            _ = server.takeOutbound()
            engines.append(server)
        }
        let after = rssKiB()
        print(pad("compression memory, \(label)", 56) + pad("\((after - before) * 1024 / count) B/connection", 22, left: true))
        sink &+= engines.count
    }
}

if sink == 42 { print("") }
