import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// How one connection to the receiver ended.
public struct ConnectionSummary: Sendable {
    /// The peer's address.
    public var peer: String
    /// Streams committed and acknowledged, and their bytes.
    public var committedFiles = 0
    /// Bytes in those streams.
    public var committedBytes: UInt64 = 0
    /// Streams that failed (refused, damaged, unwritable).
    public var failedFiles = 0
    /// What ended the connection abnormally, if anything did.
    public var failure: TransferError?
}

/// The receiving side of one connection (SPEC.md §7.3), on its own thread: reads records,
/// lets ``ReceiverStateMachine`` say what each means, and carries that out on the target
/// directory: offers are decided here, bytes go to a ``PartialFile``, verified streams
/// wait in a batch for the ``Committer``, and ACKs leave in offer order.
final class ReceiverConnection {
    /// Ends the conversation: `fatal` is reported to the peer in an ERROR first.
    private enum Stop: Error {
        case fatal(ErrorCode, String)
        /// The sender sent a fatal ERROR: stop sending, read to its end, close (SPEC.md §7.5).
        case peerFailed(String)
        case peerGone(String)
    }

    /// The stream being received.
    private struct Incoming {
        let offer: Offer
        let name: WireName
        let partial: PartialFile
        var lastProgress = monotonicSeconds()
    }

    private let socket: TCPSocket
    private let directory: TargetDirectory
    private let journal: CommitJournal
    private let descriptors: DescriptorBudget
    private let partials: PartialsCap
    private let options: ReceiverOptions
    private let admission: Receiver.Admission
    private let log: @Sendable (ReceiverEvent) -> Void
    /// When the connection was accepted: the handshake must end within its timeout.
    private let accepted = monotonicSeconds()
    /// Whether the handshake is done (a slot among the served connections taken).
    private var established = false
    /// How the handshake failed, when that costs the source more than an abandoned one.
    private var handshakeFailure: HandshakeFailure?
    private let writer: RecordWriter
    private var reader: RecordReader
    private var machine: ReceiverStateMachine
    /// The handshake so far, when a key is required (SPEC.md §13).
    private var handshake: ReceiverHandshake
    private var current: Incoming?
    /// Verified streams waiting for the next commit, in offer order.
    private var pending: CommitBatch<VerifiedStream>
    /// Transfer IDs this connection holds claims on (the journal's claims are shared by
    /// every connection): an offer of one of these is a second offer on this connection.
    private var claims: Set<TransferID> = []
    private var summary: ConnectionSummary

    init(
        socket: TCPSocket,
        peer: String,
        directory: TargetDirectory,
        journal: CommitJournal,
        descriptors: DescriptorBudget,
        partials: PartialsCap,
        options: ReceiverOptions,
        admission: Receiver.Admission,
        log: @escaping @Sendable (ReceiverEvent) -> Void
    ) {
        self.socket = socket
        self.directory = directory
        self.journal = journal
        self.descriptors = descriptors
        self.partials = partials
        self.options = options
        self.admission = admission
        self.log = log
        writer = RecordWriter(socket: socket)
        reader = RecordReader(socket: socket)
        // Nobody has been verified yet: a few KiB per peer, not a megabyte (SPEC.md §9).
        reader.limitPayload(to: ProtocolLimits.maxHandshakePayload)
        machine = ReceiverStateMachine(requiresAuthentication: options.key != nil)
        handshake = ReceiverHandshake(key: options.key)
        summary = ConnectionSummary(peer: peer)
        pending = CommitBatch(files: options.commitBatchFiles, bytes: options.commitBatchBytes)
    }

    /// Serves the connection to its end and closes the socket.
    func run() -> ConnectionSummary {
        defer { admission.release() }
        // Reads wake every second for the idle check; a write that makes no progress for
        // the idle timeout fails.
        socket.setTimeouts(receive: 1, send: options.idleTimeout)
        let committer: Committer
        do {
            committer = Committer(
                directory: directory,
                syncHandle: try directory.openSyncHandle(),
                umask: options.effectiveUmask
            )
        } catch {
            end(.fatal(.internalError, "cannot open the target directory: \(error.reason)"), committer: nil)
            return summary
        }
        do {
            try converse(committer)
            try commitPending(committer)
            syncJournal()
            writer.enqueue(.goodbye)
            try flush()
            admission.release()
            // The client closes first (SPEC.md §7.4): wait for its FIN, then close.
            socket.drain(seconds: options.idleTimeout)
            socket.close()
        } catch let stop as Stop {
            end(stop, committer: committer)
        } catch {
            end(.fatal(.internalError, "\(error)"), committer: committer)
        }
        return summary
    }

