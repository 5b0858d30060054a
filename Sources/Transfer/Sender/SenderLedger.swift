import Framing

/// What the sender knows about each stream, and the rules the receiver's records must
/// follow (SPEC.md §7.1, §7.2): a value type, so that every rule can be tested on its own.
///
/// Nothing from the wire is trusted. An ANSWER, ACK or ERROR that does not fit what this
/// sender said — an ID never offered, an ACK before the END, a second ACK, an ACK after an
/// ERROR, an accept at another offset — is a protocol error of the connection, and no
/// stream it touches is reported delivered. Every number from the wire is compared or
/// clamped, never used in arithmetic that could trap.
struct SenderLedger {
    /// One stream, in command-line order.
    struct Stream {
        let name: String
        var id: TransferID?
        var size: UInt64?
        /// The current offer's offset and `awaitAnswer` flag.
        var offset: UInt64 = 0
        var awaitAnswer = false
        var answer: Answer?
        /// The length and digest the sender put (or is putting) in END, or computed for an
        /// already-committed offer; set before END is written, so an ACK can never race it.
        var expected: (length: UInt64, digest: UInt64)?
        var ack: Ack?
        /// The current OFFER as sent, which a sealed connection's ACK must bind.
        var offer: Offer?
        var outcome: Outcome?
        /// Bytes beyond `offset` that the receiver says it has (PROGRESS), at most the size.
        var received: UInt64 = 0
        /// Bytes of this stream written to the socket in this run.
        var sent: UInt64 = 0
        /// Whether the sender closed the offer with CANCEL (nothing may be ACKed then).
        var cancelled = false
        /// Whether the receiver failed it (ERROR or refusing ANSWER): no ACK may follow.
        var failedByReceiver = false
    }

    /// How a stream ended.
    enum Outcome: Equatable {
        case confirmed(Delivery)
        case failed(TransferError)
    }

    /// What applying a record changed, for the caller to report.
    enum Effect: Equatable {
        case none
        /// A stream got its outcome.
        case decided(index: Int)
        /// PROGRESS moved a stream's received count.
        case progressed(index: Int)
        /// The receiver said GOODBYE.
        case goodbye
        /// A fatal ERROR: the connection is over.
        case fatal(TransferError)
    }

    private(set) var streams: [Stream]
    private var indexByID: [TransferID: Int] = [:]
    /// Whether every ACK must carry the binding of its offer (a sealed connection, SPEC.md
    /// §13.5).
    let requiresBinding: Bool

    /// Whether every stream has its verdict (so a close without GOODBYE loses nothing).
    var allDecided: Bool { streams.allSatisfy { $0.outcome != nil } }

    init(names: [String], requiresBinding: Bool = false) {
        streams = names.map { Stream(name: $0) }
        self.requiresBinding = requiresBinding
    }

    /// The stream for `id`, if it was offered.
    func index(of id: TransferID) -> Int? { indexByID[id] }

    // MARK: What the sender did

    /// An OFFER is about to be written.
    mutating func offered(_ index: Int, id: TransferID, size: UInt64?, offset: UInt64, awaitAnswer: Bool) {
        if let old = streams[index].id, old != id { indexByID[old] = nil }
        indexByID[id] = index
        streams[index].id = id
        streams[index].size = size
        streams[index].offset = offset
        streams[index].awaitAnswer = awaitAnswer
        streams[index].answer = nil
        streams[index].expected = nil
        streams[index].ack = nil
        streams[index].received = 0
        streams[index].cancelled = false
    }

    /// This OFFER is about to be written.
    mutating func offered(_ index: Int, _ offer: Offer) {
        offered(index, id: offer.transferID, size: offer.size, offset: offer.offset, awaitAnswer: offer.awaitAnswer)
        streams[index].offer = offer
    }

    /// DATA bytes of a stream were written.
    mutating func sent(_ index: Int, _ count: UInt64) {
        streams[index].sent &+= count
    }

    /// The sender knows the whole stream's length and digest: END is about to be written,
    /// or the file was hashed for an already-committed offer.
    mutating func expect(_ index: Int, length: UInt64, digest: UInt64) -> Effect {
        streams[index].expected = (length, digest)
        return resolve(index)
    }

    /// The sender closed the offer with CANCEL.
    mutating func cancelled(_ index: Int) {
        streams[index].cancelled = true
    }

    /// The stream failed on this side (its source, or a connection end).
    mutating func fail(_ index: Int, _ error: TransferError) -> Effect {
        guard streams[index].outcome == nil else { return .none }
        streams[index].outcome = .failed(error)
        return .decided(index: index)
    }

    // MARK: What the receiver said

