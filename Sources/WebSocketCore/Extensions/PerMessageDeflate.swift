import CZlib

/// permessage-deflate (RFC 7692): its configuration and the negotiation (server side, and the
/// client's offer and check of the answer); ``DeflateCodec`` does the compression.
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
        /// Start the server's compressor afresh for every message. The codec then borrows a
        /// compressor from a pool the process shares for each message instead of keeping one
        /// per connection (about 256 KiB while in use, with 15-bit windows), at the price of
        /// larger output on repetitive traffic. The server may ask for this whatever the client
        /// offered.
        public var serverNoContextTakeover: Bool
        /// Tell the client to start its compressor afresh for every message (RFC 7692 lets the
        /// server ask, and the client must comply), so the server's decompressor is shared too.
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
        /// Also accept the legacy per-frame extension `deflate-frame` / `x-webkit-deflate-frame`
        /// (no longer sent by browsers). Off by default.
        public var acceptsDeflateFrame: Bool

        /// The defaults: context takeover both ways, 15-bit windows, level 6, memLevel 8,
        /// messages under 32 bytes sent as they are.
        public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                    serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15,
                    compressionLevel: Int32 = 6, memoryLevel: Int32 = 8, minimumSize: Int = 32,
                    acceptsDeflateFrame: Bool = false) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverMaxWindowBits = min(max(serverMaxWindowBits, 9), 15)
            self.clientMaxWindowBits = min(max(clientMaxWindowBits, 8), 15)
            self.compressionLevel = min(max(compressionLevel, 0), 9)
            self.memoryLevel = min(max(memoryLevel, 1), 9)
            self.minimumSize = max(0, minimumSize)
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