    private func converse(_ committer: Committer) throws {
        var stopChecked = monotonicSeconds()
        while true {
            let message: RecordDecoder.Message
            if let ready = try readIfReady() {
                message = ready
                // A sender that never pauses never reaches next()'s checks: look at the
                // receiver's stop now and then while the data flows.
                let now = monotonicSeconds()
                if now - stopChecked >= 0.1 {
                    stopChecked = now
                    if admission.stopping {
                        throw Stop.fatal(.busy, "the receiver is shutting down; try again later")
                    }
                }
            } else {
                // About to wait for the sender: finish what it may be waiting for first.
                try commitPending(committer)
                try flush()
                message = try next()
            }
            admission.touch()
            switch machine.receive(message) {
            case .greet:
                // The transcript holds the exact bytes sent, reserved field included.
                handshake.receivedPreamble(reader.decoder.lastMessageBytes)
                writer.enqueue(bytes: Preamble().bytes)
            case .greetAndRefuse(let version):
                writer.enqueue(bytes: Preamble().bytes)
                throw Stop.fatal(
                    .unsupportedVersion,
                    "this receiver speaks protocol version \(Preamble.currentVersion), not \(version)"
                )
            case .welcome(let hello):
                try welcome(hello)
            case .authenticate:
                if case .record(.auth(let proof)) = message {
                    try authenticate(proof, bytes: reader.decoder.lastMessageBytes)
                }
            case .offer(let offer):
                try receiveOffer(offer, committer)
            case .store(let bytes):
                store(bytes)
            case .ignore:
                break
            case .finish(let length, let digest):
                try finish(length: length, digest: digest, committer)
            case .streamError(let code, let problem):
                if let incoming = current { fail(incoming, code, "'\(incoming.name.text)': \(problem)") }
            case .dropPartial(let id):
                // Only when nobody receives this ID right now: another connection may be
                // writing a partial of the same name.
                if claim(id) {
                    directory.removePartial(id)
                    release(id)
                }
            case .cancel(let cancel):
                if let incoming = current {
                    current = nil
                    // sourceUnreadable: the source changed or vanished; its ID will never be
                    // offered again, so its partial could never be resumed (SPEC.md §11).
                    keepPartial(incoming, resumable: cancel.code != .sourceUnreadable)
                    note(.cancelled, incoming.name.text, detail: cancel.message)
                }
            case .peerError(let error):
                note(.notice, detail: "sender reported \(error.code): \(error.message)")
            case .peerFailed(let error) where error.code == .unauthenticated && !established:
                // In the handshake the sender's complaint is about our proof: say so in the
                // receiver's own words (the sender's text speaks from its side).
                throw Stop.peerFailed(
                    "authentication failed: the sender refused this receiver's proof of the key (its key differs "
                        + "from this receiver's --key)"
                )
            case .peerFailed(let error):
                throw Stop.peerFailed("sender reported \(error.code): \(error.message)")
            case .goodbye:
                return
            case .fail(let code, let message):
                throw Stop.fatal(code, message)
            }
            do {
                try writer.flushIfDue()
            } catch {
                throw Stop.peerGone("sending failed: \(error.reason)")
            }
        }
    }

    // MARK: Handshake

    /// Answers HELLO; with a key, adds our nonce and suite and proves the key (SPEC.md
    /// §13.3), and the connection stays in its handshake until the client's proof holds.
    private func welcome(_ hello: Hello) throws {
        guard options.key != nil else {
            try establish()
            writer.enqueue(.welcome(Welcome(parameters: [.agent(agentName)])))
            return
        }
        do {
            writer.enqueue(
                bytes: try handshake.welcome(
                    hello,
                    helloBytes: reader.decoder.lastMessageBytes,
                    serverNonce: randomBytes(AuthProof.byteCount),
                    agent: agentName
                )
            )
        } catch {
            throw Stop.fatal(error.code, error.message)
        }
    }

