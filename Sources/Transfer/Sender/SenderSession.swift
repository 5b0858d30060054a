import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// What the sender's two threads share: the ``SenderLedger`` (every stream and the rules
/// the receiver's records must follow), the connection's fate, and the idle clock.
///
/// `@unchecked Sendable` because the writer blocks on a condition (an answer, the reader's
/// end) that `Synchronization.Mutex` cannot wait on: every access holds `condition`'s lock.
final class SenderSession: @unchecked Sendable {
    private let condition = Condition()
    private let options: SenderOptions
    private let onEvent: @Sendable (SenderEvent) -> Void
    private var ledger: SenderLedger
    private var failure: TransferError?
    private var writeError: SystemError?
    private var readerDone = false
    private var goodbyeReceived = false
    /// The receiver sent a fatal ERROR: it is going away; we only read until it closes.
    private var receiverFailed = false
    /// What the sender tells the receiver in its own fatal ERROR, when it found a fault.
    private var complaint: (ErrorCode, String)?
    /// How many threads are waiting on the receiver; the reader's idle clock runs only then.
    private var waiters = 0
    private var lastHeard = monotonicSeconds()
    /// With a key, until the receiver has proved it: when the handshake as a whole times out,
    /// however its records (KEEPALIVEs, which anyone on the path could add) trickle in.
    private var handshakeDeadline: Double?
    private var progress: SendProgress
    private var lastProgressEvent = 0.0
    /// Pipelined first offers whose `started` waits for the receiver's answer, in offer
    /// order (answers come in that order, SPEC.md §7.2): one the receiver asks to resume
    /// gets its one `started`, with `resumed_from`, when it is offered again.
    private var unannounced: [Int] = []
    private var unannouncedHead = 0
    /// With a key: the handshake's transcript, our nonce and suites, and once the receiver
    /// proved the key, our proof and the sealer for the writer (SPEC.md §13.3).
    private var transcript = AuthenticationTranscript()
    private var clientNonce: [UInt8] = []
    private var clientProof: (AuthProof, RecordSealer)?

    init(sources: [SendSource], options: SenderOptions, onEvent: @escaping @Sendable (SenderEvent) -> Void) {
        self.options = options
        self.onEvent = onEvent
        ledger = SenderLedger(names: sources.map(\.name), requiresBinding: options.key != nil)
        var total: UInt64? = 0
        for source in sources {
            switch source {
            case .standardInput, .command: total = nil
            case .file(let path, _):
                var info = stat()
                if stat(path, &info) == 0, let sum = total { total = sum &+ UInt64(info.st_size) }
            }
        }
        progress = SendProgress(total: total)
    }

    private func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    // MARK: Called by the writing thread

    /// The writer sent its preamble and this HELLO record (with `nonce`): the transcript
    /// starts, with the exact bytes sent.
    func startAuthentication(hello: [UInt8], nonce: [UInt8]) {
        locked {
            transcript.append(Preamble().bytes)
            transcript.append(hello)
            clientNonce = nonce
        }
    }

    /// Blocks until the receiver has proved the key; returns our proof to send and the
    /// sealer for everything after it, or `nil` when it did not (the connection's failure
    /// says why).
    func waitForClientProof() -> (AuthProof, RecordSealer)? {
        locked {
            waiters += 1
            defer { waiters -= 1 }
            while !readerDone && failure == nil && clientProof == nil { condition.wait() }
            return failure == nil ? clientProof : nil
        }
    }

    var connectionError: TransferError? { locked { failure } }

    /// Whether the connection's failure is the receiver's fatal ERROR (then the sender
    /// stops sending and only reads; otherwise it says why and shuts its side down).
    var receiverEnded: Bool { locked { receiverFailed } }

    /// The code and message of the fatal ERROR the sender owes the receiver, if it found a
    /// fault in what the receiver sent.
    var ownComplaint: (ErrorCode, String)? { locked { complaint } }

