import WebSocketCore

/// A server connection's opening: the request head, the decision the routes make about it,
/// the route's upgrade hook, and the 101 (or the refusal); or, for HTTP routes, the response,
/// and the next request on a connection kept alive.
extension Connection {
    /// Starts a server connection: reads its request. On the queue. `initialBytes` were read by
    /// someone else before handing the socket over; `head` is a request head they parsed already.
    func start(head: HTTPRequestHead? = nil, initialBytes: [UInt8] = []) {
        loop.register(self)
        if let head {
            if let requests = carryOut(decide(head), remainder: initialBytes) { answerPipelinedRequests(requests) }
        } else if !initialBytes.isEmpty {
            initialBytes.withUnsafeBytes { handleInput($0) }
        } else {
            // The request has usually arrived with the connection (TCP_DEFER_ACCEPT): read it
            // now rather than after another trip through epoll.
            readable()
        }
    }

    /// Parses request heads as they arrive, and answers them. On the queue.
    func parseHead(_ bytes: UnsafeRawBufferPointer) {
        if let requests = parseOneHead(bytes) { answerPipelinedRequests(requests) }
    }

    /// Answers the requests that followed one answered with keep-alive, in order, then writes
    /// the responses together. A loop rather than recursion: a read can hold thousands. While
    /// the responses queued are over the high-water mark (a peer that sends requests and reads
    /// no responses), the rest waits in `.pipelined` with reading paused, until they are written.
    func answerPipelinedRequests(_ requests: [UInt8]) {
        var rest = requests
        while !rest.isEmpty, case .http = phase {
            if writeQueue.cost > endpoint.settings.highWaterMark {
                flush()
                if !writeQueue.isEmpty, !isClosed {
                    phase = .pipelined(rest)
                    pause(.backpressure)
                    return
                }
                continue
            }
            rest = rest.withUnsafeBytes { parseOneHead($0) } ?? []
        }
        resume(.backpressure)
        flush()
    }

    /// The request is answered and the pipelined requests' wait is over: reading resumes
    /// after they are answered.
    func pipelinedResponsesWritten(_ requests: [UInt8]) {
        phase = .http(HTTPHeadParser(limits: endpoint.settings.headLimits))
        answerPipelinedRequests(requests)
    }

    /// What the routes decide for `head`; whether the connection may be kept alive after it
    /// depends on the requests it has made.
    private func decide(_ head: HTTPRequestHead) -> RequestDecision {
        RequestDecision.decide(head, routes: endpoint.routes,
                               mayKeepAlive: Int(requestsAnswered) + 1 < endpoint.settings.maxRequestsPerConnection)
    }

    /// Parses as much of a request head as `bytes` holds and carries out what it gets; returns
    /// the bytes after it when it was answered and the connection waits for the next request.
    private func parseOneHead(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        guard case .http(var parser) = phase else { return nil }
        // The phase lets go of the parser while it parses, so that its buffer, when a head
        // spans reads, grows in place instead of being copied on every read.
        phase = .finishing
        let progress: HTTPHeadParser.Progress<HTTPRequestHead>
        do {
            progress = try parser.parseRequest(bytes)
        } catch {
            refuse(error.response, reason: error.reason)
            return nil
        }
        switch progress {
        case .needMoreData:
            phase = .http(parser)
            return nil
        case .complete(let head, let remainder):
            return carryOut(decide(head), remainder: remainder)
        }
    }

    /// Acts on what the request gets; `remainder` is what followed the request head. Returns
    /// it when the connection is kept alive for another request (the response is queued, not
    /// yet written).
    private func carryOut(_ decision: RequestDecision, remainder: [UInt8]) -> [UInt8]? {
        switch decision {
        case .refuse(let response, let reason):
            refuse(response, reason: reason)
        case .respond(let response, let includeBody, let keepAlive):
            endpoint.metrics.httpResponses.add(1, ordering: .relaxed)
            writeQueue.append(.init(header: nil, payload: response.serialized(includeBody: includeBody), accounted: 0))
            if keepAlive {
                requestsAnswered += 1
                timers.requestAnswered(at: Monotonic.now, endpoint.settings.timers)
                phase = .http(HTTPHeadParser(limits: endpoint.settings.headLimits))
                return remainder
            }
            phase = .finishing
            timers.handshakeAnswered()
            flush()
        case .upgrade(let route, let request, let parameters):
            phase = .upgrading(route, request, parameters: parameters, remainder: remainder)
            guard let hook = route.upgradeHook else {
                completeUpgrade(.accept)
                return nil
            }
            pause(.upgrade)
            let context = UpgradeContext(request: request, remoteAddress: remoteAddress, tls: transport.tlsInfo, parameters: parameters)
            endpoint.userTasks.run { [self] in
                let decision = await hook(context)
                loop.execute { self.completeUpgrade(decision) }
            }
        }
        return nil
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
