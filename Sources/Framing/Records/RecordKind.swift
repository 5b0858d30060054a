/// The one-byte kind of a record (SPEC.md §5).
///
/// Kinds 0x00–0x7F are *critical*: a peer that does not know one must fail the connection.
/// Kinds 0x80–0xFF are *ignorable*: a peer that does not know one skips it after checking
/// its CRC, which lets later versions add advisory records without a version bump.
public struct RecordKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The kind byte as sent on the wire.
    public var rawValue: UInt8

    /// Wraps any kind byte, known or not.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Client → server, first record: capabilities.
    public static let hello = RecordKind(rawValue: 0x01)
    /// Server → client, first record: capabilities.
    public static let welcome = RecordKind(rawValue: 0x02)
    /// Sender → receiver: announces one file or stream.
    public static let offer = RecordKind(rawValue: 0x03)
    /// Receiver → sender: accept, resume, already committed, or refuse an offer.
    public static let answer = RecordKind(rawValue: 0x04)
    /// Sender → receiver: the next bytes of the current stream.
    public static let data = RecordKind(rawValue: 0x05)
    /// Sender → receiver: end of the current stream, with total length and digest.
    public static let end = RecordKind(rawValue: 0x06)
    /// Sender → receiver: the sender abandons the current stream.
    public static let cancel = RecordKind(rawValue: 0x07)
    /// Receiver → sender: bytes received and written back so far; also the keep-alive.
    public static let progress = RecordKind(rawValue: 0x08)
    /// Receiver → sender: the final acknowledgement of one stream.
    public static let ack = RecordKind(rawValue: 0x09)
    /// Either direction: an error with a numeric code and a message.
    public static let error = RecordKind(rawValue: 0x0A)
    /// Either direction: nothing more will be sent.
    public static let goodbye = RecordKind(rawValue: 0x0B)
    /// Either direction, only on a connection with a key: proof of the key over the
    /// handshake so far (SPEC.md §13). Protocol 1.1.
    public static let auth = RecordKind(rawValue: 0x0C)
    /// Either direction, after an authenticated handshake: another record, encrypted and
    /// authenticated (SPEC.md §13.4). Protocol 1.2. (0x0D was 1.1's SEAL, now retired.)
    public static let sealed = RecordKind(rawValue: 0x0E)
    /// Server → client: the session further connections may join (SPEC.md §16). Protocol 1.3.
    public static let session = RecordKind(rawValue: 0x0F)
    /// Client → server: this connection joins a session. Protocol 1.3.
    public static let join = RecordKind(rawValue: 0x10)
    /// Server → client: the blocks of an offer already held. Protocol 1.3.
    public static let have = RecordKind(rawValue: 0x11)
    /// Client → server: one block of a `blocks` offer follows. Protocol 1.3.
    public static let block = RecordKind(rawValue: 0x12)
    /// Client → server: the block is whole, with its digest. Protocol 1.3.
    public static let blockEnd = RecordKind(rawValue: 0x13)
    /// Server → client: a block was verified and written. Protocol 1.3.
    public static let blockAck = RecordKind(rawValue: 0x14)
    /// Either direction: "still here" while there is nothing else to send. Ignorable
    /// (0x80), so a peer that does not know it skips it.
    public static let keepAlive = RecordKind(rawValue: 0x80)

    /// All kinds defined by protocol version 1.
    public static let allVersion1: [RecordKind] = [
        .hello, .welcome, .offer, .answer, .data, .end, .cancel, .progress, .ack, .error, .goodbye, .keepAlive,
    ]

    /// The kinds of one transfer over several connections (SPEC.md §16). Protocol 1.3.
    public static let sessions: [RecordKind] = [.session, .join, .have, .block, .blockEnd, .blockAck]

    /// All kinds this implementation knows: version 1's, AUTH and SEALED (SPEC.md §13),
    /// and the session kinds (SPEC.md §16).
    public static let all: [RecordKind] = allVersion1 + [.auth, .sealed] + sessions

    /// Whether a peer that does not know this kind may skip it (high bit set).
    public var isIgnorable: Bool { rawValue & 0x80 != 0 }

    /// The flag bits version 1 defines for this kind; any other bit set is an error.
    public var definedFlags: UInt8 {
        switch self {
        case .offer: return Offer.Flags.awaitAnswer | Offer.Flags.blocks
        case .ack: return Ack.Flags.durable | Ack.Flags.bound
        case .error: return ErrorRecord.Flags.fatal
        default: return 0
        }
    }

    /// The kind's name ("OFFER"), or its hex value when unknown.
    public var description: String {
        switch self {
        case .hello: return "HELLO"
        case .welcome: return "WELCOME"
        case .offer: return "OFFER"
        case .answer: return "ANSWER"
        case .data: return "DATA"
        case .end: return "END"
        case .cancel: return "CANCEL"
        case .progress: return "PROGRESS"
        case .ack: return "ACK"
        case .error: return "ERROR"
        case .goodbye: return "GOODBYE"
        case .keepAlive: return "KEEPALIVE"
        case .auth: return "AUTH"
        case .sealed: return "SEALED"
        case .session: return "SESSION"
        case .join: return "JOIN"
        case .have: return "HAVE"
        case .block: return "BLOCK"
        case .blockEnd: return "BLOCKEND"
        case .blockAck: return "BLOCKACK"
        default: return "kind 0x" + hex(rawValue, width: 2)
        }
    }
}

/// Lower-case hexadecimal of an integer, zero-padded to `width` digits.
func hex<T: BinaryInteger>(_ value: T, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
