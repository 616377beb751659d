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
            let keptAlive = initialBytes.withUnsafeBytes { carryOut(decide(head), remainder: $0) }
            if keptAlive { answerPipelinedRequests(initialBytes) }
        } else if !initialBytes.isEmpty {
            var bytes = initialBytes
            bytes.withUnsafeMutableBytes { handleInput($0) }
        } else {
            // The request has usually arrived with the connection (TCP_DEFER_ACCEPT): read it
            // now rather than after another trip through epoll.
            readable()
        }
    }

    /// Parses request heads as they arrive, and answers them. On the queue.
    func parseHead(_ bytes: UnsafeRawBufferPointer) {
        guard let consumed = parseOneHead(bytes) else { return }
        answerPipelinedRequests(Array(UnsafeRawBufferPointer(rebasing: bytes[consumed...])))
    }

    /// Answers the requests in `requests`, which followed one answered with keep-alive, in
    /// order, then writes the responses together. A loop over offsets into one buffer rather
    /// than recursion or a copy of the rest per request: a read can hold thousands. While the
    /// responses queued are over the high-water mark (a peer that sends requests and reads no
    /// responses), the rest waits in `.pipelined` with reading paused, until they are written.
    func answerPipelinedRequests(_ requests: [UInt8]) {
        var offset = 0
        while offset < requests.count, case .http = phase {
            if writeQueue.cost > endpoint.settings.highWaterMark {
                flush()
                if !writeQueue.isEmpty, !isClosed {
                    phase = .pipelined(Array(requests[offset...]))
                    pause(.backpressure)
                    return
                }
                continue
            }
            let start = offset
            guard let consumed = requests.withUnsafeBytes({ parseOneHead(UnsafeRawBufferPointer(rebasing: $0[start...])) }) else { break }
            offset += consumed
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

    /// Parses as much of a request head as `bytes` holds and carries out what it gets; when it
    /// was answered and the connection waits for the next request, returns how many bytes of
    /// `bytes` it took (the next request starts there).
    private func parseOneHead(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard case .http(var parser) = phase else { return nil }
        // The phase lets go of the parser while it parses, so that its buffer, when a head
        // spans reads, grows in place instead of being copied on every read.
        phase = .finishing
        let parsed: (head: HTTPRequestHead, consumed: Int)?
        do {
            parsed = try parser.parseRequestHead(bytes)
        } catch {
            refuse(error.response, reason: error.reason)
            return nil
        }
        guard let (head, consumed) = parsed else {
            phase = .http(parser)
            return nil
        }
        let keptAlive = carryOut(decide(head), remainder: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
        return keptAlive ? consumed : nil
    }

    /// Acts on what the request gets; `remainder` is what followed the request head (an
    /// upgrade keeps a copy for the engine). Returns whether the connection is kept alive for
    /// another request (the response is queued, not yet written).
    private func carryOut(_ decision: RequestDecision, remainder: UnsafeRawBufferPointer) -> Bool {
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
                return true
            }
            phase = .finishing
            timers.handshakeAnswered()
            flush()
        case .upgrade(let route, let request, let parameters):
            phase = .upgrading(route, request, parameters: parameters, remainder: Array(remainder))
            guard let hook = route.upgradeHook else {
                completeUpgrade(.accept)
                return false
            }
            pause(.upgrade)
            let context = UpgradeContext(request: request, remoteAddress: remoteAddress, tls: transport.tlsInfo, parameters: parameters)
            endpoint.userTasks.run { [self] in
                let decision = await hook(context)
                loop.execute { self.completeUpgrade(decision) }
            }
        }
        return false
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