    /// Checks the client's proof (`bytes`: its AUTH record as it arrived). A wrong one is
    /// answered at once with a fatal ERROR `unauthenticated`, unsealed (there is no
    /// verified session to seal it with), and costs its source a penalty: guessing is
    /// slowed by the source's penalty, not by holding a slot (the comparison is constant
    /// time, so answering at once teaches nothing). A right one turns the sealed record
    /// layer on in both directions.
    private func authenticate(_ proof: AuthProof, bytes: [UInt8]) throws {
        let session: ReceiverHandshake.Session
        do {
            guard let verified = try handshake.verify(proof, bytes: bytes) else { return }
            session = verified
        } catch {
            if error.code == .unauthenticated {
                note(.notice, detail: "authentication failed: the client's proof does not match this receiver's key")
                handshakeFailure = .authentication
            }
            throw Stop.fatal(error.code, error.message)
        }
        reader.startOpening(session.opener)
        writer.startSealing(session.sealer)
        machine.authenticated()
        try establish()
    }

    /// The handshake is over: take a slot among the served connections.
    private func establish() throws {
        if let refusal = admission.establish() {
            throw Stop.fatal(.busy, refusal)
        }
        established = true
        reader.limitPayload(to: ProtocolLimits.maxPayload)
    }

    // MARK: Offers

    /// The last directory checked at OFFER time, and its verdict: files come in runs per
    /// directory, and the commit walks and checks the path again anyway. A directory that
    /// did not exist yet (the commit will make it) is remembered too, until the next commit.
    private var checkedDirectory: (key: String, parent: TargetDirectory.Parent)?

    /// The identity of the regular file now at `name`, if any; through the directory just
    /// checked when it is that one.
    private func existingIdentity(of name: WireName) -> FileIdentity? {
        if let cached = checkedDirectory, cached.key == name.directories.joined(separator: "/") {
            // A directory still missing at the check holds no file: only a commit can have
            // made it since, and a commit forgets the verdict.
            guard let parent = cached.parent.directory, let info = try? parent.status(of: name.leaf),
                info.st_mode & S_IFMT == S_IFREG
            else { return nil }
            return FileIdentity(info)
        }
        return directory.identity(of: name)
    }

    private func checkDestination(_ name: WireName) throws(TransferError) {
        let key = name.directories.joined(separator: "/")
        if let cached = checkedDirectory, cached.key == key {
            return try directory.checkLeaf(name, in: cached.parent)
        }
        let parent = try directory.checkedParent(of: name)
        checkedDirectory = (key, parent)
        try directory.checkLeaf(name, in: parent)
    }

