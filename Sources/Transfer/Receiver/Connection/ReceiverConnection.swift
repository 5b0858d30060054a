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
    /// Whether it joined another connection's session (SPEC.md §16): it carried blocks only.
    public var joinedSession = false
    /// Blocks of files received and verified on this connection, and their bytes.
    public var blocks = 0
    /// Bytes in those blocks.
    public var blockBytes: UInt64 = 0
}

/// The receiving side of one connection (SPEC.md §7.3), on its own thread: reads records,
/// lets ``ReceiverStateMachine`` say what each means, and carries that out on the target
/// directory: bytes go to a ``PartialFile``, verified streams wait in a ``CommitBatch`` for
/// the ``Committer``, and ACKs leave in offer order.
///
/// This is the I/O shell; the decisions are values of their own, testable without a
/// socket: ``ReceiverHandshake`` (transcript, proofs, sealer), ``OfferDecision`` (the answer
/// to an OFFER), ``CommitBatch`` (when to commit). The shell is in one file per concern:
/// this one (state, `run` and the dispatch loop), `+Handshake`, `+Offers`, `+Data`,
/// `+Commit`, `+Ending` and `+Input`.
final class ReceiverConnection {
    /// Ends the conversation: `fatal` is reported to the peer in an ERROR first.
    enum Stop: Error {
        case fatal(ErrorCode, String)
        /// The sender sent a fatal ERROR: stop sending, read to its end, close (SPEC.md §7.5).
        case peerFailed(String)
        case peerGone(String)
    }

    /// The stream being received.
    struct Incoming {
        let offer: Offer
        let name: WireName
        let partial: PartialFile
        var lastProgress = monotonicSeconds()
    }

    let socket: TCPSocket
    let directory: TargetDirectory
    let journal: CommitJournal
    /// The receiver's claims on transfer IDs being received, shared by every connection.
    let transfers: TransferClaims
    let descriptors: DescriptorBudget
    let partials: PartialsCap
    let options: ReceiverOptions
    let admission: Receiver.Admission
    let log: @Sendable (ReceiverEvent) -> Void
    /// When the connection was accepted: the handshake must end within its timeout.
    let accepted = monotonicSeconds()
    /// Whether the handshake is done (a slot among the served connections taken).
    var established = false
    /// How the handshake failed, when that costs the source more than an abandoned one.
    var handshakeFailure: HandshakeFailure?
    let writer: RecordWriter
    var reader: RecordReader
    var machine: ReceiverStateMachine
    /// The handshake so far, when a key is required (SPEC.md §13).
    var handshake: ReceiverHandshake
    var current: Incoming?
    /// Verified streams waiting for the next commit, in offer order.
    var pending: CommitBatch<VerifiedStream>
    /// Transfer IDs this connection holds claims on (``transfers`` holds every connection's): an offer of one of these is a second offer on this connection.
    var claims: Set<TransferID> = []
    var summary: ConnectionSummary

    /// The last directory checked at OFFER time, and its verdict: files come in runs per
    /// directory, and the commit walks and checks the path again anyway. A directory that
    /// did not exist yet (the commit will make it) is remembered too, until the next commit.
    var checkedDirectory: (key: String, parent: TargetDirectory.Parent)?

    /// Every session of the receiver (SPEC.md §16), shared by every connection.
    let sessions: ReceiverSessions
    /// The session this connection was granted (its first connection) or joined.
    var session: ReceiverSession?
    /// Whether this connection joined a session (it carries blocks only).
    var joined = false
    /// A JOIN was refused for a wrong token: that costs the source (SourcePenalties).
    var joinRefused = false
    /// The `blocks` offer open on this connection, if any.
    var blocks: BlockAssembly?
    /// The block being received here: its offer's assembly, index, and where it starts.
    var openBlock: (assembly: BlockAssembly, index: UInt32, offset: UInt64)?
    /// When this connection last said something while blocks arrived (a keep-alive or BLOCKACK).
    var lastBlockWord = monotonicSeconds()

    init(
        socket: TCPSocket,
        peer: String,
        directory: TargetDirectory,
        journal: CommitJournal,
        transfers: TransferClaims,
        sessions: ReceiverSessions,
        descriptors: DescriptorBudget,
        partials: PartialsCap,
        options: ReceiverOptions,
        admission: Receiver.Admission,
        log: @escaping @Sendable (ReceiverEvent) -> Void
    ) {
        self.socket = socket
        self.directory = directory
        self.journal = journal
        self.transfers = transfers
        self.sessions = sessions
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
            var made = Committer(
                directory: directory,
                syncHandle: try directory.openSyncHandle(),
                umask: options.effectiveUmask
            )
            made.keepsCommittedFilesOpen = options.consumer != nil
            committer = made
        } catch {
            end(.fatal(.internalError, "cannot open the target directory: \(error.reason)"), committer: nil)
            return summary
        }
        do {
            try converse(committer)
            try commitPending(committer)
            syncJournal()
            // A first connection's session ends with it; a joined one gives its place back.
            endSession()
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

    func converse(_ committer: Committer) throws {
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
                    let assembly = blocks
                    blocks = nil
                    // sourceUnreadable: the source changed or vanished; its ID will never be
                    // offered again, so its partial could never be resumed (SPEC.md §11).
                    keepPartial(incoming, resumable: cancel.code != .sourceUnreadable, assembly: assembly)
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
            case .join(let request):
                try join(request)
            case .startBlock(let start):
                try startBlock(start)
            case .storeBlock(let bytes):
                try storeBlock(bytes)
            case .endBlock(let block):
                try endBlock(block)
            case .finishBlocks(let end):
                try finishBlocks(end, committer)
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

}