    func offered(index: Int, _ offer: Offer) {
        let size = offer.size
        let offset = offer.offset
        locked {
            ledger.offered(index, offer)
            if offset > 0 { progress.kept &+= offset }
            progress.current = ledger.streams[index].name
            progress.phase = .sending
            if offset == 0 && !offer.awaitAnswer {
                unannounced.append(index)
            } else {
                onEvent(.started(name: ledger.streams[index].name, size: size, resumedFrom: offset > 0 ? offset : nil))
            }
        }
    }

    /// Counts DATA bytes of stream `index` written to the socket; `force` reports progress
    /// even if one was just sent.
    func sent(index: Int, _ count: UInt64, force: Bool = false) {
        locked {
            ledger.sent(index, count)
            progress.sent &+= count
            reportProgress(force: force)
        }
    }

    /// Says what the writer is doing to stream `index` (for the progress display).
    func phase(_ phase: SendProgress.Phase, index: Int) {
        locked {
            progress.current = ledger.streams[index].name
            progress.phase = phase
            reportProgress(force: true)
        }
    }

    func answer(for index: Int) -> Answer? {
        locked { ledger.streams[index].answer }
    }

    /// Whether stream `index` has an outcome already (the receiver failed it, or it was
    /// confirmed early): the writer stops sending it.
    func isDecided(_ index: Int) -> Bool {
        locked { ledger.streams[index].outcome != nil }
    }

    /// Blocks until the answer to stream `index`'s offer arrives or the connection ends.
    func waitForAnswer(_ index: Int) -> Answer? {
        locked {
            waiters += 1
            defer { waiters -= 1 }
            while !readerDone && failure == nil && ledger.streams[index].answer == nil { condition.wait() }
            return ledger.streams[index].answer
        }
    }

    /// Blocks until every offer sent has its answer, then returns the streams the
    /// receiver asked to resume, with the offset to resume from.
    func waitForResumeRequests() -> [(index: Int, offset: UInt64)] {
        locked {
            waiters += 1
            defer { waiters -= 1 }
            func pending() -> Bool {
                ledger.streams.contains { $0.id != nil && $0.outcome == nil && $0.answer == nil && !$0.cancelled }
            }
            while !readerDone && failure == nil && pending() { condition.wait() }
            guard !readerDone && failure == nil else { return [] }
            return ledger.streams.indices.compactMap { index in
                let stream = ledger.streams[index]
                guard stream.outcome == nil, let answer = stream.answer, answer.decision == .resume else { return nil }
                return (index, answer.offset)
            }
        }
    }

    /// The sender knows stream `index`'s whole length and digest (before writing its END,
    /// or after hashing an already-committed file).
    func expect(_ index: Int, length: UInt64, digest: UInt64) {
        locked {
            if ledger.streams[index].answer?.decision == .alreadyCommitted { progress.kept &+= length }
            report(ledger.expect(index, length: length, digest: digest))
        }
    }

    /// The writer closed stream `index` with CANCEL.
    func cancelled(_ index: Int) {
        locked { ledger.cancelled(index) }
    }

    func localFailure(index: Int, _ error: TransferError) {
        locked {
            let effect = ledger.fail(index, error)
            announceAnswered()
            report(effect)
        }
    }

    func writeFailed(_ error: SystemError) {
        locked { writeError = error }
    }

    /// A failure the writer found (e.g. the receiver went silent while a write blocked).
    func connectionFailed(_ error: TransferError) {
        locked {
            if failure == nil { failure = error }
            condition.broadcast()
        }
    }

    /// Whether the receiver said anything within the idle timeout: while it does (it may
    /// be syncing and not reading), a blocked write is waiting for a live peer.
    var receiverIsAlive: Bool {
        locked { monotonicSeconds() - lastHeard <= options.idleTimeout }
    }

    /// Everything is written: from now on the sender only waits for the receiver.
    func writerIsWaiting() {
        locked {
            waiters += 1
            lastHeard = monotonicSeconds()
            if let index = ledger.streams.lastIndex(where: { $0.id != nil && $0.outcome == nil }) {
                progress.current = ledger.streams[index].name
                progress.phase = .syncing
                reportProgress(force: true)
            }
        }
    }

