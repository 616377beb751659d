/// The server side of the opening handshake (RFC 6455 §4.2).
public enum ServerHandshake {
    /// The GUID that RFC 6455 §1.3 appends to the key before hashing.
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for a key: Base64 of the SHA-1 of the key and the GUID.
    public static func acceptValue(forKey key: String) -> String {
        withAcceptValue(forKey: key) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the 28 characters of `Sec-WebSocket-Accept` for `key`, from the stack.
    static func withAcceptValue<R>(forKey key: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var key = key
        return key.withUTF8 { withAcceptValue(forKey: $0, body) }
    }

    /// Calls `body` with the 28 characters of `Sec-WebSocket-Accept` for the key's bytes.
    static func withAcceptValue<R>(forKey key: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let digest = { (keyBytes: UnsafeBufferPointer<UInt8>) -> SHA1.Digest in
            // A 24-byte key (every valid one) and the GUID make 60 bytes, which SHA-1 hashes
            // with a shortcut: see SHA1.digest(ofKey:guid:).
            guard keyBytes.count == 24 else {
                var sha = SHA1()
                sha.update(UnsafeRawBufferPointer(keyBytes))
                sha.update(guid.utf8)
                return sha.finalizeDigest()
            }
            return guidBytes.withUnsafeBytes { SHA1.digest(ofKey: UnsafeRawBufferPointer(keyBytes), guid: $0) }
        }(key)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 28) { out in
            Base64.encode(digest, into: out.baseAddress!)
            return body(UnsafeBufferPointer(out))
        }
    }

    private static let guidBytes: [UInt8] = Array(guid.utf8)