    private func receiveOffer(_ offer: Offer, _ committer: Committer) throws {
        let id = offer.transferID
        let name: WireName
        do {
            name = try WireName(validating: offer.name)
            try checkDestination(name)
        } catch {
            return refuse(offer, ReceiverFailure(error))
        }
        // The journal is read only when a file is there to be the committed one: a new
        // file (the common case) costs one stat in the directory just checked.
        let existing = existingIdentity(of: name)
        switch OfferDecision.beforeClaim(
            offer,
            existing: existing,
            committed: existing == nil ? nil : journal.entry(for: id),
            openOnThisConnection: claims.contains(id)
        ) {
        case .alreadyCommitted(let entry):
            // ACKs go in offer order (SPEC.md §7.3): earlier streams commit first.
            try commitPending(committer)
            answer(offer, .alreadyCommitted, offset: entry.length)
            writer.enqueue(.ack(ack(for: offer, length: entry.length, digest: entry.digest)))
            note(.alreadyCommitted, offer.name, bytes: entry.length)
            return
        case .refuse(let failure):
            return refuse(offer, failure)
        case .accept, .resume, nil:
            break
        }
        guard claim(id) else {
            return decline(offer, OfferDecision.claimedElsewhere(offer))
        }
        var claimed = true
        defer { if claimed { release(id) } }
        if let resume = OfferDecision.resuming(offer, held: offer.size == nil ? 0 : directory.partialSize(id) ?? 0) {
            return decline(offer, resume)
        }
        if let needed = OfferDecision.shortfall(offer, free: directory.freeBytes()) {
            // Partials kept for resumes are a cache: they give way to a new transfer.
            let removed = partials.makeRoom(for: needed, except: TargetDirectory.partialName(id))
            for removed in removed {
                note(.notice, detail: "removed partial \(removed.name) (\(removed.size) bytes) to make room")
            }
            // Asked again only here: one `statvfs` per offer when there is room.
            if case .refuse(let failure) = OfferDecision.space(offer, free: directory.freeBytes()) {
                return refuse(offer, failure)
            }
        }
        let partial: PartialFile
        do {
            let opening = try PartialFile.open(
                TargetDirectory.partialName(id),
                in: directory.state,
                keeping: offer.offset,
                window: options.writeBackWindow,
                destination: name.text
            )
            guard case .opened(let opened) = opening else {
                return refuse(offer, ReceiverFailure(.busy, "'\(offer.name)' is being written by another process"))
            }
            partial = opened
        } catch {
            return refuse(
                offer,
                ReceiverFailure(
                    error.isNoSpace ? .noSpace : .ioError,
                    "cannot create a file for '\(offer.name)': \(error.reason)"
                )
            )
        }
        if offer.offset > 0 {
            // The whole-stream digest covers the kept prefix too: hash it from disk, telling
            // the sender we are alive meanwhile (it may take longer than its timeout).
            let writer = self.writer
            let heartbeat: Heartbeat
            do {
                heartbeat = try Heartbeat(interval: ReceiverConnection.heartbeatInterval) {
                    try? writer.send(.keepAlive)
                }
            } catch {
                // Hashing a long prefix in silence would time the sender out: refuse now,
                // keeping the partial for a later resume.
                partial.file.close()
                return refuse(offer, ReceiverFailure(.busy, "'\(offer.name)': \(error); try again later"))
            }
            defer { heartbeat.stop() }
            do {
                machine.resumed(from: offer.offset, digest: try partial.hashKeptPrefix())
            } catch {
                directory.removePartial(id)
                return refuse(
                    offer,
                    ReceiverFailure(.ioError, "cannot read back the kept part of '\(offer.name)': \(error.reason)")
                )
            }
        }
        claimed = false  // released when the stream ends
        current = Incoming(offer: offer, name: name, partial: partial)
        answer(offer, .accept, offset: offer.offset)
    }

    /// Seconds between keep-alive records while the receiver is busy without input.
    private static let heartbeatInterval = 1.0

    private func answer(_ offer: Offer, _ decision: Answer.Decision, offset: UInt64, failure: ReceiverFailure? = nil) {
        var record = Answer(transferID: offer.transferID, decision: decision, offset: offset)
        if let failure {
            record.code = failure.code
            record.message = failure.message
        }
        writer.enqueue(.answer(record))
        if decision != .accept {
            machine.declined(offer)
            // The sender may be streaming this offer's data at us: tell it at once, so it stops.
            try? writer.flush()
        }
    }

    /// Answers an offer that is neither accepted nor already committed.
    private func decline(_ offer: Offer, _ decision: OfferDecision) {
        switch decision {
        case .resume(let offset): answer(offer, .resume, offset: offset)
        case .refuse(let failure): refuse(offer, failure)
        case .accept, .alreadyCommitted: preconditionFailure("\(decision) is not a decline")
        }
    }

    private func refuse(_ offer: Offer, _ failure: ReceiverFailure) {
        summary.failedFiles += 1
        note(.refused, ReceiverConnection.shown(offer.name), detail: failure.logText)
        answer(offer, .refuse, offset: 0, failure: failure)
    }

    // MARK: Data

    private func store(_ bytes: ArraySlice<UInt8>) {
        guard var incoming = current else { return }
        let partial = incoming.partial
        let failure: SystemError? = bytes.withUnsafeBytes { raw in
            do throws(SystemError) {
                try partial.append(raw)
                return nil
            } catch {
                return error
            }
        }
        if let error = failure {
            return fail(
                incoming,
                error.isNoSpace ? .noSpace : .ioError,
                "cannot write '\(incoming.name.text)': \(error.reason)"
            )
        }
        let now = monotonicSeconds()
        if now - incoming.lastProgress >= 0.25 {
            incoming.lastProgress = now
            current = incoming
            writer.enqueue(
                .progress(
                    Progress(
                        transferID: incoming.offer.transferID,
                        received: partial.length,
                        durable: partial.writtenBack
                    )
                )
            )
        }
    }