    func waitForReader() {
        locked { while !readerDone { condition.wait() } }
    }

    func report() -> SendReport {
        locked {
            var report = SendReport()
            report.sentBytes = progress.sent
            let lost: TransferError =
                failure ?? writeError.map { .connectionLost("sending failed: \($0.reason)") }
                ?? .connectionLost("the receiver did not acknowledge it before the connection ended")
            for stream in ledger.streams {
                switch stream.outcome {
                case .confirmed(let delivery): report.confirmed.append((stream.name, delivery))
                case .failed(let error): report.failures.append((stream.name, error))
                case nil: report.failures.append((stream.name, lost))
                }
            }
            let undecided = ledger.streams.contains { $0.outcome == nil }
            if failure != nil || writeError != nil || (!goodbyeReceived && undecided) {
                report.connectionError = afterConfirmations(lost, confirmed: report.confirmed.count)
            } else if !goodbyeReceived && options.key != nil {
                // Sealed, the end is authenticated (SPEC.md §13.4): a cut before the
                // receiver's GOODBYE is a cut, whatever was confirmed before it.
                report.connectionError = afterConfirmations(
                    .connectionLost("the connection ended before the receiver's sealed GOODBYE (cut on the way?)"),
                    confirmed: report.confirmed.count
                )
            } else if !goodbyeReceived {
                // Every stream has its verdict: the ACKs are the promise, GOODBYE only manners.
                report.warnings.append(
                    "the receiver closed the connection without GOODBYE (every stream had its answer)"
                )
            }
            return report
        }
    }

    /// A lost connection in words that agree with the `confirmed` events already reported:
    /// "N of M file(s) confirmed; the connection was lost before …", not "lost before
    /// confirmation" (other failures say nothing about confirmations, and stay as they are).
    private func afterConfirmations(_ error: TransferError, confirmed: Int) -> TransferError {
        guard confirmed > 0, case .connectionLost(let reason) = error else { return error }
        return .connectionLostAfterConfirming(confirmed: confirmed, of: ledger.streams.count, reason: reason)
    }

    // MARK: Called by the reading thread

