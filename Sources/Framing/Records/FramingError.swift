/// What was wrong with bytes given to ``RecordDecoder`` or ``Preamble``. Every case names
/// the offending values, so a log line or a test can say exactly what arrived.
public enum FramingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The connection did not start with "XFER"; carries the bytes that came instead.
    case badMagic([UInt8])
    /// A record declared a payload longer than the limit; rejected before buffering it.
    case payloadTooLarge(kind: RecordKind, length: UInt32, limit: Int)
    /// The CRC-32C over header and payload did not match the header's.
    case checksumMismatch(kind: RecordKind, expected: UInt32, actual: UInt32)
    /// A critical kind (0x00–0x7F) this version does not know.
    case unknownKind(RecordKind)
    /// Flag bits that this kind does not define were set.
    case unknownFlags(kind: RecordKind, flags: UInt8)
    /// The payload ended inside the named field.
    case truncatedField(kind: RecordKind, field: String)
    /// The payload had bytes after its last field.
    case trailingBytes(kind: RecordKind, count: Int)
    /// A field held a value the protocol does not allow.
    case invalidField(kind: RecordKind, field: String, reason: String)
    /// The input ended inside a preamble or record (`buffered` bytes of it had arrived).
    case truncatedInput(buffered: Int)
    /// After an authenticated handshake, a record did not open, was not sealed, or its outer
    /// header or checksum was damaged (SPEC.md §13.4): the connection is over, and nothing is
    /// sent about it.
    case sealBroken(String)

    /// The code of the fatal ERROR that reports this error to the peer (SPEC.md §12), or
    /// `nil` when no ERROR can be sent: bytes that do not start with "XFER" are not from an
    /// xfer peer, and input that ended leaves nobody to tell.
    public var errorCode: ErrorCode? {
        switch self {
        case .badMagic, .truncatedInput, .sealBroken: return nil
        case .payloadTooLarge: return .recordTooLarge
        case .checksumMismatch: return .checksumMismatch
        case .unknownKind: return .unknownRecordKind
        case .unknownFlags, .truncatedField, .trailingBytes, .invalidField: return .protocolViolation
        }
    }

    /// One sentence naming what was wrong and the values involved.
    public var description: String {
        switch self {
        case .badMagic(let bytes):
            return
                "bad magic: expected 58 46 45 52 (\"XFER\"), got \(bytes.map { hex($0, width: 2) }.joined(separator: " "))"
        case .payloadTooLarge(let kind, let length, let limit):
            return "\(kind) record declares \(length) payload bytes, over the limit of \(limit)"
        case .checksumMismatch(let kind, let expected, let actual):
            return
                "\(kind) record checksum mismatch: header says 0x\(hex(expected, width: 8)), bytes give 0x\(hex(actual, width: 8))"
        case .unknownKind(let kind):
            return "unknown critical record kind 0x\(hex(kind.rawValue, width: 2))"
        case .unknownFlags(let kind, let flags):
            return "\(kind) record has undefined flag bits 0x\(hex(flags, width: 2))"
        case .truncatedField(let kind, let field):
            return "\(kind) record ends inside field '\(field)'"
        case .trailingBytes(let kind, let count):
            return "\(kind) record has \(count) bytes after its last field"
        case .invalidField(let kind, let field, let reason):
            return "\(kind) record field '\(field)' is invalid: \(reason)"
        case .sealBroken(let reason):
            return reason
        case .truncatedInput(let buffered):
            return "input ended inside a record (\(buffered) bytes of it received)"
        }
    }
}
