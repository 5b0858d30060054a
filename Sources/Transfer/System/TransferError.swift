import Framing

/// Why a transfer, or a whole connection, did not end in a confirmed delivery. Each case
/// is one class of failure a script can act on; the xfer CLI maps each to an exit code.
public enum TransferError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The receiver could not be reached (resolution, refused connection, connect timeout).
    case cannotConnect(String)
    /// The connection ended before the receiver confirmed delivery.
    case connectionLost(String)
    /// The connection ended after the receiver had confirmed `confirmed` of the `of`
    /// streams (those are delivered; the rest are not), or after it confirmed them all but
    /// before its GOODBYE: a connection's failure whose words must not deny those
    /// confirmations. `reason`: how it ended.
    case connectionLostAfterConfirming(confirmed: Int, of: Int, reason: String)
    /// The peer was silent for longer than the idle timeout.
    case timeout(String)
    /// The receiver refused or failed the transfer, with its code and message.
    case refused(code: ErrorCode, message: String)
    /// This side refused the peer's authentication: the peer did not prove the key, or
    /// proved another one (the receiver's refusal of ours comes as `refused(.unauthenticated)`).
    case authenticationFailed(String)
    /// Bytes or lengths did not match: a checksum, digest or length check failed.
    case integrity(String)
    /// A local file could not be read or written.
    case localIO(String)
    /// The peer broke the protocol (or is not an xfer peer).
    case protocolViolation(String)

    /// Classifies an ERROR or refusing ANSWER from the receiver.
    public static func fromReceiver(code: ErrorCode, message: String) -> TransferError {
        switch code {
        case .digestMismatch, .lengthMismatch, .checksumMismatch: return .integrity("receiver: \(message) (\(code))")
        case .timeout: return .timeout("receiver: \(message)")
        case .protocolViolation, .unknownRecordKind, .recordTooLarge, .unsupportedVersion:
            return .protocolViolation("receiver: \(message) (\(code))")
        default: return .refused(code: code, message: message)
        }
    }

    /// The error code to put in an ERROR record about this failure.
    public var wireCode: ErrorCode {
        switch self {
        case .timeout: return .timeout
        case .integrity: return .digestMismatch
        case .localIO: return .ioError
        case .protocolViolation: return .protocolViolation
        case .refused(let code, _): return code
        case .authenticationFailed: return .unauthenticated
        case .cannotConnect, .connectionLost, .connectionLostAfterConfirming: return .internalError
        }
    }

    /// One sentence: the class of failure and its cause.
    public var description: String {
        switch self {
        case .cannotConnect(let text): return "cannot connect: \(text)"
        case .connectionLost(let text): return "connection lost before confirmation: \(text)"
        case .connectionLostAfterConfirming(let confirmed, let total, let reason):
            let rest = confirmed < total ? "before the rest were confirmed" : "before the receiver's GOODBYE"
            return "\(confirmed) of \(total) file(s) confirmed; the connection was lost \(rest): \(reason)"
        case .timeout(let text): return "timed out: \(text)"
        case .refused(let code, let message): return "receiver refused (\(code), code \(code.rawValue)): \(message)"
        case .authenticationFailed(let text): return "authentication failed, refused by this sender: \(text)"
        case .integrity(let text): return "integrity check failed: \(text)"
        case .localIO(let text): return "local I/O error: \(text)"
        case .protocolViolation(let text): return "protocol error: \(text)"
        }
    }
}

extension FramingError {
    /// The ERROR code that reports this framing error to the peer.
    var wireCode: ErrorCode {
        switch self {
        case .checksumMismatch: return .checksumMismatch
        case .payloadTooLarge: return .recordTooLarge
        case .unknownKind: return .unknownRecordKind
        default: return .protocolViolation
        }
    }
}
