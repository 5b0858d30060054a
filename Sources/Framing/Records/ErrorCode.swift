/// A numeric error code carried by ERROR, CANCEL and refusing ANSWER records
/// (SPEC.md §8). An open set: a code this version does not know still decodes, so a newer
/// peer's errors reach the user with their message.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as sent on the wire.
    public var rawValue: UInt16

    /// Wraps any wire code, known or not.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// No error (used where a field must hold a code but there is none).
    public static let none = ErrorCode(rawValue: 0)
    /// The peer broke a rule of SPEC.md (wrong record at this point, bad field).
    public static let protocolViolation = ErrorCode(rawValue: 1)
    /// No common protocol version.
    public static let unsupportedVersion = ErrorCode(rawValue: 2)
    /// A record's CRC-32C did not match.
    public static let checksumMismatch = ErrorCode(rawValue: 3)
    /// A record's length was over the limit.
    public static let recordTooLarge = ErrorCode(rawValue: 4)
    /// A critical record kind this peer does not know.
    public static let unknownRecordKind = ErrorCode(rawValue: 5)
    /// A name that is empty, too long, absolute, has `..`, NUL, or leaves the target.
    public static let badName = ErrorCode(rawValue: 6)
    /// The declared size does not fit in the receiver's free space.
    public static let noSpace = ErrorCode(rawValue: 7)
    /// The receiver could not write, sync or rename.
    public static let ioError = ErrorCode(rawValue: 8)
    /// END's digest differs from the digest of the bytes received.
    public static let digestMismatch = ErrorCode(rawValue: 9)
    /// END's total, or the bytes received, differ from the declared size.
    public static let lengthMismatch = ErrorCode(rawValue: 10)
    /// The receiver refuses by policy (e.g. existing file, size limit).
    public static let refused = ErrorCode(rawValue: 11)
    /// The peer was idle for too long.
    public static let timeout = ErrorCode(rawValue: 12)
    /// The receiver serves too many connections; try later.
    public static let busy = ErrorCode(rawValue: 13)
    /// The sender abandoned the stream.
    public static let cancelled = ErrorCode(rawValue: 14)
    /// The sender could not read its source.
    public static let sourceUnreadable = ErrorCode(rawValue: 15)
    /// Anything else that went wrong inside the peer.
    public static let internalError = ErrorCode(rawValue: 16)
    /// The peer did not prove knowledge of the pre-shared key (SPEC.md §13). Protocol 1.1.
    public static let unauthenticated = ErrorCode(rawValue: 17)
    /// The receiver committed the stream but the program it hands each stream to
    /// (`xfer receive --exec`) did not accept it (SPEC.md §7.3): no ACK. The message names
    /// the program's status.
    public static let consumerFailed = ErrorCode(rawValue: 32)

    /// The code's name, or "error N" for a code this version does not know.
    public var description: String {
        switch self {
        case .none: return "none"
        case .protocolViolation: return "protocol violation"
        case .unsupportedVersion: return "unsupported version"
        case .checksumMismatch: return "checksum mismatch"
        case .recordTooLarge: return "record too large"
        case .unknownRecordKind: return "unknown record kind"
        case .badName: return "bad name"
        case .noSpace: return "no space"
        case .ioError: return "I/O error"
        case .digestMismatch: return "digest mismatch"
        case .lengthMismatch: return "length mismatch"
        case .refused: return "refused"
        case .timeout: return "timeout"
        case .busy: return "busy"
        case .cancelled: return "cancelled"
        case .sourceUnreadable: return "source unreadable"
        case .internalError: return "internal error"
        case .unauthenticated: return "unauthenticated"
        case .consumerFailed: return "consumer failed"
        default: return "error \(rawValue)"
        }
    }
}