    /// Fails the current stream (non-fatal ERROR), drops its partial, discards the rest of it.
    private func fail(_ incoming: Incoming, _ code: ErrorCode, _ message: String) {
        current = nil
        machine.streamFailed()
        incoming.partial.file.close()
        directory.removePartial(incoming.offer.transferID)
        release(incoming.offer.transferID)
        reportFailure(incoming.offer.transferID, name: incoming.name.text, code, message)
    }

    private func reportFailure(_ id: TransferID, name: String, _ code: ErrorCode, _ message: String) {
        summary.failedFiles += 1
        note(.failed, name, detail: message)
        writer.enqueue(.error(ErrorRecord(code: code, transferID: id, fatal: false, message: message)))
    }

    private func finish(length: UInt64, digest: UInt64, _ committer: Committer) throws {
        guard let incoming = current else { return }  // the stream failed earlier; its ERROR is sent
        current = nil
        let partial = incoming.partial
        // The machine counted what arrived; the file must hold exactly that.
        guard partial.length == length else {
            return fail(
                incoming,
                .ioError,
                "'\(incoming.name.text)': \(partial.length) bytes written of the \(length) received"
            )
        }
        let full = pending.add(
            VerifiedStream(offer: incoming.offer, name: incoming.name, partial: partial, digest: digest),
            length: partial.length,
            nameBytes: incoming.offer.name.utf8.count,
            budgeted: descriptors.take()
        )
        if full { try commitPending(committer) }
    }

    // MARK: Commit

    /// Makes every verified stream durable under its final name, then ACKs each, in order.
    private func commitPending(_ committer: Committer) throws {
        guard !pending.isEmpty else { return }
        let (batch, taken) = pending.take()
        defer { descriptors.give(taken) }
        let writer = self.writer
        let last = batch[batch.count - 1].offer.transferID
        let lastLength = batch[batch.count - 1].partial.length
        // What was written back before the sync: PROGRESS never goes backwards (SPEC.md §6.7).
        let lastDurable = batch[batch.count - 1].partial.writtenBack
        let heartbeat: Heartbeat?
        do {
            heartbeat = try Heartbeat(interval: ReceiverConnection.heartbeatInterval) {
                try? writer.send(.progress(Progress(transferID: last, received: lastLength, durable: lastDurable)))
            }
        } catch {
            // The streams are verified and a batch is bounded (commitBatchBytes): commit them
            // without keep-alives rather than fail them (at worst a sender times out, and its
            // retry finds them already committed).
            note(.notice, detail: "\(error); committing without them")
            heartbeat = nil
        }
        let outcomes = committer.commit(batch)
        heartbeat?.stop()
        // The commit may have made the directory remembered as missing: check it again.
        if checkedDirectory?.parent.directory == nil { checkedDirectory = nil }
        var committed: [(TransferID, CommitJournal.Entry)] = []
        for (stream, outcome) in zip(batch, outcomes) {
            let id = stream.offer.transferID
            if case .committed(let entry) = outcome { committed.append((id, entry)) }
        }
        if let error = journal.record(committed) {
            note(.notice, detail: "cannot record commits in .xfer/commits (a retry will send them again): \(error)")
        }
        for (stream, outcome) in zip(batch, outcomes) {
            let id = stream.offer.transferID
            defer { release(id) }
            switch outcome {
            case .committed(let entry):
                summary.committedFiles += 1
                summary.committedBytes += entry.length
                let offset = stream.offer.offset
                note(.committed, stream.name.text, bytes: entry.length, resumedFrom: offset > 0 ? offset : nil)
                writer.enqueue(.ack(ack(for: stream.offer, length: entry.length, digest: entry.digest)))
            case .failed(let code, let message, let keptPartial):
                if !keptPartial { directory.removePartial(id) }
                reportFailure(id, name: stream.name.text, code, message)
            }
        }
    }

