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
    let condition = Condition()
    let options: SenderOptions
    private let onEvent: @Sendable (SenderEvent) -> Void
    var ledger: SenderLedger
    var failure: TransferError?
    var writeError: SystemError?
    var readerDone = false
    var goodbyeReceived = false
    /// The receiver sent a fatal ERROR: it is going away; we only read until it closes.
    var receiverFailed = false
    /// What the sender tells the receiver in its own fatal ERROR, when it found a fault.
    var complaint: (ErrorCode, String)?
    /// How many threads are waiting on the receiver; the reader's idle clock runs only then.
    var waiters = 0
    var lastHeard = monotonicSeconds()
    /// Whether any byte of the receiver's arrived (its preamble).
    var heard = false
    /// With a key, until the receiver has proved it: when the handshake as a whole times out,
    /// however its records (KEEPALIVEs, which anyone on the path could add) trickle in.
    var handshakeDeadline: Double?
    var progress: SendProgress
    private var lastProgressEvent = 0.0
    /// Pipelined first offers whose `started` waits for the receiver's answer, in offer
    /// order (answers come in that order, SPEC.md §7.2): one the receiver asks to resume
    /// gets its one `started`, with `resumed_from`, when it is offered again.
    private var unannounced: [Int] = []
    private var unannouncedHead = 0
    /// With a key: the handshake's transcript, our nonce and suites, and once the receiver
    /// proved the key, our proof and the sealer for the writer (SPEC.md §13.3).
    var transcript = AuthenticationTranscript()
    var clientNonce: [UInt8] = []
    var clientProof: (AuthProof, RecordSealer)?
    /// Connections the HELLO asked for (SPEC.md §16.1); 1: no session asked.
    var askedStreams = 1
    /// What WELCOME granted; a SESSION must follow.
    var grantedStreams: Int?
    /// The session, once its SESSION arrived.
    var grant: SessionGrant?
    /// Whether it is known whether a session comes (WELCOME without `streams`, or SESSION read).
    var sessionDecided = false
    /// HAVEs read for `blocks` offers awaiting their answer.
    var haves: [TransferID: Have] = [:]
    /// Where BLOCKACKs go, and which connection this is (0: the first).
    var scheduler: BlockScheduler?
    var lane = 0

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

    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    // MARK: Called by the writing thread

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

    /// This side cannot go on with the connection (a block it cannot finish): the writer
    /// sends a fatal ERROR with `code` and `message`, and shuts its side down.
    func abandon(_ code: ErrorCode, _ message: String) {
        locked {
            if complaint == nil { complaint = (code, message) }
            if failure == nil { failure = .localIO(message) }
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

    /// Blocks until the WELCOME is read, and returns the connections it granted, or `nil`
    /// for no session (or a connection that ended). With a key the handshake has read it.
    func waitForGrantedStreams() -> Int? {
        locked {
            waiters += 1
            defer { waiters -= 1 }
            while !readerDone && failure == nil && !sessionDecided && grantedStreams == nil { condition.wait() }
            return failure == nil ? grantedStreams : nil
        }
    }

    /// Blocks until it is known whether the receiver grants a session (SPEC.md §16), and
    /// returns the grant, or `nil` for none (or a connection that ended).
    func waitForSessionDecision() -> SessionGrant? {
        locked {
            waiters += 1
            defer { waiters -= 1 }
            while !readerDone && failure == nil && !sessionDecided { condition.wait() }
            return failure == nil ? grant : nil
        }
    }

    /// The HAVE read for `id`'s offer, if one came.
    func have(for id: TransferID) -> Have? {
        locked { haves[id] }
    }

    /// Waits for the reader's end: without bound once the receiver has said anything, else
    /// up to `seconds`. Returns whether the reader ended.
    func waitForReader(unlessSilentFor seconds: Double) -> Bool {
        locked {
            let deadline = monotonicSeconds() + seconds
            while !readerDone {
                if heard {
                    condition.wait()
                    continue
                }
                let left = deadline - monotonicSeconds()
                if left <= 0 { return false }
                _ = condition.wait(seconds: left)
            }
            return true
        }
    }

    func waitForReader() {
        locked { while !readerDone { condition.wait() } }
    }

    // MARK: Helpers, lock held

    /// `started` for each pipelined offer now answered (or decided) other than by a resume.
    func announceAnswered() {
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
    func report(_ effect: SenderLedger.Effect) {
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
