import CZlib

/// permessage-deflate (RFC 7692): negotiation on the server side, and the codec that
/// compresses and decompresses messages through the system zlib.
///
/// Put it in the server's extensions to offer compression to every client that asks:
///
/// ```swift
/// configuration.extensions = [PerMessageDeflate()]
/// ```
///
/// Negotiation follows RFC 7692 §7: the client's offers are read in order and the first one
/// this configuration can honour is accepted; an offer that is invalid (an unknown or repeated
/// parameter, a value out of range or where none is allowed) or that cannot be honoured is
/// declined, and the next one is tried. When every offer is declined the connection opens
/// without compression: RFC 7692 asks the server to *decline* such offers, not to fail the
/// handshake.
///
/// zlib cannot write a raw deflate stream with an 8-bit window (it silently uses 9), so an
/// offer with `server_max_window_bits=8` is declined: accepting it would send data the client
/// could not decompress.
public struct PerMessageDeflate: ExtensionNegotiator {
    /// What the server wants from compression.
    public struct Configuration: Sendable, Hashable {
        /// Reset the server's compressor after every message (less memory kept, less compression).
        public var serverNoContextTakeover: Bool
        /// Ask the client to reset its compressor after every message, so the server's
        /// decompressor can too.
        public var clientNoContextTakeover: Bool
        /// The largest LZ77 window the server compresses with, 9-15 (memory: 2^(bits+2) bytes).
        public var serverMaxWindowBits: Int
        /// The largest window the server lets the client compress with, 8-15 (the server's
        /// decompressor holds 2^bits bytes). Below 15, offers that cannot limit the client are declined.
        public var clientMaxWindowBits: Int
        /// zlib compression level, 0-9; 1 is fastest, 9 smallest.
        public var compressionLevel: Int32
        /// zlib memLevel, 1-9: the compressor's hash table (2^(memLevel+9) bytes).
        public var memoryLevel: Int32
        /// Messages shorter than this go uncompressed (compressing them costs more than it saves),
        /// unless a send asks for compression.
        public var minimumSize: Int
        /// Free the zlib streams between messages when there is no context takeover in that
        /// direction (a connection then holds no compression memory while idle).
        public var releasesStreamsBetweenMessages: Bool
        /// Also accept the legacy per-frame extension `deflate-frame` / `x-webkit-deflate-frame`
        /// (no longer sent by browsers). Off by default.
        public var acceptsDeflateFrame: Bool

