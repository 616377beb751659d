// libFuzzer entry point for the RESP2 parser of the Redis backplane.
// Built by Fuzz/run.sh together with Sources/WebSocketRedis/RESP.swift.
//
// Invariants: no crash, no unbounded work (the limits are small); the input fed whole, a byte at
// a time or in pieces of 7 gives the same values, and fails (or not) the same way.

@_cdecl("LLVMFuzzerTestOneInput")
public func respFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = RESPLimits(maxBulkLength: 1024, maxArrayCount: 64, maxDepth: 4, maxLineLength: 256)

    func parse(step: Int) -> (values: [RESPValue], failed: Bool) {
        var parser = RESPParser(limits: limits)
        var values: [RESPValue] = []
        var index = 0
        while index < input.count {
            let end = min(index + step, input.count)
            parser.receive(input[index..<end])
            do {
                while let value = try parser.next() { values.append(value) }
            } catch {
                return (values, true)
            }
            index = end
        }
        return (values, false)
    }

    let whole = parse(step: max(input.count, 1))
    for step in [1, 7] {
        let split = parse(step: step)
        precondition(split.failed == whole.failed, "step \(step) \(split.failed ? "failed" : "passed") where the whole did not")
        precondition(split.values == whole.values, "values differ for step \(step)")
    }
    return 0
}
