import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Reads a file of the package, relative to this source file.
func packageFile(_ path: String) -> String? {
    let root = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/"))
    guard let file = fopen("/" + root + "/" + path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

@Suite struct ReadmeTests {
    /// Every ```swift block of the README is compiled: it appears line for line in ReadmeSnippets.swift.
    @Test func everySwiftSnippetIsCompiled() throws {
        let readme = try #require(packageFile("README.md"))
        let snippets = try #require(packageFile("Tests/WebSocketServerTests/ReadmeSnippets.swift"))
        let compiled = snippets.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingSpaces() }.joined(separator: "\n")
        var blocks: [String] = []
        var current: [Substring]?
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "```swift" { current = []; continue }
            if line == "```", let lines = current {
                blocks.append(lines.map { $0.trimmingSpaces() }.joined(separator: "\n"))
                current = nil
                continue
            }
            current?.append(line)
        }
        #expect(blocks.count >= 9)
        for block in blocks {
            #expect(compiled.contains(block), "README snippet not in ReadmeSnippets.swift:\n\(block)")
        }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        return s
    }
}
