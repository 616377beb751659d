/// One element of a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): an extension token and
/// its parameters, as offered by a client or accepted by a server.
///
/// `permessage-deflate; client_max_window_bits; server_max_window_bits=10` has the name
/// `permessage-deflate` and two parameters, the first without a value.
public struct ExtensionOffer: Sendable, Hashable, CustomStringConvertible {
    /// A parameter: a token, with a value or without one.
    public struct Parameter: Sendable, Hashable {
        /// The parameter's name.
        public var name: String
        /// The value, unquoted, or nil when the parameter had none.
        public var value: String?

        /// Makes a parameter.
        public init(_ name: String, _ value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// The extension token, such as `permessage-deflate`.
    public var name: String
    /// The parameters in the order they appeared.
    public var parameters: [Parameter]

    /// Makes an extension element.
    public init(name: String, parameters: [Parameter] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// The header text of this element: `name; p1; p2=v`.
    public var description: String {
        var text = name
        for parameter in parameters {
            text += "; " + parameter.name
            if let value = parameter.value { text += "=" + value }
        }
        return text
    }

    /// Parses the elements of every `Sec-WebSocket-Extensions` value, in order.
    ///
    /// Grammar (RFC 6455 §9.1): `1#( token *( ";" token [ "=" ( token / quoted-string ) ] ) )`,
    /// where a quoted value must be a token once unquoted. Returns nil on a syntax error.
    public static func parse(_ values: [String]) -> [ExtensionOffer]? {
        var offers: [ExtensionOffer] = []
        for value in values {
            var scanner = HeaderScanner(Array(value.utf8))
            while true {
                scanner.skipWhitespace()
                if scanner.atEnd { break }
                if scanner.peek == UInt8(ascii: ",") { scanner.advance(); continue }  // empty list element
                guard let name = scanner.token() else { return nil }
                var offer = ExtensionOffer(name: name)
                scanner.skipWhitespace()
                while scanner.peek == UInt8(ascii: ";") {
                    scanner.advance()
                    scanner.skipWhitespace()
                    guard let parameterName = scanner.token() else { return nil }
                    scanner.skipWhitespace()
                    var parameterValue: String?
                    if scanner.peek == UInt8(ascii: "=") {
                        scanner.advance()
                        scanner.skipWhitespace()
                        if scanner.peek == UInt8(ascii: "\"") {
                            guard let quoted = scanner.quotedString(), !quoted.isEmpty,
                                  quoted.utf8.allSatisfy(HTTPHeadParser.isTokenCharacter)
                            else { return nil }
                            parameterValue = quoted
                        } else {
                            guard let token = scanner.token() else { return nil }
                            parameterValue = token
                        }
                        scanner.skipWhitespace()
                    }
                    offer.parameters.append(Parameter(parameterName, parameterValue))
                }
                offers.append(offer)
                if scanner.atEnd { break }
                guard scanner.peek == UInt8(ascii: ",") else { return nil }
                scanner.advance()
            }
        }
        return offers
    }
}

/// A cursor over a header value's bytes for the small grammars of the handshake.
struct HeaderScanner {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }
    mutating func advance() { index += 1 }

    mutating func skipWhitespace() {
        while let b = peek, b == 0x20 || b == 0x09 { index += 1 }
    }

    mutating func token() -> String? {
        let start = index
        while let b = peek, HTTPHeadParser.isTokenCharacter(b) { index += 1 }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    mutating func quotedString() -> String? {
        guard peek == UInt8(ascii: "\"") else { return nil }
        index += 1
        var out: [UInt8] = []
        while let b = peek {
            index += 1
            switch b {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = peek else { return nil }
                index += 1
                out.append(escaped)
            default:
                out.append(b)
            }
        }
        return nil
    }
}
