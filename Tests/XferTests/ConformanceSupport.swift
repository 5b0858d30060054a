import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// The conversations of Tests/Vectors/vectors.json as a conformance suite (SPEC.md §12): a
// test plays one side of a conversation, step by step, against the real implementation of
// the other side, and compares what that implementation sends with the vector's steps,
// allowing for what the vector marks `variable` or `optional`.

/// The conversations in Tests/Vectors/vectors.json.
enum ConformanceVectors {
    struct File: Decodable {
        var conversations: [Conversation]
    }

    struct Conversation: Decodable, Sendable {
        var name: String
        var description: String
        /// The sides ("client", "server") a conformant implementation reproduces.
        var conformance: [String]
        var clientSources: [Source]?
        var serverState: ServerState?
        var steps: [Step]

        func steps(of side: String) -> [Step] { steps.filter { $0.direction == side } }

        /// The connections the steps name, in order (1 alone for a conversation over one).
        var connections: [Int] { Set(steps.map(\.connectionNumber)).sorted() }

        /// Whether some step names a connection other than the first (SPEC.md §16).
        var isMultiConnection: Bool { connections != [1] }

        /// The block size of the session, as the vector's SESSION says (SPEC.md §16.2).
        var sessionBlockSize: UInt32? {
            for step in steps {
                if case .session(let grant)? = step.record { return grant.blockSize }
            }
            return nil
        }
    }

    struct Step: Decodable, Sendable {
        var direction: String
        var note: String
        var type: String
        var hex: String
        var version: UInt16?
        var error: String?
        var variable: [String]?
        var optional: Bool?
        var afterSeconds: Double?
        /// The connection that carries the step (SPEC.md §12.1): 1, the first, when absent.
        var connection: Int?
        /// A step of a block (BLOCK, its DATA, BLOCKEND, its BLOCKACK) that may travel on any
        /// connection of the session: the connection named is one choice (SPEC.md §12.1).
        var anyConnection: Bool?

        var bytes: [UInt8] { hexBytes(hex) }
        var connectionNumber: Int { connection ?? 1 }
        var isAnyConnection: Bool { anyConnection ?? false }
        var isOptional: Bool { optional ?? false }
        var variableFields: Set<String> { Set(variable ?? []) }

        /// The step's record, decoded from its bytes (nil for a preamble or invalid bytes).
        var record: Record? {
            guard type == "record" else { return nil }
            var decoder = RecordDecoder(expectingPreamble: false)
            var result: Record?
            try? decoder.feed(bytes) { message in
                if case .record(let record) = message { result = copiedRecord(record) }
            }
            return result
        }
    }

    /// What a sender is asked to send, for the client role.
    struct Source: Decodable, Sendable {
        var type: String
        var name: String
        var mode: UInt32?
        var mtimeSeconds: String?
        var mtimeNanoseconds: Int?
        var content: [Piece]
        /// "confirmed" or "failed": what the sender must report for it.
        var outcome: String

        /// The whole stream.
        var bytes: [UInt8] { Piece.bytes(content) }
    }

    struct Piece: Decodable, Sendable {
        var hex: String?
        var zeros: Int?
        var pauseSeconds: Double?
        /// This many bytes, the byte at offset p of the whole content being p mod 251.
        var pMod251: Int?

        /// The bytes of `pieces`, one after the other (a pause adds none).
        static func bytes(_ pieces: [Piece]) -> [UInt8] {
            var bytes: [UInt8] = []
            for piece in pieces {
                if let hex = piece.hex { bytes += hexBytes(hex) }
                if let zeros = piece.zeros { bytes += [UInt8](repeating: 0, count: zeros) }
                if let count = piece.pMod251 {
                    let start = bytes.count
                    bytes += (start..<start + count).map { UInt8($0 % 251) }
                }
            }
            return bytes
        }
    }

    /// What the receiver must hold before the conversation, for the server role.
    struct ServerState: Decodable, Sendable {
        var idleTimeoutSeconds: Double?
        /// The block size the server grants in its sessions (SPEC.md §16.2).
        var blockSize: UInt32?
        var partials: [Partial]?
        var committed: [Committed]?
    }

