import WebSocketCore

/// What a connection does with a request head, decided without I/O: the request rules of RFC
/// 9112, the route table, RFC 6455 §4.2.1's validation and the route's Origin check. The
/// connection carries the decision out (writes, hooks, the engine).
enum RequestDecision {
    /// Answer with an error and close; `reason` is for the log.
    case refuse(HTTPResponse, reason: String)
    /// Answer a plain HTTP route (GET, or HEAD without the body); then read the next request
    /// if `keepAlive`, else close.
    case respond(HTTPResponse, includeBody: Bool, keepAlive: Bool)
    /// A valid upgrade on a WebSocket route: the route's hook, if any, decides the rest.
    case upgrade(WebSocketRoute, UpgradeRequest, parameters: [String: String])

    /// Decides what `head` gets. A path may have both a page and a WebSocket: a request that
    /// asks for a WebSocket upgrade goes to the WebSocket route, any other to the page.
    /// `mayKeepAlive` says whether the connection may take another request after this one (it
    /// has not reached its request limit); the request and the handler's response have their
    /// say too (`Connection: close`, a request body), and a response after which the connection
    /// closes says `Connection: close`.
    static func decide(_ head: HTTPRequestHead, routes: Routes, mayKeepAlive: Bool) -> RequestDecision {
        let match = routes.match(head.path)
        let entry = match?.routes
        let parameters = match?.parameters ?? [:]
        let route: Route?
        if let socket = entry?.webSocket, entry?.http == nil || head.headers.containsToken("websocket", in: "Upgrade") {
            route = .webSocket(socket)
        } else {
            route = entry?.http.map(Route.http)
        }
        if case .webSocket = route {} else {
            // The upgrade's validation makes these checks itself, in its one pass over the head.
            do {
                try ServerHandshake.checkRequest(head)
            } catch {
                return .refuse(error.response, reason: error.reason)
            }
        }
        switch route {
        case .none:
            return .refuse(HTTPResponse.text(404, "Not Found\n", headers: ["Connection": "close"]), reason: "no route for \(head.path)")
        case .http(let handler):
            guard head.method == "GET" || head.method == "HEAD" else {
                return .refuse(HTTPResponse.text(405, "Method Not Allowed\n", headers: ["Allow": "GET, HEAD", "Connection": "close"]),
                               reason: "method \(head.method)")
            }
            var response = handler(head, parameters)
            let keepAlive = mayKeepAlive && head.permitsKeepAlive && !response.headers.containsToken("close", in: "Connection")
            if !keepAlive { response.headers.replaceOrAdd(name: "Connection", value: "close") }
            return .respond(response, includeBody: head.method != "HEAD", keepAlive: keepAlive)
        case .webSocket(let route):
            do {
                let request = try ServerHandshake.validate(head)
                do {
                    try ServerHandshake.checkOrigin(request, allowed: route.allowedOrigins)
                } catch {
                    return .refuse(error.response, reason: "origin \(request.origin ?? "")")
                }
                return .upgrade(route, request, parameters: parameters)
            } catch {
                return .refuse(error.response, reason: error.reason)
            }
        }
    }
}