    /// Reads the receiver's records until its GOODBYE, or after a failure until the end of
    /// the stream (SPEC.md §7.5: read before closing, so our close sends no RST).
    func readReplies(from socket: TCPSocket) {
        var reader = RecordReader(socket: socket)
        if options.key != nil { locked { handshakeDeadline = monotonicSeconds() + options.idleTimeout } }
        do throws(ReadFailure) {
            guard case .preamble(let preamble) = try next(&reader) else { throw ReadFailure.framing(.badMagic([])) }
            let preambleBytes = reader.decoder.lastMessageBytes
            locked { transcript.append(preambleBytes) }
            if preamble.version != Preamble.currentVersion {
                // The receiver speaks another version; its fatal ERROR follows (SPEC.md §3).
                if case .record(.error(let error)) = try nextMeaningful(&reader) {
                    locked { receiverFailed = true }
                    throw ReadFailure.idle(.fromReceiver(code: error.code, message: error.message))
                }
                throw ReadFailure.idle(
                    .protocolViolation("receiver speaks protocol version \(preamble.version), not 1")
                )
            }
            switch try nextMeaningful(&reader) {
            case .record(.welcome(let welcome)):
                if let key = options.key {
                    try authenticate(welcome, bytes: reader.decoder.lastMessageBytes, key: key, &reader)
                }
            case .record(.error(let error)):
                // A fatal ERROR in place of WELCOME (busy, another version): only read now.
                locked { receiverFailed = true }
                throw ReadFailure.idle(.fromReceiver(code: error.code, message: error.message))
            default: throw ReadFailure.idle(.protocolViolation("receiver did not start with WELCOME"))
            }
            // With a key the decoder now opens every record: what arrives here was sealed
            // by the key holder, in order (SPEC.md §13.4).
            while true {
                guard case .record(let record) = try next(&reader) else {
                    throw ReadFailure.idle(.protocolViolation("second preamble"))
                }
                if try handle(record) { break }
            }
        } catch {
            let ended: Bool = locked {
                let ended: Bool
                switch error {
                case .endOfStream:
                    ended = true
                    // After every verdict a missing GOODBYE loses nothing (report() warns).
                    if failure == nil && !ledger.allDecided {
                        failure = .connectionLost("the receiver closed the connection")
                    }
                case .system(let error) where error.errno == ECONNRESET:
                    ended = true
                    if failure == nil { failure = .connectionLost("connection reset by the receiver") }
                case .system(let error):
                    ended = true
                    if failure == nil { failure = .connectionLost(error.description) }
                case .framing(.sealBroken(let reason)):
                    // Altered, injected or cut on the way: nothing to say to anyone.
                    ended = true
                    if failure == nil { failure = .protocolViolation("the sealed connection broke: \(reason)") }
                case .framing(let error):
                    ended = false
                    if failure == nil {
                        failure = .protocolViolation("from the receiver: \(error)")
                        // Told with the code that names the damage (SPEC.md §12), if any can be.
                        complaint = error.errorCode.map { ($0, "from the receiver: \(error)") }
                    }
                case .idle(let error):
                    ended = false
                    if failure == nil {
                        failure = error
                        if !receiverFailed, case .protocolViolation(let text) = error {
                            complaint = (.protocolViolation, text)
                        }
                    }
                }
                condition.broadcast()
                return ended
            }
            // Read until the receiver closes (SPEC.md §7.5): after its fatal ERROR for as long
            // as it may take; after our own complaint, briefly.
            if !ended { socket.drain(seconds: locked { receiverFailed } ? options.idleTimeout : 2) }
        }
        locked {
            readerDone = true
            condition.broadcast()
        }
    }

    /// Checks the receiver's suite and proof of the key after its WELCOME (`bytes`: the
    /// WELCOME as it arrived), prepares our proof and both directions' record layer.
    private func authenticate(
        _ welcome: Welcome,
        bytes: [UInt8],
        key: AuthenticationKey,
        _ reader: inout RecordReader
    ) throws(ReadFailure) {
        func refused(_ text: String) -> ReadFailure { .idle(.authenticationFailed(text)) }
        guard let serverNonce = welcome.parameters.nonce else {
            throw refused("the receiver does not authenticate (it has no key): nothing was sent")
        }
        guard let chosen = welcome.parameters.suites, chosen.count == 1,
            let suite = CipherSuite(rawValue: chosen[0]), CipherSuite.preferred.contains(suite)
        else {
            throw refused(
                "the receiver did not choose one of our cipher suites (a receiver of SPEC 1.1, without the sealed "
                    + "record layer?): nothing was sent"
            )
        }
        locked { transcript.append(bytes) }
        let message: RecordDecoder.Message
        do throws(ReadFailure) {
            message = try nextMeaningful(&reader)
        } catch .idle(.timeout) {
            throw refused("the receiver sent WELCOME but never proved the key (no AUTH): nothing was sent")
        }
        if case .record(.error(let error)) = message {
            // The receiver's fatal ERROR in place of AUTH: we send nothing more (SPEC.md §7.5).
            locked { receiverFailed = true }
            throw .idle(.fromReceiver(code: error.code, message: error.message))
        }
        guard case .record(.auth(let proof)) = message else {
            throw refused("the receiver did not prove the key (no AUTH after WELCOME): nothing was sent")
        }
        let serverAuth = reader.decoder.lastMessageBytes
        let opener = try locked { () throws(ReadFailure) -> RecordOpener in
            guard transcript.verify(proof, .server, key: key) else {
                throw refused("the receiver's proof does not match this key: it is not the receiver you meant")
            }
            transcript.append(serverAuth)
            let ours = transcript.proof(.client, key: key)
            var clientAuth: [UInt8] = []
            try? RecordEncoder.append(.auth(ours), to: &clientAuth)
            transcript.append(clientAuth)
            let secrets = transcript.trafficSecrets(key: key, clientNonce: clientNonce, serverNonce: serverNonce)
            do {
                let opener = try RecordOpener(suite: suite, secret: secrets.server)
                clientProof = (ours, try RecordSealer(suite: suite, secret: secrets.client))
                condition.broadcast()
                return opener
            } catch {
                throw refused("cannot seal records: \(error)")
            }
        }
        reader.startOpening(opener)
        locked { handshakeDeadline = nil }
    }

