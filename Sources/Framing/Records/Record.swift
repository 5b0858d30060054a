/// One decoded record (SPEC.md §5–§7).
public enum Record: Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case offer(Offer)
    case answer(Answer)
    /// The next bytes of the current stream. When it comes from ``RecordDecoder`` the slice
    /// shares the decoder's buffer: drop it before the next call to the decoder, or the
    /// decoder's next write copies its whole buffer.
    case data(ArraySlice<UInt8>)
    case end(End)
    case cancel(Cancel)
    case progress(Progress)
    case ack(Ack)
    case error(ErrorRecord)
    case goodbye
    case keepAlive
    /// A proof of the pre-shared key (SPEC.md §13).
    case auth(AuthProof)
    /// The session granted on the first connection (SPEC.md §16). Protocol 1.3.
    case session(SessionGrant)
    /// A further connection joins a session (SPEC.md §16). Protocol 1.3.
    case join(Join)
    /// The blocks of a `blocks` offer the server already holds. Protocol 1.3.
    case have(Have)
    /// The DATA that follows is one block of a `blocks` offer. Protocol 1.3.
    case block(BlockStart)
    /// The block is whole; its digest. Protocol 1.3.
    case blockEnd(BlockEnd)
    /// A block verified and written. Protocol 1.3.
    case blockAck(BlockAck)
    /// An ignorable kind (0x80–0xFF) this version does not know; its CRC was checked.
    case unknown(kind: RecordKind, flags: UInt8, payload: [UInt8])

    /// The record's kind byte.
    public var kind: RecordKind {
        switch self {
        case .hello: return .hello
        case .welcome: return .welcome
        case .offer: return .offer
        case .answer: return .answer
        case .data: return .data
        case .end: return .end
        case .cancel: return .cancel
        case .progress: return .progress
        case .ack: return .ack
        case .error: return .error
        case .goodbye: return .goodbye
        case .keepAlive: return .keepAlive
        case .auth: return .auth
        case .session: return .session
        case .join: return .join
        case .have: return .have
        case .block: return .block
        case .blockEnd: return .blockEnd
        case .blockAck: return .blockAck
        case .unknown(let kind, _, _): return kind
        }
    }
}

/// One capability or setting in a HELLO or WELCOME: a 16-bit id and an opaque value.
/// Unknown ids are ignored, which is how later versions add capabilities (and
/// authentication) without breaking older peers.
public struct Parameter: Hashable, Sendable {
    /// The parameter's id; receivers ignore ids they do not know.
    public var id: UInt16
    /// The value, at most 4096 bytes.
    public var value: [UInt8]

    /// A parameter with the given id and value.
    public init(id: UInt16, value: [UInt8]) {
        self.id = id
        self.value = value
    }

    /// Id 1: the implementation's name and version, UTF-8, informational only.
    public static let agentID: UInt16 = 1

    /// An agent parameter (id 1) with the given text.
    public static func agent(_ text: String) -> Parameter { Parameter(id: agentID, value: Array(text.utf8)) }

    /// Id 2: a 32-byte random nonce for authentication (SPEC.md §13). Protocol 1.1.
    public static let nonceID: UInt16 = 2

    /// Id 32: `streams`, a u16 (SPEC.md §16.1). In HELLO: how many connections the client
    /// would use for this session, 2 to 16. In WELCOME: how many the server grants; a
    /// SESSION follows. Protocol 1.3.
    public static let streamsID: UInt16 = 32

    /// A streams parameter (id 32).
    public static func streams(_ count: UInt16) -> Parameter {
        var value: [UInt8] = []
        value.appendBigEndian(count)
        return Parameter(id: streamsID, value: value)
    }

    /// A nonce parameter (id 2).
    public static func nonce(_ bytes: [UInt8]) -> Parameter { Parameter(id: nonceID, value: bytes) }

    /// Id 3: AEAD suites (SPEC.md §13.2): in HELLO the client's, best first; in WELCOME the
    /// one the server chose. Protocol 1.2.
    public static let suitesID: UInt16 = 3

    /// A suites parameter (id 3) listing `suites` in order.
    public static func suites(_ suites: [CipherSuite]) -> Parameter {
        var value: [UInt8] = []
        for suite in suites { value.appendBigEndian(suite.rawValue) }
        return Parameter(id: suitesID, value: value)
    }
}

