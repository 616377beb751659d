/// HTTP header fields in the order they arrived, with case-insensitive look-up by name.
///
/// Repeated fields are kept as separate entries, in order; ``values(_:)`` returns all of them
/// and ``tokens(_:)`` splits comma-separated lists across every line of a field.
///
/// The fields are kept as bytes, as they came off the wire, with the position of each name and
/// value: parsing a head costs one copy of its field lines and no string per field. Strings are
/// made only for the fields the application asks for; bytes that are not UTF-8 (the obs-text a
/// peer may send, 0x80-0xFF) read as U+FFFD there, while equality and hashing use the bytes.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The fields' bytes, then a table of where each field's name and value are in them (a span
    /// per field, in order): one allocation, not two, since a server keeps the request head of
    /// every open WebSocket (a second array would cost each ~48 bytes more). Bytes no span points
    /// at (the `: ` and line ends of a parsed head, removed fields) are never read.
    private var storage: [UInt8]
    /// The number of fields: of spans at the end of `storage`.
    private var fieldCount: UInt32 = 0
    /// Whether the table holds spans of four 16-bit offsets (while the field bytes fit in 64 KiB,
    /// as a request head's do) rather than four 32-bit ones: half the table.
    private var narrow = true

    /// The number of fields.
    public var count: Int { Int(fieldCount) }

    /// The position of one field's name and value in the field bytes.
    struct Span: Sendable, Hashable {
        var nameStart: UInt32
        var nameEnd: UInt32
        var valueStart: UInt32
        var valueEnd: UInt32

        /// Whether every offset fits a narrow span.
        var fitsNarrow: Bool { valueEnd <= UInt32(UInt16.max) && nameEnd <= UInt32(UInt16.max) }
    }
    /// A span as the table holds it while it is narrow.
    private struct NarrowSpan {
        var nameStart, nameEnd, valueStart, valueEnd: UInt16

        /// `span` narrowed; its offsets must fit (`Span.fitsNarrow`).
        init(_ span: Span) {
            nameStart = UInt16(span.nameStart)
            nameEnd = UInt16(span.nameEnd)
            valueStart = UInt16(span.valueStart)
            valueEnd = UInt16(span.valueEnd)
        }
    }
    private static func spanSize(narrow: Bool) -> Int { narrow ? MemoryLayout<NarrowSpan>.size : MemoryLayout<Span>.size }

    /// Where the span table starts in `storage`: the end of the field bytes.
    private var tableStart: Int { storage.count - count * HTTPHeaders.spanSize(narrow: narrow) }

    /// The span of the field at `index`.
    private func span(_ index: Int) -> Span { withFields { $0.span(index) } }

    /// Appends `span` to the table at the end of `storage`, in the table's width.
    private mutating func appendToTable(_ span: Span) {
        if narrow {
            var entry = NarrowSpan(span)
            withUnsafeBytes(of: &entry) { storage.append(contentsOf: $0) }
        } else {
            var entry = span
            withUnsafeBytes(of: &entry) { storage.append(contentsOf: $0) }
        }
    }

    /// Replaces the table with `spans`, in the width given.
    private mutating func rewriteTable(_ spans: [Span], narrow: Bool) {
        storage.removeSubrange(tableStart...)
        self.narrow = narrow
        for span in spans { appendToTable(span) }
        fieldCount = UInt32(spans.count)
    }

    /// The fields as they lie in `storage`, for reading in place.
    private struct Fields {
        let bytes: UnsafeBufferPointer<UInt8>
        let table: UnsafeRawBufferPointer
        let narrow: Bool

        func span(_ index: Int) -> Span {
            guard narrow else { return table.loadUnaligned(fromByteOffset: index * MemoryLayout<Span>.size, as: Span.self) }
            let entry = table.loadUnaligned(fromByteOffset: index * MemoryLayout<NarrowSpan>.size, as: NarrowSpan.self)
            return Span(nameStart: UInt32(entry.nameStart), nameEnd: UInt32(entry.nameEnd),
                        valueStart: UInt32(entry.valueStart), valueEnd: UInt32(entry.valueEnd))
        }
        func name(_ index: Int) -> UnsafeBufferPointer<UInt8> {
            let span = span(index)
            return UnsafeBufferPointer(rebasing: bytes[Int(span.nameStart)..<Int(span.nameEnd)])
        }
        func value(_ index: Int) -> UnsafeBufferPointer<UInt8> {
            let span = span(index)
            return UnsafeBufferPointer(rebasing: bytes[Int(span.valueStart)..<Int(span.valueEnd)])
        }
    }

    /// Calls `body` with the fields, in one access to the storage.
    private func withFields<R>(_ body: (Fields) -> R) -> R {
        let start = tableStart
        return storage.withUnsafeBufferPointer { all in
            body(Fields(bytes: UnsafeBufferPointer(rebasing: all[..<start]),
                        table: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(all)[start...]), narrow: narrow))
        }
    }

    /// Headers with the given fields, in order.
    public init(_ fields: [(name: String, value: String)] = []) {
        storage = []
        if !fields.isEmpty {
            storage.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + MemoryLayout<NarrowSpan>.size })
            for field in fields { add(name: field.name, value: field.value) }
        }
    }

    /// Headers from a literal: `["Origin": "https://example.com"]`.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements.map { (name: $0.0, value: $0.1) })
    }

    /// Empty headers with room for `fields` fields of `bytes` bytes in all.
    init(reservingFields fields: Int, bytes byteCount: Int) {
        storage = []
        storage.reserveCapacity(byteCount + fields * MemoryLayout<NarrowSpan>.size)
    }

    /// Headers over field lines already parsed, as the parser makes them: `bytes` are copied,
    /// with `spans` (positions in them), into one exactly sized allocation.
    init(bytes: UnsafeBufferPointer<UInt8>, spans: [Span]) {
        let narrow = bytes.count <= Int(UInt16.max)
        let tableSize = spans.count * HTTPHeaders.spanSize(narrow: narrow)
        storage = [UInt8](unsafeUninitializedCapacity: bytes.count + tableSize) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            if let base = bytes.baseAddress { raw.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
            var at = bytes.count
            for span in spans {
                if narrow {
                    raw.storeBytes(of: NarrowSpan(span), toByteOffset: at, as: NarrowSpan.self)
                } else {
                    raw.storeBytes(of: span, toByteOffset: at, as: Span.self)
                }
                at += HTTPHeaders.spanSize(narrow: narrow)
            }
            initialized = at
        }
        self.narrow = narrow
        fieldCount = UInt32(spans.count)
    }

    /// The fields as (name, value) pairs, names as the peer spelled them. Makes a string for
    /// every name and value; look fields up by name where you can.
    public var fields: [(name: String, value: String)] { Array(self) }

    /// Appends a field, keeping any with the same name.
    public mutating func add(name: String, value: String) {
        var name = name, value = value
        name.withUTF8 { name in value.withUTF8 { value in append(name: name, value: value) } }
    }

    /// Appends a field: its bytes after the others', before the span table, and its span at the end.
    private mutating func append(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        let nameStart = tableStart
        let nameEnd = UInt32(nameStart + name.count)
        let span = Span(nameStart: UInt32(nameStart), nameEnd: nameEnd, valueStart: nameEnd, valueEnd: nameEnd + UInt32(value.count))
        if narrow && !span.fitsNarrow {
            rewriteTable((0..<count).map(self.span), narrow: false)  // the field bytes pass 64 KiB
        }
        storage.insert(contentsOf: name, at: nameStart)
        storage.insert(contentsOf: value, at: nameStart + name.count)
        appendToTable(span)
        fieldCount += 1
    }

    /// Appends a field whose name and value are fixed text.
    mutating func add(name: StaticString, value: StaticString) {
        add(name: name, valueBytes: UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// Appends a field whose value is given as bytes.
    mutating func add(name: StaticString, valueBytes: UnsafeBufferPointer<UInt8>) {
        append(name: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: valueBytes)
    }

    /// Replaces every field of this name with one field.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// Removes every field of this name (their bytes stay, unread, until the headers are
    /// emptied).
    public mutating func remove(name: String) {
        let kept = withNameMatcher(name) { matches in (0..<count).filter { !matches($0) }.map(span) }
        guard kept.count < count else { return }
        if kept.isEmpty {
            storage.removeAll(keepingCapacity: true)
            fieldCount = 0
            narrow = true
        } else {
            rewriteTable(kept, narrow: narrow)
        }
    }

    /// The bytes the fields take as `name: value` lines.
    var serializedCount: Int {
        (0..<count).reduce(0) { total, i in
            let span = span(i)
            return total + Int(span.nameEnd - span.nameStart) + Int(span.valueEnd - span.valueStart) + 4
        }
    }

    /// The value of the first field with this name (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        guard let i = firstIndex(of: name) else { return nil }
        return value(at: i)
    }

    /// The values of every field with this name, in order.
    public func values(_ name: String) -> [String] {
        indices(of: name).map(value(at:))
    }

    /// Whether any field has this name.
    public func contains(_ name: String) -> Bool { firstIndex(of: name) != nil }

    /// The comma-separated list elements of every field with this name, trimmed of spaces,
    /// empty elements dropped (RFC 9110 §5.6.1).
    public func tokens(_ name: String) -> [String] {
        var result: [String] = []
        _ = forEachListElement(name) { element in
            result.append(String(decoding: element, as: UTF8.self))
            return false
        }
        return result
    }

    /// Whether a comma-separated field of this name contains `token`, compared case-insensitively.
    public func containsToken(_ token: String, in name: String) -> Bool {
        var token = token
        return token.withUTF8 { wanted in
            forEachListElement(name) { HTTPHeaders.bytesMatch($0, wanted) }
        }
    }

    /// The number of fields with this name.
    public func count(of name: String) -> Int { indices(of: name).count }

    /// Calls `body` with each list element of every field named `name`, trimmed, until it
    /// returns true; returns whether it did.
    func forEachListElement(_ name: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        for i in indices(of: name) {
            if withValueBytes(at: i, { HTTPHeaders.forEachListElement(of: $0, body) }) { return true }
        }
        return false
    }

    /// Calls `body` with each field's name and value bytes, in order.
    func forEachField(_ body: (_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Void) {
        withFields { fields in
            for i in 0..<count { body(fields.name(i), fields.value(i)) }
        }
    }

    /// Calls `body` with the value bytes of the field at `index`.
    func withValueBytes<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withFields { body($0.value(index)) }
    }

    /// The name of the field at `index`.
    func name(at index: Int) -> String {
        withFields { String(decoding: $0.name(index), as: UTF8.self) }
    }

    /// The value of the field at `index`.
    func value(at index: Int) -> String {
        withValueBytes(at: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// The index of the first field with this name.
    private func firstIndex(of name: String) -> Int? {
        withNameMatcher(name) { (0..<count).first(where: $0) }
    }

    /// The indices of every field with this name, in order.
    private func indices(of name: String) -> [Int] {
        withNameMatcher(name) { (0..<count).filter($0) }
    }

    /// Calls `body` with a test of whether the field at an index is named `name` (ignoring case).
    private func withNameMatcher<R>(_ name: String, _ body: ((Int) -> Bool) -> R) -> R {
        var name = name
        return name.withUTF8 { wanted in
            withFields { fields in
                body { HTTPHeaders.bytesMatch(fields.name($0), wanted) }
            }
        }
    }

    /// Calls `body` with each trimmed, non-empty element of one comma-separated value until it
    /// returns true; returns whether it did.
    static func forEachListElement(of bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var a = start, b = end
            while a < b && (bytes[a] == 0x20 || bytes[a] == 0x09) { a += 1 }
            while b > a && (bytes[b - 1] == 0x20 || bytes[b - 1] == 0x09) { b -= 1 }
            if a < b && body(UnsafeBufferPointer(rebasing: bytes[a..<b])) { return true }
            start = end + 1
        }
        return false
    }

    /// Whether one comma-separated value contains `token`, compared case-insensitively.
    static func listContainsToken(_ value: String, _ token: String) -> Bool {
        var value = value, token = token
        return value.withUTF8 { value in token.withUTF8 { wanted in forEachListElement(of: value) { bytesMatch($0, wanted) } } }
    }

    /// Whether one comma-separated value, as bytes, contains `token`, compared case-insensitively.
    @inline(__always)
    static func listContainsToken(_ value: UnsafeBufferPointer<UInt8>, _ token: StaticString) -> Bool {
        let wanted = UnsafeBufferPointer(start: token.utf8Start, count: token.utf8CodeUnitCount)
        return forEachListElement(of: value) { bytesMatch($0, wanted) }
    }

    /// Iterates over the (name, value) pairs in order, making their strings as it goes.
    public struct Iterator: IteratorProtocol {
        let headers: HTTPHeaders
        var index = 0

        /// The next field, or nil after the last.
        public mutating func next() -> (name: String, value: String)? {
            guard index < headers.count else { return nil }
            defer { index += 1 }
            return (headers.name(at: index), headers.value(at: index))
        }
    }

    /// Iterates over the (name, value) pairs in order.
    public func makeIterator() -> Iterator { Iterator(headers: self) }

    /// The number of fields, for `Array(headers)` and the like.
    public var underestimatedCount: Int { count }

    /// ASCII case-insensitive comparison, as header names and tokens are compared.
    static func namesMatch(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in bytesMatch(x, y) } }
    }

    /// ASCII case-insensitive comparison of two byte strings.
    @inline(__always)
    static func bytesMatch(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        for i in 0..<x.count {
            let p = x[i], q = y[i]
            if p == q { continue }
            let lower = p | 0x20
            guard lower == q | 0x20, lower >= UInt8(ascii: "a"), lower <= UInt8(ascii: "z") else { return false }
        }
        return true
    }

    /// The fields as `name: value` lines.
    public var description: String {
        map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// Two header sets are equal when they hold the same fields, spelled the same, in the same order.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withFields { l in
            rhs.withFields { r in
                (0..<lhs.count).allSatisfy { l.name($0).elementsEqual(r.name($0)) && l.value($0).elementsEqual(r.value($0)) }
            }
        }
    }

    /// Hashes the fields in order.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        forEachField { name, value in
            hasher.combine(bytes: UnsafeRawBufferPointer(name))
            hasher.combine(name.count)
            hasher.combine(bytes: UnsafeRawBufferPointer(value))
            hasher.combine(value.count)
        }
    }
}