    struct Partial: Decodable, Sendable {
        var transferId: String
        var content: [Piece]
        var locked: Bool
        /// A kept partial of a `blocks` offer (SPEC.md §16.10): its block size and the blocks
        /// it holds; without it, `content` is a kept prefix.
        var blocks: PartialBlocks?
    }

    struct PartialBlocks: Decodable, Sendable {
        var blockSize: UInt32
        var held: [UInt32]
    }

    struct Committed: Decodable, Sendable {
        var transferId: String
        var name: String
        var content: [Piece]
    }

    static let all: [Conversation] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors/vectors.json")
        let data = try! Data(contentsOf: url)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(File.self, from: data).conversations
    }()

    static func named(_ name: String) -> Conversation? { all.first { $0.name == name } }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(hex.utf8.count / 2)
    var high: UInt8?
    for digit in hex.utf8 {
        let value = digit <= 0x39 ? digit - 0x30 : (digit | 0x20) - 0x61 + 10
        if let first = high {
            bytes.append(first << 4 | value)
            high = nil
        } else {
            high = value
        }
    }
    return bytes
}

/// A record whose DATA slice no longer shares a decoder's buffer.
func copiedRecord(_ record: Record) -> Record {
    if case .data(let slice) = record { return .data(Array(slice)[...]) }
    return record
}

/// Transfer IDs the vector chose, mapped to those the implementation chose (SPEC.md §12: a
/// variable `transfer_id` is bound by its first OFFER).
typealias IDBindings = [TransferID: TransferID]

/// Session IDs and tokens the vector chose, mapped to those the server drew (SPEC.md §12.1:
/// bound by the first SESSION whose `session_id` and `token` are variable).
typealias SessionBindings = [[UInt8]: [UInt8]]

extension Record {
    /// The record with every transfer ID replaced through `bindings`.
    func substituting(_ bindings: IDBindings) -> Record {
        func map(_ id: TransferID) -> TransferID { bindings[id] ?? id }
        switch self {
        case .offer(var offer):
            offer.transferID = map(offer.transferID)
            return .offer(offer)
        case .answer(var answer):
            answer.transferID = map(answer.transferID)
            return .answer(answer)
        case .progress(var progress):
            progress.transferID = map(progress.transferID)
            return .progress(progress)
        case .ack(var ack):
            ack.transferID = map(ack.transferID)
            return .ack(ack)
        case .error(var error):
            error.transferID = map(error.transferID)
            return .error(error)
        case .have(var have):
            have.transferID = map(have.transferID)
            return .have(have)
        case .block(var block):
            block.transferID = map(block.transferID)
            return .block(block)
        case .blockAck(var ack):
            ack.transferID = map(ack.transferID)
            return .blockAck(ack)
        default: return self
        }
    }

    /// The record with every session ID and token replaced through `bindings` (SPEC.md §12:
    /// bound from the server's SESSION).
    func substituting(sessions bindings: SessionBindings) -> Record {
        func map(_ bytes: [UInt8]) -> [UInt8] { bindings[bytes] ?? bytes }
        switch self {
        case .join(let join): return .join(Join(sessionID: map(join.sessionID), token: map(join.token)))
        case .session(let grant):
            return .session(
                SessionGrant(sessionID: map(grant.sessionID), token: map(grant.token), blockSize: grant.blockSize)
            )
        default: return self
        }
    }

