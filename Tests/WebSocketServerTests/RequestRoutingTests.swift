import Testing
import WebSocketCore
@testable import WebSocketServer

/// The connection's request decisions, made without a socket.
@Suite struct RequestRoutingTests {
    let upgradeFields = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

    func routes() -> Routes {
        let routes = Routes()
        routes.add("/ws", .webSocket(WebSocketRoute(allowedOrigins: ["https://good.example"], upgradeHook: nil, onOpen: nil, task: nil)))
        routes.add("/page", .http { _, _ in .text(200, "page") })
        return routes
    }

    func decide(_ text: String, _ routes: Routes, mayKeepAlive: Bool = true) throws -> RequestDecision {
        var parser = HTTPHeadParser()
        guard case .complete(let head, _) = try parser.parseRequest(Array(text.utf8)) else { throw TestError("incomplete") }
        return RequestDecision.decide(head, routes: routes, mayKeepAlive: mayKeepAlive)
    }

    func status(_ decision: RequestDecision) -> Int? {
        switch decision {
        case .refuse(let response, _): response.status
        case .respond(let response, _, _): response.status
        case .upgrade: 101
        }
    }

    @Test func eachRequestGetsItsAnswer() throws {
        let routes = routes()
        let cases: [(String, Int)] = [
            ("GET /ws HTTP/1.1\r\nHost: a\r\n\(upgradeFields)\r\n", 101),
            ("GET /ws HTTP/1.1\r\nHost: a\r\nOrigin: https://good.example\r\n\(upgradeFields)\r\n", 101),
            ("GET /ws HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\n\(upgradeFields)\r\n", 403),
            ("GET /ws HTTP/1.1\r\nHost: a\r\n\r\n", 426),
            ("GET /page HTTP/1.1\r\nHost: a\r\n\r\n", 200),
            ("POST /page HTTP/1.1\r\nHost: a\r\n\r\n", 405),
            ("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", 404),
            ("GET /nowhere HTTP/1.1\r\n\r\n", 400),
            ("GET /page HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ]
        for (request, expected) in cases {
            #expect(status(try decide(request, routes)) == expected, "\(request.prefix(40))")
        }
    }

    @Test func onePathCanServeAPageAndItsWebSocket() throws {
        let routes = Routes()
        routes.add("/", .http { _, _ in .text(200, "page") })
        routes.add("/", .webSocket(WebSocketRoute(allowedOrigins: nil, upgradeHook: nil, onOpen: nil, task: nil)))
        #expect(status(try decide("GET / HTTP/1.1\r\nHost: a\r\n\r\n", routes)) == 200)
        #expect(status(try decide("GET / HTTP/1.1\r\nHost: a\r\n\(upgradeFields)\r\n", routes)) == 101)
        // An upgrade request that is not valid gets the WebSocket route's answer, not the page.
        #expect(status(try decide("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", routes)) == 426)
    }

    @Test func headGetsTheHeadOnly() throws {
        guard case .respond(_, let includeBody, _) = try decide("HEAD /page HTTP/1.1\r\nHost: a\r\n\r\n", routes()) else {
            Issue.record("not answered")
            return
        }
        #expect(!includeBody)
    }

    /// RFC 9112 §9.3: HTTP/1.1 connections persist unless either side says `close`; this server
    /// also closes after a request with a body (it reads none, so could not find the next
    /// request), after HTTP/1.0, and at the connection's request limit. Every response after
    /// which it closes says so.
    @Test func keepAliveFollowsTheRequestTheResponseAndTheLimit() throws {
        let routes = routes()
        routes.add("/bye", .http { _, _ in .text(200, "bye", headers: ["Connection": "close"]) })
        let cases: [(request: String, mayKeepAlive: Bool, keepsAlive: Bool)] = [
            ("GET /page HTTP/1.1\r\nHost: a\r\n\r\n", true, true),
            ("GET /page HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", true, true),
            ("GET /page HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", true, true),
            ("GET /page HTTP/1.1\r\nHost: a\r\n\r\n", false, false),
            ("GET /page HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", true, false),
            ("GET /page HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", true, false),
            ("GET /page HTTP/1.0\r\n\r\n", true, false),
            ("GET /page HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, false),
            ("GET /page HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", true, false),
            ("GET /page HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", true, false),
            ("GET /bye HTTP/1.1\r\nHost: a\r\n\r\n", true, false),
        ]
        for (request, mayKeepAlive, keepsAlive) in cases {
            guard case .respond(let response, _, let keepAlive) = try decide(request, routes, mayKeepAlive: mayKeepAlive) else {
                Issue.record("not answered: \(request)")
                continue
            }
            #expect(keepAlive == keepsAlive, "\(request)")
            #expect(response.headers.containsToken("close", in: "Connection") == !keepsAlive, "\(request)")
        }
    }
}