    /// Applies one record from the receiver (after its preamble and WELCOME).
    /// - Throws: ``TransferError/protocolViolation(_:)`` when the record breaks the rules.
    mutating func apply(_ record: Record) throws(TransferError) -> Effect {
        switch record {
        case .answer(let answer):
            return try apply(answer)
        case .ack(let ack):
            let index = try known(ack.transferID, "ACK")
            let stream = streams[index]
            guard let answer = stream.answer, answer.decision == .accept || answer.decision == .alreadyCommitted else {
                throw .protocolViolation("ACK for '\(stream.name)', which the receiver did not accept")
            }
            if stream.ack != nil { throw .protocolViolation("a second ACK for '\(stream.name)'") }
            if requiresBinding && ack.binding == nil {
                throw .protocolViolation("ACK for '\(stream.name)' without the binding of its offer")
            }
            if stream.failedByReceiver {
                throw .protocolViolation("ACK for '\(stream.name)' after the receiver's ERROR for it")
            }
            if stream.cancelled && answer.decision == .accept {
                throw .protocolViolation("ACK for '\(stream.name)', which the sender cancelled")
            }
            if answer.decision == .accept && stream.expected == nil {
                throw .protocolViolation("ACK for '\(stream.name)' before the sender's END")
            }
            streams[index].ack = ack
            return resolve(index)
        case .error(let error):
            if error.fatal || error.transferID == .none {
                return .fatal(.fromReceiver(code: error.code, message: error.message))
            }
            let index = try known(error.transferID, "ERROR")
            if streams[index].ack != nil {
                throw .protocolViolation("ERROR for '\(streams[index].name)' after its ACK: \(error.message)")
            }
            streams[index].failedByReceiver = true
            return fail(index, .fromReceiver(code: error.code, message: error.message))
        case .progress(let report):
            // A count past a known size, or for an ID never offered, is a lie; one past what
            // this side has counted as sent may be a race with that count: clamp it.
            let index = try known(report.transferID, "PROGRESS")
            let stream = streams[index]
            if let size = stream.size, report.received > size {
                throw .protocolViolation(
                    "PROGRESS for '\(stream.name)' claims \(report.received) bytes received, past its size \(size)"
                )
            }
            let beyond = report.received >= stream.offset ? report.received - stream.offset : 0
            let received = min(beyond, stream.sent)
            guard received > stream.received else { return .none }
            streams[index].received = received
            return .progressed(index: index)
        case .goodbye:
            return .goodbye
        case .unknown, .keepAlive:
            return .none
        default:
            throw .protocolViolation("the receiver sent \(record.kind) where the protocol does not allow it")
        }
    }

    private mutating func apply(_ answer: Answer) throws(TransferError) -> Effect {
        let index = try known(answer.transferID, "ANSWER")
        let stream = streams[index]
        if stream.answer != nil { throw .protocolViolation("a second ANSWER for '\(stream.name)'") }
        switch answer.decision {
        case .accept:
            guard answer.offset == stream.offset else {
                throw .protocolViolation(
                    "the receiver accepted '\(stream.name)' at offset \(answer.offset); it was offered at \(stream.offset)"
                )
            }
        case .resume:
            guard stream.offer?.blocks != true else {
                throw .protocolViolation(
                    "the receiver asked to resume '\(stream.name)', a blocks offer (HAVE says what it holds)"
                )
            }
            guard let size = stream.size, answer.offset <= size else {
                throw .protocolViolation(
                    "the receiver asked to resume '\(stream.name)' from \(answer.offset), "
                        + (stream.size.map { "past its size \($0)" } ?? "which has no known size")
                )
            }
        case .alreadyCommitted:
            guard stream.size != nil else {
                throw .protocolViolation("'\(stream.name)' (a stream of unknown length) cannot be already committed")
            }
        case .refuse:
            streams[index].answer = answer
            streams[index].failedByReceiver = true
            return fail(index, .fromReceiver(code: answer.code, message: answer.message))
        }
        streams[index].answer = answer
        return .none
    }

    private func known(_ id: TransferID, _ kind: String) throws(TransferError) -> Int {
        guard let index = indexByID[id] else { throw .protocolViolation("\(kind) for a transfer never offered") }
        return index
    }

    /// Decides a stream once both the receiver's ACK and the sender's own totals are known.
    private mutating func resolve(_ index: Int) -> Effect {
        let stream = streams[index]
        guard stream.outcome == nil, let ack = stream.ack, let expected = stream.expected else { return .none }
        if requiresBinding, let offer = stream.offer,
            ack.binding?.matches(AckBinding(offer: offer, committedLength: expected.length, digest: expected.digest))
                != true
        {
            // The receiver confirms another offer than ours: another name, size, mode or time.
            streams[index].outcome = .failed(
                .integrity("the receiver's ACK for '\(stream.name)' confirms another offer (name, size, mode or time)")
            )
        } else if ack.committedLength == expected.length && ack.digest == expected.digest {
            let already = stream.answer?.decision == .alreadyCommitted
            streams[index].outcome = .confirmed(
                Delivery(
                    bytes: ack.committedLength,
                    durable: ack.durable,
                    alreadyCommitted: already,
                    resumedFrom: !already && stream.offset > 0 ? stream.offset : nil
                )
            )
        } else {
            streams[index].outcome = .failed(
                .integrity(
                    "receiver committed \(ack.committedLength) bytes with digest \(hex16(ack.digest)); "
                        + "sent \(expected.length) bytes with digest \(hex16(expected.digest))"
                )
            )
        }
        return .decided(index: index)
    }
}