extension Array where Element == Parameter {
    /// The text of the agent parameter, if present and valid UTF-8.
    public var agent: String? {
        guard let value = first(where: { $0.id == Parameter.agentID })?.value else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    /// The suite ids of the first suites parameter, in order, if present and well formed: 1
    /// to 16 ids, no repeats. Ids this version does not know are kept (the server skips them).
    public var suites: [UInt16]? {
        guard let value = first(where: { $0.id == Parameter.suitesID })?.value,
            value.count >= 2, value.count <= 32, value.count % 2 == 0
        else { return nil }
        let ids = stride(from: 0, to: value.count, by: 2).map { UInt16(value[$0]) << 8 | UInt16(value[$0 + 1]) }
        return Set(ids).count == ids.count ? ids : nil
    }

    /// The streams parameter's value, if present and exactly 2 bytes.
    public var streams: UInt16? {
        guard let value = first(where: { $0.id == Parameter.streamsID })?.value, value.count == 2 else { return nil }
        return UInt16(value[0]) << 8 | UInt16(value[1])
    }

    /// The nonce parameter's value, if present and exactly 32 bytes.
    public var nonce: [UInt8]? {
        guard let value = first(where: { $0.id == Parameter.nonceID })?.value, value.count == AuthProof.byteCount
        else { return nil }
        return value
    }
}

/// HELLO (0x01), client → server: the client's parameters.
public struct Hello: Hashable, Sendable {
    /// The client's parameters, at most 64.
    public var parameters: [Parameter]
    /// A HELLO with these parameters.
    public init(parameters: [Parameter] = []) { self.parameters = parameters }
}

/// WELCOME (0x02), server → client: the server's parameters.
public struct Welcome: Hashable, Sendable {
    /// The server's parameters, at most 64.
    public var parameters: [Parameter]
    /// A WELCOME with these parameters.
    public init(parameters: [Parameter] = []) { self.parameters = parameters }
}

/// A POSIX time: seconds since 1970-01-01 UTC and nanoseconds (0–999,999,999).
public struct Timestamp: Hashable, Sendable {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    public var seconds: Int64
    /// Nanoseconds within the second, below 1,000,000,000.
    public var nanoseconds: UInt32
    /// A time of `seconds` and `nanoseconds`.
    public init(seconds: Int64, nanoseconds: UInt32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

/// OFFER (0x03), sender → receiver: announces one file or stream. Unless `awaitAnswer` is
/// set, DATA records for it follow at once, without waiting for the ANSWER.
public struct Offer: Hashable, Sendable {
    /// Flag bits of the OFFER header.
    public enum Flags {
        /// The sender sends no DATA for this offer before it reads the ANSWER.
        public static let awaitAnswer: UInt8 = 0x01
        /// The offer's bytes come as blocks on any connection of the session (SPEC.md
        /// §16). Protocol 1.3; only with `awaitAnswer`, a known size of at least 1 and
        /// offset 0.
        public static let blocks: UInt8 = 0x02
    }

    /// Wire value of `size` for a stream of unknown length.
    public static let unknownSize = UInt64.max

    /// The transfer this offer starts (SPEC.md §11).
    public var transferID: TransferID
    /// Total bytes of the stream, or `nil` when unknown (stdin).
    public var size: UInt64?
    /// The stream offset of the first DATA byte that follows (0, or a resume point).
    public var offset: UInt64
    /// POSIX permission bits (only 0o777 are applied by xfer's receiver).
    public var mode: UInt32
    /// The source's modification time, applied to the committed file.
    public var modificationTime: Timestamp
    /// Relative path with `/` separators, UTF-8 (SPEC.md §9 says what a receiver accepts).
    /// The encoder refuses one over ``ProtocolLimits/maxNameBytes``; the decoder lets it
    /// through (up to the u16 length), so that a receiver refuses it with `badName`.
    public var name: String
    /// Whether the sender waits for the ANSWER before sending DATA.
    public var awaitAnswer: Bool
    /// Whether the bytes come as blocks on the session's connections (SPEC.md §16).
    public var blocks = false

    /// An offer; DATA follows it unless `awaitAnswer`.
    public init(
        transferID: TransferID,
        size: UInt64?,
        offset: UInt64 = 0,
        mode: UInt32 = 0o644,
        modificationTime: Timestamp = Timestamp(seconds: 0),
        name: String,
        awaitAnswer: Bool = false
    ) {
        self.transferID = transferID
        self.size = size
        self.offset = offset
        self.mode = mode
        self.modificationTime = modificationTime
        self.name = name
        self.awaitAnswer = awaitAnswer
    }
}

/// ANSWER (0x04), receiver → sender: what the receiver does with an offer.
public struct Answer: Hashable, Sendable {
    /// What the receiver does with the offer.
    public enum Decision: UInt8, Sendable {
        /// DATA from the offer's offset is welcome.
        case accept = 0
        /// Send again from `offset` (the receiver holds that much, verified).
        case resume = 1
        /// Already committed under this transfer ID; an ACK follows; send nothing.
        case alreadyCommitted = 2
        /// Not accepted; `code` and `message` say why.
        case refuse = 3
    }

    /// The offer answered.
    public var transferID: TransferID
    /// Accept, resume, already committed, or refuse.
    public var decision: Decision
    /// accept: the offer's offset; resume: where to start; alreadyCommitted: the length.
    public var offset: UInt64
    /// Why, for a refusal; ``ErrorCode/none`` otherwise.
    public var code: ErrorCode
    /// Text for people; may be empty.
    public var message: String

    /// An answer; `code` and `message` matter for a refusal.
    public init(
        transferID: TransferID,
        decision: Decision,
        offset: UInt64 = 0,
        code: ErrorCode = .none,
        message: String = ""
    ) {
        self.transferID = transferID
        self.decision = decision
        self.offset = offset
        self.code = code
        self.message = message
    }
}

/// END (0x06), sender → receiver: the current stream is complete.
public struct End: Hashable, Sendable {
    /// Length of the whole stream from offset 0.
    public var totalLength: UInt64
    /// ``StreamDigest`` of the whole stream from offset 0.
    public var digest: UInt64
    /// The end of a stream of `totalLength` bytes with this digest.
    public init(totalLength: UInt64, digest: UInt64) {
        self.totalLength = totalLength
        self.digest = digest
    }
}

/// CANCEL (0x07), sender → receiver: the sender abandons the current stream.
public struct Cancel: Hashable, Sendable {
    /// Why the sender gave up on the stream.
    public var code: ErrorCode
    /// Text for people.
    public var message: String
    /// A cancellation with a code and a message.
    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = message
    }
}

/// PROGRESS (0x08), receiver → sender: how far the receiver is; also a keep-alive while
/// it syncs a large file, so the sender is never left waiting in silence.
public struct Progress: Hashable, Sendable {
    /// The stream being received or committed.
    public var transferID: TransferID
    /// Bytes of the stream received and checked (from offset 0).
    public var received: UInt64
    /// Bytes of the stream whose write-back to storage has completed (from offset 0).
    /// Informational: only an ACK with the durable flag promises durability.
    public var durable: UInt64
    /// A progress report; `durable` must not exceed `received`.
    public init(transferID: TransferID, received: UInt64, durable: UInt64) {
        self.transferID = transferID
        self.received = received
        self.durable = durable
    }
}

/// ACK (0x09), receiver → sender: the final, application-level acknowledgement of one
/// stream: it is complete, verified and (with `durable`) on stable storage under its name.
public struct Ack: Hashable, Sendable {
    /// Flag bits of the ACK header.
    public enum Flags {
        /// The file and its directory entry were synced to stable storage.
        public static let durable: UInt8 = 0x01
        /// A 32-byte ``AckBinding`` follows the digest (SPEC.md §13.5; only on a sealed
        /// connection, where every ACK has it).
        public static let bound: UInt8 = 0x02
    }