    /// Makes this connection's journal lines durable (SPEC.md §7.3): at its end, where an
    /// ACK may have been lost with it and the sender will ask again.
    private func syncJournal() {
        if let error = journal.syncRecorded() {
            note(
                .notice,
                detail: "cannot sync .xfer/commits (after a power loss, a retry may send files again): \(error)"
            )
        }
    }

    /// The durable ACK of `offer`; on a sealed connection bound to the offer (SPEC.md §13.5),
    /// so the sender can check that what was committed is what it offered.
    private func ack(for offer: Offer, length: UInt64, digest: UInt64) -> Ack {
        Ack(
            transferID: offer.transferID,
            committedLength: length,
            digest: digest,
            durable: true,
            binding: options.key == nil ? nil : AckBinding(offer: offer, committedLength: length, digest: digest)
        )
    }

    // MARK: Ending

    /// Ends the conversation after `stop`. `committer` is the connection's own (nil only
    /// when it could not be made, before anything was received).
    private func end(_ stop: Stop, committer: Committer?) {
        // Verified streams are committed even when the conversation breaks: a retry then
        // finds them already committed. (With the connection's own committer: opening
        // anything now may fail for want of descriptors, and would strand the streams'
        // claims and descriptors.)
        if let committer { try? commitPending(committer) }
        syncJournal()
        if let incoming = current {
            current = nil
            keepPartial(incoming)
        }
        // The slot is free before the seconds a close may take (drain). A handshake that
        // did not end costs its source (SourcePenalties).
        var failure: HandshakeFailure?
        if !established {
            if case .fatal(.timeout, _) = stop { failure = .timeout } else { failure = handshakeFailure ?? .abandoned }
        }
        let evicted = admission.isEvicted
        admission.release(failure: failure)
        if evicted {
            // Its slot was given to another (AdmissionTable): say so, not what the shutdown
            // of its socket made the reads and writes report.
            let reason =
                established
                ? "evicted: every served slot was taken and its address held more than its share while another waited"
                : "evicted: every handshake slot was taken and its address held the most"
            summary.failure = .connectionLost(reason)
            note(.notice, detail: reason)
            socket.close()
            return
        }
        switch stop {
        case .fatal(let code, let message):
            summary.failure = code == .timeout ? .timeout(message) : .protocolViolation(message)
            note(.notice, detail: "dropped: \(message)")
            guard machine.greeted else {
                // Not an xfer client (no valid preamble): say nothing, just close (SPEC.md §3).
                socket.shutdownWrite()
                socket.drain(seconds: 1)
                socket.close()
                return
            }
            writer.enqueue(.error(ErrorRecord(code: code, fatal: true, message: message)))
            try? writer.flush()
            // Read before closing so our ERROR is not destroyed by an RST (SPEC.md §7.5).
            socket.shutdownWrite()
            socket.drain(seconds: 2)
            socket.close()
        case .peerFailed(let message):
            summary.failure = .connectionLost(message)
            note(.notice, detail: "connection ended: \(message)")
            // Send nothing more; read to the end so that closing sends no RST (SPEC.md §7.5).
            socket.shutdownWrite()
            socket.drain(seconds: 2)
            socket.close()
        case .peerGone(let message):
            summary.failure = .connectionLost(message)
            note(.notice, detail: "connection ended: \(message)")
            socket.close()
        }
    }

    /// Keeps a partial stream for a later resume: synced, so its length is true. A stream
    /// of unknown length cannot be resumed, nor one whose source changed (`resumable`
    /// false), and a partial that cannot be synced cannot be trusted: all are removed.
    private func keepPartial(_ incoming: Incoming, resumable: Bool = true) {
        let id = incoming.offer.transferID
        defer { release(id) }
        // Nothing received: nothing worth keeping.
        let keep = resumable && incoming.offer.size != nil && incoming.partial.length > 0
        if keep { incoming.partial.recordDestination() }
        // Its bytes and its name in `.xfer` (and `.xfer` in the target) must survive a power
        // loss, or the resume this keeps it for cannot happen (SPEC.md §7.3).
        let synced = keep && (try? incoming.partial.file.sync()) != nil && (try? directory.syncStateDirectory()) != nil
        incoming.partial.file.close()
        if !synced {
            directory.removePartial(id)
        } else {
            note(.kept, incoming.name.text, bytes: incoming.partial.length)
            // The cap holds at every kept partial, not at the next expiry: a peer that cuts
            // or cancels transfers in a loop cannot pile them up in between.
            for removed in partials.enforce() {
                note(.notice, detail: "removed partial \(removed.name) (\(removed.size) bytes): over the cap")
            }
        }
    }