    /// The payload fields and flags by their SPEC.md §12 names, as text, for comparison.
    var namedFields: [(String, String)] {
        switch self {
        case .hello(let hello): return [("parameters", "\(hello.parameters)")]
        case .welcome(let welcome): return [("parameters", "\(welcome.parameters)")]
        case .offer(let offer):
            return [
                ("flags", "\((offer.awaitAnswer ? 1 : 0) | (offer.blocks ? 2 : 0))"),
                ("transfer_id", "\(offer.transferID)"),
                ("size", offer.size.map { "\($0)" } ?? "unknown"), ("offset", "\(offer.offset)"),
                ("mode", String(offer.mode, radix: 8)), ("mtime_seconds", "\(offer.modificationTime.seconds)"),
                ("mtime_nanoseconds", "\(offer.modificationTime.nanoseconds)"), ("name", offer.name),
            ]
        case .answer(let answer):
            return [
                ("transfer_id", "\(answer.transferID)"), ("decision", "\(answer.decision)"),
                ("offset", "\(answer.offset)"), ("code", "\(answer.code.rawValue)"), ("message", answer.message),
            ]
        case .data(let bytes): return [("payload", "\(bytes.count) bytes")]
        case .end(let end): return [("total_length", "\(end.totalLength)"), ("digest", hex64(end.digest))]
        case .cancel(let cancel): return [("code", "\(cancel.code.rawValue)"), ("message", cancel.message)]
        case .progress(let progress):
            return [
                ("transfer_id", "\(progress.transferID)"), ("received", "\(progress.received)"),
                ("durable", "\(progress.durable)"),
            ]
        case .ack(let ack):
            return [
                ("flags", ack.durable ? "1" : "0"), ("transfer_id", "\(ack.transferID)"),
                ("committed_length", "\(ack.committedLength)"), ("digest", hex64(ack.digest)),
            ]
        case .error(let error):
            return [
                ("flags", error.fatal ? "1" : "0"), ("code", "\(error.code.rawValue)"),
                ("transfer_id", "\(error.transferID)"), ("message", error.message),
            ]
        case .goodbye, .keepAlive: return []
        case .auth(let proof): return [("proof", "\(proof.code)")]
        case .unknown(_, let flags, let payload): return [("flags", "\(flags)"), ("payload", "\(payload.count) bytes")]
        case .session(let grant):
            return [
                ("session_id", grant.sessionID.map { hex($0) }.joined()), ("token", "\(grant.token.count) bytes"),
                ("block_size", "\(grant.blockSize)"),
            ]
        case .join(let join):
            return [("session_id", join.sessionID.map { hex($0) }.joined()), ("token", "\(join.token.count) bytes")]
        case .have(let have):
            return [
                ("transfer_id", "\(have.transferID)"), ("block_count", "\(have.blockCount)"),
                ("held", have.held.map { "\($0)" }.joined(separator: ",")),
            ]
        case .block(let block): return [("transfer_id", "\(block.transferID)"), ("index", "\(block.index)")]
        case .blockEnd(let end): return [("digest", hex64(end.digest))]
        case .blockAck(let ack): return [("transfer_id", "\(ack.transferID)"), ("index", "\(ack.index)")]
        }
    }

    /// The transfer ID the record carries, if any.
    var transferID: TransferID? {
        switch self {
        case .offer(let offer): return offer.transferID
        case .answer(let answer): return answer.transferID
        case .progress(let progress): return progress.transferID
        case .ack(let ack): return ack.transferID
        case .error(let error): return error.transferID
        case .have(let have): return have.transferID
        case .block(let block): return block.transferID
        case .blockAck(let ack): return ack.transferID
        default: return nil
        }
    }

    /// The session ID and token a SESSION or JOIN carries.
    var sessionCredentials: (id: [UInt8], token: [UInt8])? {
        switch self {
        case .session(let grant): return (grant.sessionID, grant.token)
        case .join(let join): return (join.sessionID, join.token)
        default: return nil
        }
    }

    /// Records whose coming depends on timing (SPEC.md §12): PROGRESS and ignorable kinds.
    var isTimingDependent: Bool {
        switch self {
        case .progress, .keepAlive, .unknown: return true
        default: return false
        }
    }

    var summary: String {
        switch self {
        case .data(let bytes): return "DATA \(bytes.count) B"
        default:
            let fields = namedFields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            return "\(kind) \(fields)"
        }
    }
}

/// Lower-case hex of `bytes`.
func hexString(_ bytes: [UInt8]) -> String { bytes.map { hex($0) }.joined() }

