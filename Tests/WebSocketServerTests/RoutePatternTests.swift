import Testing
import WebSocketCore
@testable import WebSocketServer

/// Route patterns: `:name` parameters and a trailing `*`; exact paths first.
@Suite struct RoutePatternTests {
    @Test("Patterns match and give their parameters", arguments: [
        ("/rooms/:room", "/rooms/lobby", ["room": "lobby"]),
        ("/rooms/:room/users/:user", "/rooms/a/users/b", ["room": "a", "user": "b"]),
        ("/static/*", "/static/css/site.css", ["*": "css/site.css"]),
        ("/u/:id/*", "/u/7/x/y", ["id": "7", "*": "x/y"]),
    ])
    func matches(pattern: String, path: String, parameters: [String: String]) throws {
        #expect(try #require(RoutePattern(pattern)).match(path) == parameters)
    }

    @Test("Patterns refuse what does not fit", arguments: [
        ("/rooms/:room", "/rooms/"), ("/rooms/:room", "/rooms/a/b"), ("/rooms/:room", "/room/a"),
        ("/static/*", "/static"), ("/static/*", "/other/x"),
    ])
    func refuses(pattern: String, path: String) throws {
        #expect(try #require(RoutePattern(pattern)).match(path) == nil)
    }

    @Test func plainPathsAreNotPatterns() {
        #expect(RoutePattern("/rooms/lobby") == nil)
        #expect(RoutePattern("/") == nil)
    }
}

extension WebSocketServerTests {
    @Suite struct RoutePatternServerTests {
        @Test func parametersReachHTTPHandlersHooksAndSockets() throws {
            let seen = Recorder<[String: String]>()
            let (server, port) = try startServer { server in
                server.http("/rooms/lobby") { _ in .text(200, "the lobby itself\n") }
                server.http("/rooms/:room") { _, parameters in .text(200, "room \(parameters["room"] ?? "?")\n") }
                server.http("/static/*") { _, parameters in .text(200, "file \(parameters["*"] ?? "?")\n") }
                server.webSocket("/chat/:room", upgrade: { context in
                    seen.append(context.parameters)
                    return .accept
                }) { socket in
                    socket.onMessage { socket, _ in socket.send("in \(socket.parameters["room"] ?? "?")") }
                }
            }
            defer { stop(server) }
            #expect(try RawConnection(port: port).exchange("GET /rooms/kitchen HTTP/1.1\r\nHost: x\r\n\r\n").hasSuffix("room kitchen\n"))
            #expect(try RawConnection(port: port).exchange("GET /rooms/lobby HTTP/1.1\r\nHost: x\r\n\r\n").hasSuffix("the lobby itself\n"))
            #expect(try RawConnection(port: port).exchange("GET /static/a/b.css HTTP/1.1\r\nHost: x\r\n\r\n").hasSuffix("file a/b.css\n"))
            #expect(try RawConnection(port: port).exchange("GET /rooms/ HTTP/1.1\r\nHost: x\r\n\r\n").hasPrefix("HTTP/1.1 404 "))
            let client = try TestClient(port: port, path: "/chat/garden?x=1")
            try client.send("hello")
            #expect(client.nextMessage()?.text == "in garden")
            #expect(seen.all == [["room": "garden"]])
        }
    }
}