        /// The defaults: context takeover both ways, 15-bit windows, level 6, memLevel 8,
        /// messages under 32 bytes sent as they are.
        public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                    serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15,
                    compressionLevel: Int32 = 6, memoryLevel: Int32 = 8, minimumSize: Int = 32,
                    releasesStreamsBetweenMessages: Bool = false, acceptsDeflateFrame: Bool = false) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverMaxWindowBits = min(max(serverMaxWindowBits, 9), 15)
            self.clientMaxWindowBits = min(max(clientMaxWindowBits, 8), 15)
            self.compressionLevel = min(max(compressionLevel, 0), 9)
            self.memoryLevel = min(max(memoryLevel, 1), 9)
            self.minimumSize = max(0, minimumSize)
            self.releasesStreamsBetweenMessages = releasesStreamsBetweenMessages
            self.acceptsDeflateFrame = acceptsDeflateFrame
        }
    }

    /// The server's wishes.
    public var configuration: Configuration

    /// A negotiator with the given configuration.
    public init(_ configuration: Configuration = Configuration()) { self.configuration = configuration }

    /// `permessage-deflate`, and the legacy names when they are accepted.
    public var extensionNames: [String] {
        configuration.acceptsDeflateFrame ? ["permessage-deflate", "deflate-frame", "x-webkit-deflate-frame"] : ["permessage-deflate"]
    }

    /// The parameters agreed for one connection.
    public struct Agreement: Sendable, Hashable {
        /// The server resets its compressor after each message.
        public var serverNoContextTakeover: Bool
        /// The client resets its compressor after each message.
        public var clientNoContextTakeover: Bool
        /// The server's compression window.
        public var serverWindowBits: Int
        /// The client's compression window (the server's decompression window).
        public var clientWindowBits: Int
        /// The legacy per-frame extension rather than permessage-deflate.
        public var perFrame: Bool

        /// Makes an agreement (a client reads one from the server's response with
        /// ``PerMessageDeflate/clientAgreement(from:)``).
        public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                    serverWindowBits: Int = 15, clientWindowBits: Int = 15, perFrame: Bool = false) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverWindowBits = serverWindowBits
            self.clientWindowBits = clientWindowBits
            self.perFrame = perFrame
        }
    }

    /// Accepts the first offer this configuration can honour (see the type's documentation).
    public func negotiate(_ offers: [ExtensionOffer]) throws(HandshakeError) -> ExtensionAgreement? {
        for offer in offers where extensionNames.contains(where: { HTTPHeaders.namesMatch($0, offer.name) }) {
            let isPerMessage = HTTPHeaders.namesMatch(offer.name, "permessage-deflate")
            let agreement = isPerMessage ? agree(toPerMessage: offer) : agree(toDeflateFrame: offer)
            guard let agreement else { continue }
            var response = ExtensionOffer(name: offer.name)
            if isPerMessage {
                if agreement.serverNoContextTakeover { response.parameters.append(.init("server_no_context_takeover")) }
                if agreement.clientNoContextTakeover { response.parameters.append(.init("client_no_context_takeover")) }
                if offer.parameters.contains(where: { $0.name == "server_max_window_bits" }) || agreement.serverWindowBits < 15 {
                    response.parameters.append(.init("server_max_window_bits", String(agreement.serverWindowBits)))
                }
                if let offered = offer.parameters.first(where: { $0.name == "client_max_window_bits" }),
                   offered.value != nil || agreement.clientWindowBits < 15 {
                    response.parameters.append(.init("client_max_window_bits", String(agreement.clientWindowBits)))
                }
            }
            let configuration = self.configuration
            return ExtensionAgreement(response: response) {
                DeflateCodec(agreement: agreement, configuration: configuration, role: .server)
            }
        }
        return nil
    }

    /// The agreement for a permessage-deflate offer, or nil to decline it (RFC 7692 §7).
    func agree(toPerMessage offer: ExtensionOffer) -> Agreement? {
        var seen = Set<String>()
        var serverNoContext = false, clientNoContext = false
        var serverBits: Int?
        var clientBits: Int?? = .none  // absent; .some(nil) = present without a value
        for parameter in offer.parameters {
            guard seen.insert(parameter.name).inserted else { return nil }  // repeated
            switch parameter.name {
            case "server_no_context_takeover":
                guard parameter.value == nil else { return nil }
                serverNoContext = true
            case "client_no_context_takeover":
                guard parameter.value == nil else { return nil }
                clientNoContext = true
            case "server_max_window_bits":
                guard let value = parameter.value, let bits = PerMessageDeflate.windowBits(value) else { return nil }
                serverBits = bits
            case "client_max_window_bits":
                if let value = parameter.value {
                    guard let bits = PerMessageDeflate.windowBits(value) else { return nil }
                    clientBits = .some(bits)
                } else {
                    clientBits = .some(nil)
                }
            default:
                return nil  // unknown parameter
            }
        }
        // zlib cannot compress with an 8-bit window; a client that needs one gets no compression.
        let serverWindow = min(configuration.serverMaxWindowBits, serverBits ?? 15)
        guard serverWindow >= 9 else { return nil }
        let clientWindow: Int
        switch clientBits {
        case .none:
            // The client cannot be limited; decline if the server insists on a smaller window.
            guard configuration.clientMaxWindowBits == 15 else { return nil }
            clientWindow = 15
        case .some(let value):
            clientWindow = min(configuration.clientMaxWindowBits, value ?? 15)
        }
        return Agreement(serverNoContextTakeover: serverNoContext || configuration.serverNoContextTakeover,
                         clientNoContextTakeover: clientNoContext || configuration.clientNoContextTakeover,
                         serverWindowBits: serverWindow, clientWindowBits: clientWindow, perFrame: false)
    }

    /// The agreement for a legacy deflate-frame offer: accepted with its defaults.
    func agree(toDeflateFrame offer: ExtensionOffer) -> Agreement? {
        for parameter in offer.parameters where !["no_context_takeover", "max_window_bits"].contains(parameter.name) {
            return nil
        }
        return Agreement(serverNoContextTakeover: configuration.serverNoContextTakeover, clientNoContextTakeover: false,
                         serverWindowBits: configuration.serverMaxWindowBits, clientWindowBits: 15, perFrame: true)
    }

    /// The offer a client sends: `permessage-deflate; client_max_window_bits`, plus any
    /// parameters asked for.
    public static func clientOffer(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                                   serverMaxWindowBits: Int? = nil, clientMaxWindowBits: Int? = nil) -> ExtensionOffer {
        var offer = ExtensionOffer(name: "permessage-deflate")
        if serverNoContextTakeover { offer.parameters.append(.init("server_no_context_takeover")) }
        if clientNoContextTakeover { offer.parameters.append(.init("client_no_context_takeover")) }
        if let serverMaxWindowBits { offer.parameters.append(.init("server_max_window_bits", String(serverMaxWindowBits))) }
        offer.parameters.append(.init("client_max_window_bits", clientMaxWindowBits.map(String.init)))
        return offer
    }

    /// The agreement a client reads from the server's response element, or nil if the
    /// response is not valid for permessage-deflate (the client must then fail the connection).
    public static func clientAgreement(from response: ExtensionOffer) -> Agreement? {
        guard HTTPHeaders.namesMatch(response.name, "permessage-deflate") else { return nil }
        var agreement = Agreement(serverNoContextTakeover: false, clientNoContextTakeover: false, serverWindowBits: 15, clientWindowBits: 15, perFrame: false)
        var seen = Set<String>()
        for parameter in response.parameters {
            guard seen.insert(parameter.name).inserted else { return nil }
            switch parameter.name {
            case "server_no_context_takeover" where parameter.value == nil: agreement.serverNoContextTakeover = true
            case "client_no_context_takeover" where parameter.value == nil: agreement.clientNoContextTakeover = true
            case "server_max_window_bits":
                guard let value = parameter.value, let bits = windowBits(value) else { return nil }
                agreement.serverWindowBits = bits
            case "client_max_window_bits":
                guard let value = parameter.value, let bits = windowBits(value), bits >= 9 else { return nil }
                agreement.clientWindowBits = bits
            default:
                return nil
            }
        }
        return agreement
    }

    /// A window size value: a decimal 8-15 without leading zeros.
    static func windowBits(_ value: String) -> Int? {
        guard value.utf8.count <= 2, value.first != "0", let bits = Int(value), (8...15).contains(bits) else { return nil }
        return bits
    }
}