extension Record {
    /// The parameters of a HELLO or WELCOME.
    var parameters: [Parameter]? {
        switch self {
        case .hello(let hello): return hello.parameters
        case .welcome(let welcome): return welcome.parameters
        default: return nil
        }
    }
}

private func hex(_ byte: UInt8) -> String { byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }

private func hex64(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// One side of a conversation as the implementation must send it, matched against what it
/// actually sends as the bytes come in.
///
/// Both sides are normalised the same way: consecutive DATA records are one run of bytes
/// (record boundaries carry no meaning, SPEC.md §6.4), and PROGRESS and KEEPALIVE, whose
/// coming depends on timing, are taken out of the sequence. A KEEPALIVE or PROGRESS step
/// that is not optional must still have a counterpart at the same place: after the same
/// unit, at the same byte of a DATA run.
struct SideMatcher {
    enum Unit {
        case preamble(UInt16)
        case record(Record)
        case data([UInt8])

        var summary: String {
            switch self {
            case .preamble(let version): return "preamble v\(version)"
            case .record(let record): return record.summary
            case .data(let bytes): return "DATA run of \(bytes.count) B"
            }
        }
    }

    struct Expected {
        var unit: Unit
        var variable: Set<String>
        var optional: Bool
        /// Indices (in the whole conversation) of the steps it stands for.
        var steps: [Int]
    }

    /// Where a KEEPALIVE or PROGRESS stands: after unit `unit` (-1: before any), at byte
    /// `offset` of it when it is a DATA run still going on.
    struct Anchor: Hashable {
        var unit: Int
        var offset: Int?
    }

    let side: String
    private(set) var expected: [Expected] = []
    /// Required timing-dependent steps: where each must appear, and its kind.
    private var requiredAnchors: [(anchor: Anchor, kind: RecordKind, step: Int)] = []
    /// Stream contents by name, to check a variable DATA run (client role).
    var sources: [String: [UInt8]] = [:]
    /// Bindings made on another connection of the session (its first), which hold here too.
    var seedBindings: IDBindings = [:]
    var seedSessions: SessionBindings = [:]

    /// What the implementation sent so far.
    private(set) var actual: [Unit] = []
    private var actualAnchors: [(anchor: Anchor, kind: RecordKind)] = []
    /// Whether the last actual DATA run may still grow.
    private var runOpen = false
    /// Bytes or messages that could not be decoded.
    private(set) var decodeFailure: String?

    /// - Parameters:
    ///   - connection: Only the steps of this connection (SPEC.md §12.1); `nil`: every step.
    ///   - excludingAnyConnection: Leaves out the steps of blocks that may travel on any
    ///     connection (a caller checks those itself).
    init(
        conversation: ConformanceVectors.Conversation,
        side: String,
        connection: Int? = nil,
        excludingAnyConnection: Bool = false
    ) {
        self.side = connection.map { "\(side) (connection \($0))" } ?? side
        for (index, step) in conversation.steps.enumerated() where step.direction == side {
            if let connection, step.connectionNumber != connection { continue }
            if excludingAnyConnection && step.isAnyConnection { continue }
            switch step.type {
            case "preamble":
                expected.append(
                    Expected(
                        unit: .preamble(step.version ?? 1),
                        variable: [],
                        optional: step.isOptional,
                        steps: [index]
                    )
                )
            case "record":
                guard let record = step.record else {
                    Issue.record("\(conversation.name) step \(index): its hex does not decode")
                    continue
                }
                if record.isTimingDependent {
                    if !step.isOptional {
                        requiredAnchors.append((Self.anchor(after: expected), record.kind, index))
                    }
                    continue
                }
                if case .data(let bytes) = record {
                    if case .data(let earlier)? = expected.last?.unit {
                        expected[expected.count - 1].unit = .data(earlier + bytes)
                        expected[expected.count - 1].variable.formUnion(step.variableFields)
                        expected[expected.count - 1].optional = expected[expected.count - 1].optional && step.isOptional
                        expected[expected.count - 1].steps.append(index)
                    } else {
                        expected.append(
                            Expected(
                                unit: .data(Array(bytes)),
                                variable: step.variableFields,
                                optional: step.isOptional,
                                steps: [index]
                            )
                        )
                    }
                    continue
                }
                expected.append(
                    Expected(
                        unit: .record(record),
                        variable: step.variableFields,
                        optional: step.isOptional,
                        steps: [index]
                    )
                )
            default:
                break  // invalid bytes: never what a conformant side sends
            }
        }
    }

    private static func anchor(after units: [Expected]) -> Anchor {
        guard let last = units.last else { return Anchor(unit: -1, offset: nil) }
        if case .data(let bytes) = last.unit { return Anchor(unit: units.count - 1, offset: bytes.count) }
        return Anchor(unit: units.count - 1, offset: nil)
    }

    // MARK: Feeding

    mutating func feed(_ message: RecordDecoder.Message) {
        switch message {
        case .preamble(let preamble):
            runOpen = false
            actual.append(.preamble(preamble.version))
        case .record(let record):
            if record.isTimingDependent {
                var anchor = Anchor(unit: actual.count - 1, offset: nil)
                if runOpen, case .data(let bytes)? = actual.last { anchor.offset = bytes.count }
                actualAnchors.append((anchor, record.kind))
                return
            }
            if case .data(let bytes) = record {
                if runOpen, case .data(let earlier)? = actual.last {
                    actual[actual.count - 1] = .data(earlier + bytes)
                } else {
                    actual.append(.data(Array(bytes)))
                }
                runOpen = true
                return
            }
            runOpen = false
            actual.append(.record(copiedRecord(record)))
        }
    }

    mutating func failedToDecode(_ description: String) {
        if decodeFailure == nil { decodeFailure = description }
    }

    /// The input ended: a DATA run in progress is complete.
    mutating func close() { runOpen = false }

    // MARK: Matching

    struct Match {
        /// Expected units consumed (matched or skipped as optional).
        var consumed = 0
        /// For each actual unit matched, the expected unit it matched.
        var mapping: [Int: Int] = [:]
        var bindings: IDBindings = [:]
        var sessions: SessionBindings = [:]
        var failure: String?
    }

    /// Matches what arrived so far (a DATA run still open is left for later).
    func match() -> Match {
        var result = Match()
        result.bindings = seedBindings
        result.sessions = seedSessions
        let complete = runOpen ? actual.count - 1 : actual.count
        var stream: (name: String, position: Int)?
        var index = 0
        for (position, unit) in actual.prefix(complete).enumerated() {
            while true {
                guard index < expected.count else {
                    result.failure = "\(side) sent \(unit.summary) after its last step"
                    result.consumed = index
                    return result
                }
                let want = expected[index]
                if let problem = compare(want, unit, &result.bindings, &result.sessions, stream: stream) {
                    if want.optional {
                        index += 1
                        continue
                    }
                    result.failure =
                        "\(side) step \(want.steps.map(String.init).joined(separator: ",")): \(problem)"
                    result.consumed = index
                    return result
                }
                result.mapping[position] = index
                index += 1
                break
            }
            switch unit {
            case .record(.offer(let offer)): stream = (offer.name, Int(offer.offset))
            case .data(let bytes): stream = stream.map { ($0.name, $0.position + bytes.count) }
            default: break
            }
        }
        result.consumed = index
        return result
    }

    /// Whether every required step up to step `index` of the conversation has arrived.
    func hasReceived(stepsBefore index: Int) -> Bool {
        let match = match()
        guard match.failure == nil else { return true }  // no use waiting: it will fail
        guard let last = expected.lastIndex(where: { !$0.optional && $0.steps.contains { $0 < index } }) else {
            return true
        }
        return match.consumed > last
    }

    /// Everything that is wrong with the side as it arrived, once the input has ended.
    func problems() -> [String] {
        var problems: [String] = []
        if let decodeFailure { problems.append("\(side)'s bytes did not decode: \(decodeFailure)") }
        let match = match()
        if let failure = match.failure {
            problems.append(failure)
        } else {
            for want in expected[match.consumed...] where !want.optional {
                problems.append(
                    "\(side) never sent step \(want.steps.map(String.init).joined(separator: ",")): \(want.unit.summary)"
                )
            }
        }
        // Required KEEPALIVE/PROGRESS: at the same place, at least as many.
        let expectedPlaces = Dictionary(grouping: requiredAnchors) {
            Anchor(unit: $0.anchor.unit, offset: $0.anchor.offset)
        }
        let reverse = Dictionary(uniqueKeysWithValues: match.mapping.map { ($0.value, $0.key) })
        for (anchor, wanted) in expectedPlaces {
            let actualUnit = anchor.unit < 0 ? -1 : reverse[anchor.unit]
            let found = actualAnchors.filter {
                $0.anchor.unit == actualUnit && $0.anchor.offset == anchor.offset && $0.kind == wanted[0].kind
            }
            if actualUnit == nil || found.count < wanted.count {
                problems.append(
                    "\(side) step \(wanted.map { String($0.step) }.joined(separator: ",")): expected \(wanted.count) "
                        + "\(wanted[0].kind) there (after unit \(anchor.unit), byte \(anchor.offset.map(String.init) ?? "-")), "
                        + "got \(found.count); \(side) sent them at \(actualAnchors.map { "\($0.anchor.unit):\($0.anchor.offset ?? -1)" })"
                )
            }
        }
        return problems
    }

    var actualSummary: [String] { actual.map(\.summary) }

    private func compare(
        _ want: Expected,
        _ got: Unit,
        _ bindings: inout IDBindings,
        _ sessions: inout SessionBindings,
        stream: (name: String, position: Int)?
    ) -> String? {
        switch (want.unit, got) {
        case (.preamble(let a), .preamble(let b)):
            return a == b ? nil : "preamble version \(b), want \(a)"
        case (.data(let a), .data(let b)):
            if want.variable.contains("payload") {
                // Any bytes that continue the stream (SPEC.md §12).
                guard let stream, let source = sources[stream.name] else { return nil }
                let end = stream.position + b.count
                guard end <= source.count, source[stream.position..<end].elementsEqual(b) else {
                    return "DATA run of \(b.count) B at \(stream.position) is not the stream's next bytes"
                }
                return nil
            }
            if a == b { return nil }
            let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
            return "DATA run of \(b.count) B, want \(a.count) B (first difference at byte \(first))"
        case (.record(let a), .record(let b)):
            guard a.kind == b.kind else { return "\(b.summary), want \(a.summary)" }
            var differences: [String] = []
            if let wanted = a.sessionCredentials, let got = b.sessionCredentials {
                // A session ID and token: bound by a SESSION that marks them variable (the
                // server's random choice), then carried as bound (SPEC.md §12.1).
                for (name, vectorBytes, actualBytes) in [
                    ("session_id", wanted.id, got.id), ("token", wanted.token, got.token),
                ] {
                    if let bound = sessions[vectorBytes] {
                        if bound != actualBytes { differences.append("\(name) is not the one SESSION gave") }
                    } else if want.variable.contains(name) {
                        sessions[vectorBytes] = actualBytes
                    } else if vectorBytes != actualBytes {
                        differences.append("\(name) \(hexString(actualBytes)), want \(hexString(vectorBytes))")
                    }
                }
            }
            if let wanted = a.parameters, let got = b.parameters, wanted.streams != got.streams {
                // `parameters` may be variable (the agent is the implementation's), but
                // parameter 32 `streams` is always compared (SPEC.md §12.1, §16.1).
                differences.append(
                    "parameter streams is \(got.streams.map(String.init) ?? "absent"), "
                        + "want \(wanted.streams.map(String.init) ?? "absent")"
                )
            }
            for ((name, wanted), (_, value)) in zip(a.namedFields, b.namedFields) {
                if name == "session_id" || name == "token" { continue }
                if name == "transfer_id", let vectorID = a.transferID, let actualID = b.transferID {
                    if let bound = bindings[vectorID] {
                        if bound != actualID { differences.append("transfer_id \(actualID), bound to \(bound)") }
                    } else if want.variable.contains(name) {
                        if bindings.values.contains(actualID) {
                            differences.append("transfer_id \(actualID) is already another stream's")
                        } else {
                            bindings[vectorID] = actualID
                        }
                    } else if vectorID != actualID {
                        differences.append("transfer_id \(actualID), want \(vectorID)")
                    }
                    continue
                }
                if want.variable.contains(name) { continue }
                if wanted != value { differences.append("field \(name) is \(value), want \(wanted)") }
            }
            return differences.isEmpty ? nil : "\(a.kind): " + differences.joined(separator: "; ")
        default:
            return "\(got.summary), want \(want.unit.summary)"
        }
    }
}

/// A connected socket, read with poll (never on another thread) into a ``SideMatcher``.
final class WirePeer {
    let fd: CInt
    private var decoder = RecordDecoder()
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private(set) var ended = false

    init(fd: CInt) { self.fd = fd }

    deinit { Glibc.close(fd) }

    /// Writes all of `bytes`; false if the peer is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, CInt(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR { continue }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    func shutdownWrite() { shutdown(fd, CInt(SHUT_WR)) }

    /// Reads into `matcher` for up to `seconds`, until `done` holds (true) or the input ends
    /// (then `done` decides).
    @discardableResult
    func pump(into matcher: inout SideMatcher, seconds: Double, until done: (SideMatcher) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !done(matcher) {
            if ended { return done(matcher) }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            readOnce(into: &matcher, waiting: min(left, 0.05))
        }
        return true
    }

    /// Waits up to `seconds` for bytes and reads what has come into `matcher` (nothing once
    /// the input has ended).
    func readOnce(into matcher: inout SideMatcher, waiting seconds: Double) {
        guard !ended else { return }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, CInt(max(0, seconds * 1000)))
        if ready <= 0 { return }
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, dontWaitFlag) }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard count > 0 else {
            ended = true
            matcher.close()
            do {
                try decoder.finish()
            } catch {
                matcher.failedToDecode("\(error)")
            }
            return
        }
        do {
            try decoder.feed(buffer[..<count]) { message in
                if case .record(let record) = message {
                    matcher.feed(.record(copiedRecord(record)))
                } else {
                    matcher.feed(message)
                }
            }
        } catch {
            matcher.failedToDecode("\(error)")
            ended = true
            matcher.close()
        }
    }

    /// Reads until the end of the input (or `seconds`); true if it ended.
    @discardableResult
    func readToEnd(into matcher: inout SideMatcher, seconds: Double) -> Bool {
        pump(into: &matcher, seconds: seconds) { _ in false }
        return ended
    }
}