    /// The next message that is not an ignorable record (SPEC.md §4: those may come
    /// anywhere, even before WELCOME).
    private func nextMeaningful(_ reader: inout RecordReader) throws(ReadFailure) -> RecordDecoder.Message {
        while true {
            let message = try next(&reader)
            switch message {
            case .record(.keepAlive), .record(.unknown): continue
            default: return message
            }
        }
    }

    private func next(_ reader: inout RecordReader) throws(ReadFailure) -> RecordDecoder.Message {
        let timeout = options.idleTimeout
        let message = try reader.next { (wait: ReadWait) throws(ReadFailure) in
            try locked { () throws(ReadFailure) in
                if failure != nil { throw .idle(failure!) }
                if let deadline = handshakeDeadline, monotonicSeconds() > deadline {
                    throw .idle(.timeout("no complete handshake within \(Int(timeout)) s"))
                }
                if waiters > 0 && wait.silence > timeout {
                    throw .idle(.timeout("no word from the receiver for \(Int(timeout)) s"))
                }
            }
        }
        locked { lastHeard = monotonicSeconds() }
        return message
    }

    /// Applies one record; true when the conversation is over.
    private func handle(_ record: Record) throws(ReadFailure) -> Bool {
        try locked { () throws(ReadFailure) -> Bool in
            defer { condition.broadcast() }
            let effect: SenderLedger.Effect
            do throws(TransferError) {
                effect = try ledger.apply(record)
            } catch {
                throw .idle(error)
            }
            announceAnswered()
            switch effect {
            case .goodbye:
                goodbyeReceived = true
                return true
            case .fatal(let error):
                receiverFailed = true
                throw .idle(error)
            default:
                report(effect)
                return false
            }
        }
    }

    // MARK: Helpers, lock held

    /// `started` for each pipelined offer now answered (or decided) other than by a resume.
    private func announceAnswered() {
        while unannouncedHead < unannounced.count {
            let stream = ledger.streams[unannounced[unannouncedHead]]
            guard stream.answer != nil || stream.outcome != nil else { break }
            unannouncedHead += 1
            if stream.answer?.decision != .resume {
                onEvent(.started(name: stream.name, size: stream.size, resumedFrom: nil))
            }
        }
        if unannouncedHead == unannounced.count {
            unannounced.removeAll(keepingCapacity: true)
            unannouncedHead = 0
        }
    }

    /// Turns a ledger effect into events.
    private func report(_ effect: SenderLedger.Effect) {
        switch effect {
        case .decided(let index):
            let stream = ledger.streams[index]
            switch stream.outcome {
            case .confirmed(let delivery):
                progress.confirmed &+= delivery.bytes
                progress.received &+= stream.sent &- min(stream.sent, stream.received)
                onEvent(.confirmed(name: stream.name, delivery: delivery))
                reportProgress(force: true)
            case .failed(let error):
                onEvent(.failed(name: stream.name, error: error))
            case nil:
                break
            }
        case .progressed:
            progress.received = ledger.streams.reduce(0) { total, stream in
                let settled: Bool
                if case .confirmed? = stream.outcome { settled = true } else { settled = false }
                return total &+ (settled ? stream.sent : stream.received)
            }
            reportProgress()
        default:
            break
        }
    }

    private func reportProgress(force: Bool = false) {
        let now = monotonicSeconds()
        guard force || now - lastProgressEvent >= 0.1 else { return }
        lastProgressEvent = now
        onEvent(.progress(progress))
    }
}
