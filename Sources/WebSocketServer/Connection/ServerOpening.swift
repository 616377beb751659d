import WebSocketCore

/// A server connection's opening: the request head, the decision the routes make about it,
/// the route's upgrade hook, and the 101 (or the refusal).
extension Connection {
    /// Starts a server connection: reads its request. On the queue. `initialBytes` were read by
    /// someone else before handing the socket over; `head` is a request head they parsed already.
    func start(head: HTTPRequestHead? = nil, initialBytes: [UInt8] = []) {
        loop.register(self)
        if let head {
            carryOut(RequestDecision.decide(head, routes: endpoint.routes), remainder: initialBytes)
        } else if !initialBytes.isEmpty {
            initialBytes.withUnsafeBytes { handleInput($0) }
        } else {
            // The request has usually arrived with the connection (TCP_DEFER_ACCEPT): read it
            // now rather than after another trip through epoll.
            readable()
        }
    }

    /// Parses the request head as it arrives. On the queue.
    func parseHead(_ bytes: UnsafeRawBufferPointer) {
        guard case .http(var parser) = phase else { return }
        // The phase lets go of the parser while it parses, so that its buffer, when a head
        // spans reads, grows in place instead of being copied on every read.
        phase = .finishing
        let progress: HTTPHeadParser.Progress<HTTPRequestHead>
        do {
            progress = try parser.parseRequest(bytes)
        } catch {
            refuse(error.response, reason: error.reason)
            return
        }
        switch progress {
        case .needMoreData:
            phase = .http(parser)
        case .complete(let head, let remainder):
            carryOut(RequestDecision.decide(head, routes: endpoint.routes), remainder: remainder)
        }
    }

    /// Acts on what the request gets; `remainder` is what followed the request head.
    private func carryOut(_ decision: RequestDecision, remainder: [UInt8]) {
        switch decision {
        case .refuse(let response, let reason):
            refuse(response, reason: reason)
        case .respond(let response, let includeBody):
            endpoint.metrics.httpResponses.add(1, ordering: .relaxed)
            phase = .finishing
            timers.handshakeAnswered()
            writeQueue.append(.init(header: nil, payload: response.serialized(includeBody: includeBody), accounted: 0))
            flush()
        case .upgrade(let route, let request, let parameters):
            phase = .upgrading(route, request, parameters: parameters, remainder: remainder)
            guard let hook = route.upgradeHook else {
                completeUpgrade(.accept)
                return
            }
            pause(.upgrade)
            let context = UpgradeContext(request: request, remoteAddress: remoteAddress, tls: transport.tlsInfo, parameters: parameters)
            endpoint.userTasks.run { [self] in
                let decision = await hook(context)
                loop.execute { self.completeUpgrade(decision) }
            }
        }
    }

    /// Carries out the upgrade hook's decision (or `.accept` for a route without a hook).
    private func completeUpgrade(_ decision: UpgradeDecision) {
        guard case .upgrading(let route, let request, let parameters, let remainder) = phase else { return }
        switch decision {
        case .reject(var response):
            response.headers.replaceOrAdd(name: "Connection", value: "close")
            refuse(response, reason: "rejected by the upgrade hook")
        case .accept(let subprotocol, let headers, let userInfo):
            let acceptance: UpgradeAcceptance
            do {
                acceptance = try ServerHandshake.accept(request, subprotocol: subprotocol, headers: headers,
                                                        extensions: endpoint.settings.extensions, engine: engineConfiguration())
            } catch {
                refuse(error.response, reason: error.reason)
                return
            }
            writeQueue.append(.init(header: nil, payload: acceptance.response, accounted: 0))
            let socket = WebSocket(connection: self, request: request, parameters: parameters, subprotocol: subprotocol,
                                   extensions: acceptance.extensions, userInfo: userInfo, feedsMessageSequence: route.feedsMessageSequence)
            endpoint.metrics.handshakesAccepted.add(1, ordering: .relaxed)
            open(socket, engine: acceptance.engine, remainder: remainder) {
                route.open(socket, tasks: endpoint.userTasks)
            }
            resume(.upgrade)
        }
    }

    /// Answers with an HTTP error and closes.
    func refuse(_ response: HTTPResponse, reason: String) {
        endpoint.metrics.rejected(status: response.status)
        log(.debug, "Handshake refused", ["status": String(response.status), "reason": reason])
        phase = .finishing
        timers.handshakeAnswered()
        writeQueue.append(.init(header: nil, payload: response.serialized(), accounted: 0))
        flush()
    }

}