extension ConformanceVectors.Conversation {
    /// Whether the implementation's last step is a fatal ERROR (the conversation then ends
    /// with the end of stream, §7.5).
    func endsWithFatalError(from side: String) -> Bool {
        guard let last = steps.last(where: { $0.type == "record" && $0.direction == side })?.record else {
            return false
        }
        if case .error(let error) = last { return error.fatal }
        return false
    }

    /// Whether either side's last step is a fatal ERROR.
    var endsWithFatalError: Bool { endsWithFatalError(from: "client") || endsWithFatalError(from: "server") }
}

/// Writes `pieces` to a file, zeros as a hole (sparse), hex as bytes.
func writeContent(_ pieces: [ConformanceVectors.Piece], to path: String, mode: mode_t = 0o600) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
    precondition(fd >= 0, "cannot create \(path): \(errno)")
    defer { Glibc.close(fd) }
    var offset = 0
    for piece in pieces {
        if let zeros = piece.zeros { offset += zeros }
        if piece.hex != nil || piece.pMod251 != nil {
            let bytes = piece.hex.map(hexBytes) ?? (offset..<offset + piece.pMod251!).map { UInt8($0 % 251) }
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            precondition(written == bytes.count)
            offset += bytes.count
        }
    }
    precondition(ftruncate(fd, off_t(offset)) == 0)
}