/// Compresses and decompresses messages for one connection (RFC 7692 §7.2), or frames for
/// the legacy deflate-frame. zlib streams are made on first use in each direction.
public final class DeflateCodec: ExtensionCodec {
    /// `permessage-deflate` or `deflate-frame`.
    public let name: String
    /// RSV1 marks a compressed message (or frame).
    public let reservedBits: ReservedBits = .rsv1
    /// What was agreed.
    public let agreement: PerMessageDeflate.Agreement
    private let configuration: PerMessageDeflate.Configuration
    private let role: WebSocketEngine.Role
    private var deflater: UnsafeMutablePointer<z_stream>?
    private var inflater: UnsafeMutablePointer<z_stream>?
    private var inboundCompressed = false
    /// Set when a block with BFINAL ended the stream: the rest of the message is padding.
    private var streamEnded = false
    /// zlib writes here, 16 KiB at a time, and the bytes are appended to the message.
    private var scratch: UnsafeMutableRawBufferPointer?
    private static let scratchSize = 16 << 10
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// A codec for one connection; `role` says which direction's parameters apply to sending.
    public init(agreement: PerMessageDeflate.Agreement, configuration: PerMessageDeflate.Configuration = .init(), role: WebSocketEngine.Role) {
        self.agreement = agreement
        self.configuration = configuration
        self.role = role
        name = agreement.perFrame ? "deflate-frame" : "permessage-deflate"
    }