    /// Whether a field name's bytes are `name`, ignoring ASCII case.
    @inline(__always)
    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
        HTTPHeaders.bytesMatch(bytes, UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// Checks a request against RFC 6455 §4.2.1 and the request rules of RFC 9112
    /// (``checkRequest(_:)``). The error names the status to answer with: 405 for a method
    /// other than GET, 505 for an HTTP version other than 1.x, 426 (with
    /// `Sec-WebSocket-Version: 13`) when there is no `Upgrade` or another WebSocket version is
    /// asked for, 400 for anything malformed, including a request that announces a body
    /// (`Content-Length` above 0, or `Transfer-Encoding`): the bytes after an upgrade request
    /// are WebSocket frames, and a proxy that read them as a body would disagree with this
    /// server about where the request ends.
    public static func validate(_ head: HTTPRequestHead) throws(HandshakeError) -> UpgradeRequest {
        guard head.method == "GET" else {
            throw HandshakeError(status: 405, reason: "A WebSocket handshake must use GET", headers: ["Allow": "GET"])
        }
        try checkVersion(head)
        guard head.version.minor >= 1 else {
            throw HandshakeError(status: 400, reason: "A WebSocket handshake needs HTTP/1.1 or later")
        }
        try checkTarget(head)
        let headers = head.headers
        // One pass over the fields' bytes, classifying each by name.
        var hosts = 0, hostIndex = -1, versions = 0, keys = 0
        var hasBody = false
        var hasUpgrade = false, upgradeIsWebSocket = false, connectionIsUpgrade = false
        var hasProtocols = false, hasExtensions = false
        var versionIs13 = false, keyIndex = -1, keyIsValid = false
        var index = 0
        headers.forEachField { name, value in
            defer { index += 1 }
            switch name.count {
            case 4 where matches(name, "Host"):
                hosts += 1
                hostIndex = index
            case 14 where matches(name, "Content-Length"):
                if value.isEmpty || value.contains(where: { $0 != UInt8(ascii: "0") }) { hasBody = true }
            case 17 where matches(name, "Transfer-Encoding"):
                hasBody = true
            case 7 where matches(name, "Upgrade"):
                hasUpgrade = true
                if HTTPHeaders.listContainsToken(value, "websocket" as StaticString) { upgradeIsWebSocket = true }
            case 10 where matches(name, "Connection"):
                if HTTPHeaders.listContainsToken(value, "upgrade" as StaticString) { connectionIsUpgrade = true }
            case 17 where matches(name, "Sec-WebSocket-Key"):
                keys += 1
                keyIndex = index
                keyIsValid = value.count == 24 && Base64.decodedCount(value) == 16
            case 21 where matches(name, "Sec-WebSocket-Version"):
                versions += 1
                versionIs13 = value.count == 2 && value[0] == UInt8(ascii: "1") && value[1] == UInt8(ascii: "3")
            case 22 where matches(name, "Sec-WebSocket-Protocol"):
                hasProtocols = true
            case 24 where matches(name, "Sec-WebSocket-Extensions"):
                hasExtensions = true
            default:
                break
            }
        }
        try checkHost(headers, count: hosts, index: hostIndex)
        guard !hasBody else {
            throw HandshakeError(status: 400, reason: "A WebSocket upgrade request must not have a body")
        }
        guard hasUpgrade else {
            throw HandshakeError(status: 426, reason: "This resource needs a WebSocket upgrade",
                                 headers: ["Upgrade": "websocket", "Sec-WebSocket-Version": "13"])
        }
        guard upgradeIsWebSocket else {
            throw HandshakeError(status: 400, reason: "The Upgrade header does not contain 'websocket'")
        }
        guard connectionIsUpgrade else {
            throw HandshakeError(status: 400, reason: "The Connection header does not contain 'Upgrade'")
        }
        guard versions == 1, versionIs13 else {
            throw HandshakeError(status: 426, reason: "Only WebSocket version 13 is supported",
                                 headers: ["Sec-WebSocket-Version": "13"])
        }
        guard keys == 1 else {
            throw HandshakeError(status: 400, reason: keys == 0 ? "Missing Sec-WebSocket-Key" : "More than one Sec-WebSocket-Key")
        }
        guard keyIsValid else {
            throw HandshakeError(status: 400, reason: "Sec-WebSocket-Key is not the Base64 of 16 bytes")
        }
        let subprotocols = hasProtocols ? headers.tokens("Sec-WebSocket-Protocol") : []
        guard subprotocols.allSatisfy({ $0.utf8.allSatisfy(HTTPHeadParser.isTokenCharacter) }) else {
            throw HandshakeError(status: 400, reason: "Malformed Sec-WebSocket-Protocol")
        }
        var offers: [ExtensionOffer] = []
        if hasExtensions {
            guard let parsed = ExtensionOffer.parse(headers.values("Sec-WebSocket-Extensions")) else {
                throw HandshakeError(status: 400, reason: "Malformed Sec-WebSocket-Extensions")
            }
            offers = parsed
        }
        return UpgradeRequest(head: head, keyIndex: keyIndex, subprotocols: subprotocols, extensionOffers: offers)
    }

    /// Runs each negotiator over the offers made for it. Returns at most one agreement per
    /// reserved bit: the first negotiator (in the given order) to accept wins the bits.
    public static func negotiateExtensions(_ request: UpgradeRequest, with negotiators: [any ExtensionNegotiator]) throws(HandshakeError) -> [ExtensionAgreement] {
        var agreements: [ExtensionAgreement] = []
        for negotiator in negotiators where agreements.isEmpty {
            let offers = request.extensionOffers.filter { offer in
                negotiator.extensionNames.contains { HTTPHeaders.namesMatch($0, offer.name) }
            }
            guard !offers.isEmpty else { continue }
            if let agreement = try negotiator.negotiate(offers) { agreements.append(agreement) }
        }
        return agreements
    }

    /// The 101 response that accepts `request`.
    ///
    /// - Parameters:
    ///   - request: the validated upgrade request.
    ///   - subprotocol: the one subprotocol chosen, which must be among those offered.
    ///   - extensions: the agreed extensions' response elements.
    ///   - headers: extra header fields (cookies, for instance).
    /// - Throws: a 500 ``HandshakeError`` if `subprotocol` was not offered: answering with one
    ///   the client did not offer would make it fail the connection (RFC 6455 §4.1).
    public static func acceptResponse(for request: UpgradeRequest, subprotocol: String? = nil, extensions: [ExtensionOffer] = [], headers: HTTPHeaders = HTTPHeaders()) throws(HandshakeError) -> HTTPResponse {
        var h = HTTPHeaders(reservingFields: 3 + headers.count, bytes: 96)
        h.add(name: "Upgrade" as StaticString, value: "websocket" as StaticString)
        h.add(name: "Connection" as StaticString, value: "Upgrade" as StaticString)
        request.head.headers.withValueBytes(at: request.keyIndex) { key in
            withAcceptValue(forKey: key) { h.add(name: "Sec-WebSocket-Accept", valueBytes: $0) }
        }
        if let subprotocol {
            guard request.subprotocols.contains(subprotocol) else {
                throw HandshakeError(status: 500, reason: "The server chose subprotocol '\(subprotocol)', which the client did not offer")
            }
            h.add(name: "Sec-WebSocket-Protocol", value: subprotocol)
        }
        if !extensions.isEmpty {
            h.add(name: "Sec-WebSocket-Extensions", value: extensions.map(\.description).joined(separator: ", "))
        }
        for field in headers { h.add(name: field.name, value: field.value) }
        return HTTPResponse(status: 101, headers: h)
    }
}