    /// The stream acknowledged.
    public var transferID: TransferID
    /// Bytes committed (the whole stream).
    public var committedLength: UInt64
    /// The digest the receiver computed over the bytes it committed.
    public var digest: UInt64
    /// Whether file and directory were synced before this ACK.
    public var durable: Bool
    /// What the ACK confirms, bound to the offer it answers (SPEC.md §13.5); present on every
    /// ACK of a sealed connection, absent otherwise.
    public var binding: AckBinding?

    /// An acknowledgement of `committedLength` bytes with this digest.
    public init(
        transferID: TransferID,
        committedLength: UInt64,
        digest: UInt64,
        durable: Bool,
        binding: AckBinding? = nil
    ) {
        self.transferID = transferID
        self.committedLength = committedLength
        self.digest = digest
        self.durable = durable
        self.binding = binding
    }
}

/// ERROR (0x0A), either direction.
public struct ErrorRecord: Hashable, Sendable {
    /// Flag bits of the ERROR header.
    public enum Flags {
        /// The connection ends after this record; otherwise only `transferID` failed.
        public static let fatal: UInt8 = 0x01
    }

    /// What went wrong.
    public var code: ErrorCode
    /// The transfer that failed, or ``TransferID/none`` for the whole connection.
    public var transferID: TransferID
    /// Whether the connection ends after this record.
    public var fatal: Bool
    /// Text for people.
    public var message: String

    /// An error; an all-zero `transferID` must be `fatal` (the encoder and the decoder both
    /// reject a non-fatal one: SPEC.md §6.9).
    public init(code: ErrorCode, transferID: TransferID = .none, fatal: Bool, message: String) {
        self.code = code
        self.transferID = transferID
        self.fatal = fatal
        self.message = message
    }
}
