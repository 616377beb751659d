/// A WebSocket close status code (RFC 6455 §7.4).
///
/// The registered codes have names; any other value can be made with `init(rawValue:)`.
/// Whether a code may appear in a Close frame on the wire is given by ``isValidOnWire``.
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The numeric code as carried in the first two bytes of a Close frame's payload.
    public var rawValue: UInt16

    /// Makes a code from its numeric value.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Makes a code from its numeric value.
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose for which the connection was established has been fulfilled.
    public static let normalClosure = CloseCode(1000)
    /// 1001: an endpoint is going away (a server going down, a browser leaving the page).
    public static let goingAway = CloseCode(1001)
    /// 1002: the endpoint is terminating the connection due to a protocol error.
    public static let protocolError = CloseCode(1002)
    /// 1003: the endpoint received a type of data it cannot accept.
    public static let unsupportedData = CloseCode(1003)
    /// 1005: reserved; reported locally when a Close frame carried no status code. Never sent.
    public static let noStatusReceived = CloseCode(1005)
    /// 1006: reserved; reported locally when the connection closed without a Close frame. Never sent.
    public static let abnormalClosure = CloseCode(1006)
    /// 1007: a message's data was not consistent with its type (for example invalid UTF-8 in text).
    public static let invalidPayloadData = CloseCode(1007)
    /// 1008: a message violated the endpoint's policy.
    public static let policyViolation = CloseCode(1008)
    /// 1009: a message was too big to process.
    public static let messageTooBig = CloseCode(1009)
    /// 1010: the client expected the server to negotiate an extension it did not.
    public static let mandatoryExtension = CloseCode(1010)
    /// 1011: the server met an unexpected condition that prevented it from fulfilling the request.
    public static let internalError = CloseCode(1011)
    /// 1012: the service is restarting (IANA registry).
    public static let serviceRestart = CloseCode(1012)
    /// 1013: try again later (IANA registry).
    public static let tryAgainLater = CloseCode(1013)
    /// 1014: the server acted as a gateway and got an invalid response (IANA registry).
    public static let badGateway = CloseCode(1014)
    /// 1015: reserved; reported locally when the TLS handshake failed. Never sent.
    public static let tlsHandshake = CloseCode(1015)

    /// Whether the code may be sent or received in a Close frame.
    ///
    /// 1000-1003, 1007-1014 and 3000-4999 may; 1004, 1005, 1006, 1015, codes below 1000,
    /// 1016-2999 and 5000 and above may not, and receiving one is a protocol error.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    /// The registered name of the code, or nil for an unregistered one.
    public var name: String? {
        switch rawValue {
        case 1000: return "Normal Closure"
        case 1001: return "Going Away"
        case 1002: return "Protocol Error"
        case 1003: return "Unsupported Data"
        case 1005: return "No Status Received"
        case 1006: return "Abnormal Closure"
        case 1007: return "Invalid Payload Data"
        case 1008: return "Policy Violation"
        case 1009: return "Message Too Big"
        case 1010: return "Mandatory Extension"
        case 1011: return "Internal Error"
        case 1012: return "Service Restart"
        case 1013: return "Try Again Later"
        case 1014: return "Bad Gateway"
        case 1015: return "TLS Handshake"
        default: return nil
        }
    }

    /// The code and, where registered, its name: `1000 (Normal Closure)`.
    public var description: String {
        if let name { return "\(rawValue) (\(name))" }
        return String(rawValue)
    }
}