    deinit {
        if let deflater { deflateEnd(deflater); deflater.deallocate() }
        if let inflater { inflateEnd(inflater); inflater.deallocate() }
        scratch?.deallocate()
    }

    private func scratchBuffer() -> UnsafeMutableRawBufferPointer {
        if let scratch { return scratch }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: DeflateCodec.scratchSize, alignment: 16)
        scratch = buffer
        return buffer
    }

    /// Frees the scratch buffer once neither stream is left.
    private func releaseScratchIfIdle() {
        if deflater == nil && inflater == nil, let buffer = scratch {
            buffer.deallocate()
            scratch = nil
        }
    }

    /// Whether a compressor or decompressor currently holds zlib memory (for tests and metrics).
    public var holdsStreams: (deflater: Bool, inflater: Bool) { (deflater != nil, inflater != nil) }

    private var sendNoContextTakeover: Bool { role == .server ? agreement.serverNoContextTakeover : agreement.clientNoContextTakeover }
    private var receiveNoContextTakeover: Bool { role == .server ? agreement.clientNoContextTakeover : agreement.serverNoContextTakeover }
    private var sendWindowBits: Int { role == .server ? agreement.serverWindowBits : agreement.clientWindowBits }
    private var receiveWindowBits: Int { role == .server ? agreement.clientWindowBits : agreement.serverWindowBits }

    // MARK: Receiving

    /// RSV1 on the first frame marks a compressed message; on a continuation frame it is a
    /// protocol error (permessage-deflate). With deflate-frame each frame carries its own RSV1.
    public func inboundFrame(reservedBits: ReservedBits, opcode: Opcode, isFirstFrame: Bool) throws(ProtocolError) -> Bool {
        let rsv1 = reservedBits.contains(.rsv1)
        if agreement.perFrame { return rsv1 }
        if isFirstFrame {
            inboundCompressed = rsv1
        } else if rsv1 {
            throw ProtocolError(.protocolError, "RSV1 set on a continuation frame")
        }
        return inboundCompressed
    }

    /// Inflates a piece of a compressed message into `output`, stopping with 1009 as soon as
    /// the output would pass `limit`, so a small bomb costs no more memory than the limit.
    public func decode(_ piece: UnsafeRawBufferPointer, endOfFrame: Bool, endOfMessage: Bool, into output: inout [UInt8], limit: Int) throws(ProtocolError) {
        let stream = try inflateStream()
        try inflate(stream, piece, into: &output, limit: limit)
        let ends = agreement.perFrame ? endOfFrame : endOfMessage
        if ends {
            if streamEnded {
                // Whatever followed the final block was checked to inflate to nothing; the
                // next message starts a new stream.
                inflateReset(stream)
            } else {
                let result = DeflateCodec.tail.withUnsafeBytes { raw in
                    Result { () throws(ProtocolError) in try inflate(stream, raw, into: &output, limit: limit) }
                }
                try result.get()
            }
            streamEnded = false
            if receiveNoContextTakeover {
                if configuration.releasesStreamsBetweenMessages {
                    inflateEnd(stream)
                    stream.deallocate()
                    inflater = nil
                    releaseScratchIfIdle()
                } else {
                    inflateReset(stream)
                }
            }
        }
    }

    private func inflateStream() throws(ProtocolError) -> UnsafeMutablePointer<z_stream> {
        if let inflater { return inflater }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Raw deflate (negative window bits). Inflating with the largest window accepts every
        // smaller one; use the agreed window to hold no more memory than needed.
        guard czlib_inflateInit2(stream, -Int32(max(receiveWindowBits, 9))) == Z_OK else {
            stream.deallocate()
            throw ProtocolError(.internalError, "zlib could not make a decompressor")
        }
        inflater = stream
        return stream
    }

    private func inflate(_ stream: UnsafeMutablePointer<z_stream>, _ input: UnsafeRawBufferPointer, into output: inout [UInt8], limit: Int) throws(ProtocolError) {
        guard !input.isEmpty else { return }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        let scratch = scratchBuffer()
        while true {
            stream.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(scratch.count)
            let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
            let produced = scratch.count - Int(stream.pointee.avail_out)
            guard output.count + produced <= limit else {
                throw ProtocolError(.messageTooBig, "A compressed message inflates past the limit of \(limit) bytes")
            }
            if streamEnded && produced > 0 {
                throw ProtocolError(.invalidPayloadData, "Compressed data after the final deflate block of a message")
            }
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<produced]))
            switch status {
            case Z_OK, Z_BUF_ERROR:
                // Done when zlib took all input and did not fill the output.
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return }
                if status == Z_BUF_ERROR && produced == 0 { return }
            case Z_STREAM_END:
                // A block with BFINAL set ended the stream (RFC 7692 §7.2.3.5 allows it). What
                // may follow in this message is the rest of the empty stored block the sender
                // appended before removing the 00 00 FF FF tail (the RFC's example has one 0x00
                // byte): it is inflated by the reset stream and must produce nothing, so data
                // hidden after the final block fails with 1007 instead of being ignored.
                inflateReset(stream)
                streamEnded = true
                if stream.pointee.avail_in == 0 { return }
            default:
                throw ProtocolError(.invalidPayloadData, "Invalid compressed data")
            }
        }
    }

    // MARK: Sending

    /// Deflates a whole message with a sync flush and drops the `00 00 ff ff` tail (§7.2.1).
    /// Messages under the configured minimum size are left alone unless `force` is set.
    public func encode(_ payload: [UInt8], opcode: Opcode, force: Bool) -> (payload: [UInt8], reservedBits: ReservedBits)? {
        guard force || payload.count >= configuration.minimumSize else { return nil }
        guard let stream = deflateStream() else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(payload.count / 2 + 64)
        let scratch = scratchBuffer()
        let ok: Bool = payload.withUnsafeBytes { input in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (input.baseAddress ?? UnsafeRawPointer(scratch.baseAddress!)).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(input.count)
            while true {
                stream.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(scratch.count)
                let status = deflate(stream, Z_SYNC_FLUSH)
                let produced = scratch.count - Int(stream.pointee.avail_out)
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<produced]))
                guard status == Z_OK || status == Z_BUF_ERROR else { return false }
                if stream.pointee.avail_out > 0 && stream.pointee.avail_in == 0 { return true }
            }
        }
        let n = output.count
        guard ok, n >= 4, output[n - 4] == 0, output[n - 3] == 0, output[n - 2] == 0xFF, output[n - 1] == 0xFF else {
            dropDeflater()
            return nil
        }
        output.removeLast(4)
        if sendNoContextTakeover {
            if configuration.releasesStreamsBetweenMessages { dropDeflater() } else { deflateReset(stream) }
        }
        return (output, .rsv1)
    }

    private func deflateStream() -> UnsafeMutablePointer<z_stream>? {
        if let deflater { return deflater }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard czlib_deflateInit2(stream, configuration.compressionLevel, -Int32(sendWindowBits), configuration.memoryLevel) == Z_OK else {
            stream.deallocate()
            return nil
        }
        deflater = stream
        return stream
    }

    private func dropDeflater() {
        guard let deflater else { return }
        deflateEnd(deflater)
        deflater.deallocate()
        self.deflater = nil
        releaseScratchIfIdle()
    }
}
