import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The package's root directory, from this source file's path.
private let packageRoot = "/" + String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/"))

/// Reads a file of the package, relative to its root.
func packageFile(_ path: String) -> String? {
    guard let file = fopen(packageRoot + "/" + path, "r") else { return nil }
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

/// The package's files matching a glob pattern, relative to its root.
func packageFiles(matching pattern: String) -> [String] {
    var found = glob_t()
    defer { globfree(&found) }
    guard glob(packageRoot + "/" + pattern, 0, nil, &found) == 0 else { return [] }
    return (0..<Int(found.gl_pathc)).compactMap { found.gl_pathv[$0].map { String(String(cString: $0).dropFirst(packageRoot.count + 1)) } }
}

@Suite struct DocumentationTests {
    /// Every ```swift block of the README and of the DocC articles is compiled: it appears line
    /// for line in DocumentationSnippets.swift.
    @Test func everySwiftSnippetIsCompiled() throws {
        let snippets = try #require(packageFile("Tests/WebSocketServerTests/DocumentationSnippets.swift"))
        let compiled = snippets.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingSpaces() }.joined(separator: "\n")
        let articles = packageFiles(matching: "Sources/*/*.docc/*.md")
        #expect(articles.count >= 13)
        for path in ["README.md"] + articles {
            let blocks = swiftBlocks(try #require(packageFile(path)))
            if path == "README.md" { #expect(blocks.count >= 9) }
            for block in blocks {
                #expect(compiled.contains(block), "\(path): snippet not in DocumentationSnippets.swift:\n\(block)")
            }
        }
    }

    /// The ```swift blocks of a Markdown text, each with its lines' leading spaces trimmed.
    func swiftBlocks(_ markdown: String) -> [String] {
        var blocks: [String] = []
        var current: [Substring]?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "```swift" { current = []; continue }
            if line == "```", let lines = current {
                blocks.append(lines.map { $0.trimmingSpaces() }.joined(separator: "\n"))
                current = nil
                continue
            }
            current?.append(line)
        }
        return blocks
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        return s
    }
}