    /// One line of the log about this connection.
    private func note(
        _ kind: ReceiverEvent.Kind,
        _ name: String? = nil,
        bytes: UInt64? = nil,
        resumedFrom: UInt64? = nil,
        detail: String = ""
    ) {
        log(
            ReceiverEvent(
                peer: summary.peer,
                kind: kind,
                name: name,
                bytes: bytes,
                resumedFrom: resumedFrom,
                detail: detail
            )
        )
    }

    // MARK: Claims

    /// Claims `id` in the shared journal for this connection.
    private func claim(_ id: TransferID) -> Bool {
        guard journal.claim(id) else { return false }
        claims.insert(id)
        return true
    }

    private func release(_ id: TransferID) {
        claims.remove(id)
        journal.release(id)
    }

    /// A name for the log: a name over the protocol's limit (refused for it) is cut.
    private static func shown(_ name: String) -> String {
        name.utf8.count <= 256
            ? name : "\(String(decoding: Array(name.utf8.prefix(200)), as: UTF8.self))… (\(name.utf8.count) bytes)"
    }

    // MARK: Input

    private func next() throws -> RecordDecoder.Message {
        do {
            let timeout = options.idleTimeout
            let deadline = established ? Double.infinity : accepted + options.handshakeTimeout
            let admission = self.admission
            let floor = options.minimumRecordRate
            return try reader.next { (wait: ReadWait) throws(ReadFailure) in
                // An absolute deadline for the handshake, however the bytes trickle.
                if monotonicSeconds() > deadline {
                    throw .idle(.timeout("no complete handshake within \(Int(options.handshakeTimeout)) s"))
                }
                if admission.stopping {
                    throw .idle(.refused(code: .busy, message: "the receiver is shutting down; try again later"))
                }
                // Bytes arriving are progress, even inside one long record (a slow link)…
                if wait.silence > timeout {
                    throw .idle(.timeout("no data from the sender for \(Int(timeout)) s"))
                }
                // …but a record that has started must arrive at the floor's rate: a byte
                // every few seconds would otherwise hold a slot for ever.
                let size = Double(wait.recordSize ?? ProtocolLimits.headerSize)
                if wait.insideRecord > timeout + size / floor {
                    throw .idle(
                        .timeout(
                            "a \(Int(size))-byte record took over \(Int(wait.insideRecord)) s (slower than \(Int(floor / 1024)) KiB/s after \(Int(timeout)) s)"
                        )
                    )
                }
            }
        } catch {
            throw stop(for: error)
        }
    }

    private func readIfReady() throws -> RecordDecoder.Message? {
        do {
            return try reader.nextIfReady()
        } catch {
            throw stop(for: error)
        }
    }

    private func stop(for failure: ReadFailure) -> Stop {
        switch failure {
        case .endOfStream(let buffered):
            let inside =
                buffered > 0
                ? " inside a record"
                : current != nil ? " inside a stream" : established ? " before GOODBYE" : " during the handshake"
            return .peerGone("the sender closed the connection\(inside)")
        case .system(let error): return .peerGone(error.description)
        case .framing(.sealBroken(let reason)):
            // Tampering, or a broken peer: nothing we could send would be trusted or useful.
            return .peerGone("the sealed connection broke: \(reason)")
        case .framing(let error): return .fatal(error.wireCode, error.description)
        case .idle(.timeout(let text)): return .fatal(.timeout, text)
        case .idle(.refused(let code, let text)): return .fatal(code, text)
        case .idle(let error): return .fatal(error.wireCode, "\(error)")
        }
    }

    private func flush() throws {
        do {
            try writer.flush()
        } catch {
            throw Stop.peerGone("sending failed: \(error.reason)")
        }
    }
}
