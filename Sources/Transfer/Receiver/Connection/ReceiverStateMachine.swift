import Framing

/// The receiver's side of the conversation (SPEC.md §7.3) as a value: messages in, actions
/// out. It knows nothing of sockets or files, so every rule of the conversation can be
/// tested on its own; ``ReceiverConnection`` carries the actions out.
///
/// ```
/// awaitingPreamble ─preamble→ awaitingHello ─HELLO→ idle      (with a key: ─HELLO→ awaitingAuth ─AUTH→ idle)
/// idle ─OFFER→ receiving ─END/CANCEL→ idle        (declined: discarding, or idle with awaitAnswer)
/// receiving ─stream failed→ discarding ─END/CANCEL→ idle
/// idle ─GOODBYE→ closed
/// idle ─OFFER blocks→ assembling ─END/CANCEL→ idle      (blocks inside: BLOCK DATA* BLOCKEND)
/// idle ─JOIN (first record)→ joined ─GOODBYE→ closed    (blocks inside, nothing else)
/// ```
///
/// Ignorable records (KEEPALIVE, unknown kinds 0x80–0xFF) are skipped anywhere between the
/// preamble and GOODBYE, before HELLO too (SPEC.md §4).
///
/// Two kinds of failure: a stream's (``Action/streamError(_:_:)``, or the connection's own
/// failure to write, reported by ``streamFailed()``: a non-fatal ERROR for that transfer)
/// and the connection's (``Action/fail(_:_:)``: a fatal ERROR).
///
/// The accepted stream carries its accounting (``IncomingStream``): the rules that decide
/// the promise — no DATA past the declared size, an END whose length and digest match what
/// arrived — are here, each a unit test with no socket or file.
struct ReceiverStateMachine {
    /// What the machine counts of the accepted stream.
    struct IncomingStream: Equatable {
        let id: TransferID
        /// The OFFER's size; `nil` for a stream of unknown length.
        let declaredSize: UInt64?
        /// Bytes of the stream so far, a resumed stream's kept prefix included.
        private(set) var received: UInt64 = 0
        /// XXH64 of those bytes (SPEC.md §10).
        private(set) var digest = StreamDigest()

        init(_ offer: Offer) {
            id = offer.transferID
            declaredSize = offer.size
        }

        /// Continues from a kept prefix of `length` bytes whose digest is `digest`.
        mutating func resume(from length: UInt64, digest: StreamDigest) {
            received = length
            self.digest = digest
        }

        /// Counts `bytes`, or says why they break the offer.
        mutating func count(_ bytes: ArraySlice<UInt8>) -> String? {
            if let size = declaredSize, UInt64(bytes.count) > size - received {
                return "more than the declared \(size) bytes arrived"
            }
            received += UInt64(bytes.count)
            digest.update(bytes)
            return nil
        }

        /// Why `end` does not close this stream as it arrived, or nil when it does.
        func verify(_ end: End) -> (ErrorCode, String)? {
            if end.totalLength != received || (declaredSize.map { $0 != received } ?? false) {
                let declared = declaredSize.map { ", OFFER declared \($0)" } ?? ""
                return (.lengthMismatch, "END says \(end.totalLength) bytes, \(received) arrived\(declared)")
            }
            if end.digest != digest.value {
                return (
                    .digestMismatch,
                    "digest mismatch: END says \(hex16(end.digest)), received bytes give \(hex16(digest.value))"
                )
            }
            return nil
        }

        static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.id == rhs.id && lhs.declaredSize == rhs.declaredSize && lhs.received == rhs.received
                && lhs.digest.value == rhs.digest.value
        }
    }

    /// The block being received on this connection (SPEC.md §16): its accounting.
    struct IncomingBlock: Equatable {
        let id: TransferID
        let index: UInt32
        let length: UInt64
        /// What becomes of its bytes.
        enum Mode: Equatable {
            /// Written at the block's place in the partial file.
            case write
            /// Held already: read and dropped; acknowledged if its digest is the held one's.
            case duplicate
            /// Of an offer no longer open: read and dropped, never acknowledged.
            case drop
        }
        var mode: Mode
        private(set) var received: UInt64 = 0
        private(set) var digest = StreamDigest()

        init(id: TransferID, index: UInt32, length: UInt64, mode: Mode) {
            self.id = id
            self.index = index
            self.length = length
            self.mode = mode
        }

        /// Counts `bytes`; false when they run past the block's length.
        mutating func count(_ bytes: ArraySlice<UInt8>) -> Bool {
            guard UInt64(bytes.count) <= length - received else { return false }
            received += UInt64(bytes.count)
            digest.update(bytes)
            return true
        }

        static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.id == rhs.id && lhs.index == rhs.index && lhs.received == rhs.received
                && lhs.digest.value == rhs.digest.value
        }
    }

    /// Where the conversation is.
    enum State: Equatable {
        case awaitingPreamble
        case awaitingHello
        /// With a key: WELCOME and the server's AUTH are sent; only the client's AUTH may come.
        case awaitingAuth
        case idle
        /// DATA and END belong to this offered (then accepted) stream.
        case receiving(IncomingStream)
        /// This offer's DATA is dropped up to its END or CANCEL (refused, or failed).
        case discarding(TransferID)
        /// A `blocks` offer is open (accepted): its blocks, then its END or CANCEL.
        case assembling(TransferID)
        /// A further connection of a session: blocks only, then GOODBYE (SPEC.md §16).
        case joined
        /// The client said GOODBYE.
        case closed
    }

    /// What the connection must do with the message just read.
    enum Action: Equatable {
        /// Send our preamble.
        case greet
        /// Send our preamble, then fail with `unsupportedVersion`: the client may reconnect
        /// speaking our version.
        case greetAndRefuse(version: UInt16)
        /// Send WELCOME (and with a key, the server's nonce and AUTH); the HELLO is passed on
        /// for the transcript.
        case welcome(Hello)
        /// Verify the client's proof; call ``authenticated()`` if it holds.
        case authenticate
        /// Decide on the offer; the machine now expects its stream, unless the connection
        /// calls ``declined(_:)``.
        case offer(Offer)
        /// Store DATA of the accepted stream (counted: it fits the declared size).
        case store(ArraySlice<UInt8>)
        /// The accepted stream broke its offer (DATA past its size, an END that does not
        /// match what arrived): a non-fatal ERROR for it, its partial dropped; the rest of
        /// it is discarded.
        case streamError(ErrorCode, String)
        /// Nothing to do (dropped DATA, KEEPALIVE, an unknown ignorable record).
        case ignore
        /// The accepted stream arrived whole (`length` bytes, XXH64 `digest`, both as END
        /// says): queue it for commit.
        case finish(length: UInt64, digest: UInt64)
        /// Keep or drop the accepted stream's partial file.
        case cancel(Cancel)
        /// The sender closed a declined offer with CANCEL `sourceUnreadable`: its source
        /// changed, so a partial kept for that ID can never be resumed (SPEC.md §11).
        case dropPartial(TransferID)
        /// A non-fatal ERROR from the sender, to log.
        case peerError(ErrorRecord)
        /// A fatal ERROR from the sender: it is going away.
        case peerFailed(ErrorRecord)
        /// A further connection asks to join a session: check it, or fail `unauthenticated`.
        case join(Join)
        /// A block starts: claim it in its offer's assembly, then ``openBlock(_:)`` or fail.
        case startBlock(BlockStart)
        /// Bytes of the open block (counted: within its length).
        case storeBlock(ArraySlice<UInt8>)
        /// The open block arrived whole and matches its BLOCKEND's digest.
        case endBlock(IncomingBlock)
        /// The open `blocks` offer's END: check every block held and the tree digest.
        case finishBlocks(End)
        /// Commit what is pending, send GOODBYE, read until the client closes.
        case goodbye
        /// A connection error: fatal ERROR with this code (only if ``greeted``), then close.
        case fail(ErrorCode, String)
    }

    /// The current state.
    private(set) var state: State = .awaitingPreamble
    /// The block being received, in `assembling` or `joined`.
    private(set) var block: IncomingBlock?
    /// This connection was granted a session (``sessionGranted()``): it may make `blocks` offers.
    private(set) var hasSession = false
    /// Nothing but the handshake has come yet: a JOIN may come now, and only now.
    private var mayJoin = false

    /// Whether the client must prove the pre-shared key before anything else (SPEC.md §13).
    let requiresAuthentication: Bool

    /// A machine for a new connection.
    init(requiresAuthentication: Bool = false) {
        self.requiresAuthentication = requiresAuthentication
    }

    /// Whether the peer sent a valid preamble, so our records (an ERROR) mean something to it.
    /// A peer that did not is not an xfer client and is closed on without a word (SPEC.md §3).
    private(set) var greeted = false

    /// Applies one message from the client.
    mutating func receive(_ message: RecordDecoder.Message) -> Action {
        let record: Record
        switch message {
        case .preamble(let preamble):
            guard state == .awaitingPreamble else { return fail(.protocolViolation, "a second preamble") }
            greeted = true
            guard preamble.version == Preamble.currentVersion else {
                state = .closed
                return .greetAndRefuse(version: preamble.version)
            }
            state = .awaitingHello
            return .greet
        case .record(let next):
            record = next
        }
        let joinable = mayJoin
        if case .keepAlive = record {} else if case .unknown = record {} else { mayJoin = false }
        if var open = block {
            switch record {
            case .keepAlive, .unknown: return .ignore
            case .error(let error) where error.fatal: return .peerFailed(error)
            case .data(let bytes):
                guard open.count(bytes) else {
                    return fail(.protocolViolation, "DATA past the \(open.length) bytes of block \(open.index)")
                }
                block = open
                return open.mode == .write ? .storeBlock(bytes) : .ignore
            case .blockEnd(let end):
                block = nil
                guard open.received == open.length else {
                    return fail(
                        .protocolViolation,
                        "BLOCKEND after \(open.received) of the \(open.length) bytes of block \(open.index)"
                    )
                }
                guard end.digest == open.digest.value else {
                    return fail(
                        .digestMismatch,
                        "block \(open.index): BLOCKEND says \(hex16(end.digest)), its bytes give \(hex16(open.digest.value))"
                    )
                }
                return .endBlock(open)
            default:
                return fail(.protocolViolation, "\(record.kind) inside block \(open.index) (before its BLOCKEND)")
            }
        }
        switch (state, record) {
        case (.awaitingPreamble, _):
            return fail(.protocolViolation, "no preamble")
        case (.closed, _):
            return fail(.protocolViolation, "\(record.kind) after GOODBYE")
        case (_, .keepAlive), (_, .unknown):
            return .ignore  // reading it reset the idle clock; that was its purpose
        case (_, .error(let error)) where error.fatal:
            return .peerFailed(error)
        case (.awaitingHello, .hello(let hello)):
            guard !requiresAuthentication || hello.parameters.nonce != nil else {
                return fail(.unauthenticated, "this receiver requires a pre-shared key (the HELLO has no nonce)")
            }
            state = requiresAuthentication ? .awaitingAuth : .idle
            mayJoin = !requiresAuthentication
            return .welcome(hello)
        case (.awaitingAuth, .auth):
            return .authenticate
        case (.awaitingAuth, _):
            return fail(.unauthenticated, "expected the client's AUTH, got \(record.kind)")
        case (.awaitingHello, _):
            return fail(.protocolViolation, "expected HELLO after the preamble, got \(record.kind)")
        case (_, .hello):
            return fail(.protocolViolation, "a second HELLO (HELLO comes once, right after the preamble)")
        case (_, .error(let error)):
            // A non-fatal ERROR names a transfer (the decoder refuses an all-zero one); from
            // the sender it is information only: streams end with END or CANCEL.
            return .peerError(error)
        case (.idle, .offer(let offer)) where offer.blocks:
            guard hasSession else {
                return fail(.protocolViolation, "a blocks OFFER on a connection that was granted no session")
            }
            state = .assembling(offer.transferID)
            return .offer(offer)
        case (.idle, .offer(let offer)):
            state = .receiving(IncomingStream(offer))
            return .offer(offer)
        case (.idle, .join(let join)):
            guard joinable && !hasSession else {
                return fail(
                    .protocolViolation,
                    "JOIN comes only as the first record after the handshake of a further connection"
                )
            }
            state = .joined
            return .join(join)
        case (.assembling(let id), .block(let start)):
            guard start.transferID == id else {
                return fail(.protocolViolation, "BLOCK of another transfer than the blocks offer open here")
            }
            return .startBlock(start)
        case (.joined, .block(let start)):
            return .startBlock(start)
        case (.assembling, .end(let end)):
            state = .idle
            return .finishBlocks(end)
        case (.assembling, .cancel(let cancel)):
            state = .idle
            return .cancel(cancel)
        case (.assembling, _):
            return fail(.protocolViolation, "\(record.kind) while a blocks offer is open (only BLOCK, END or CANCEL)")
        case (.joined, .goodbye):
            state = .closed
            return .goodbye
        case (.joined, _):
            return fail(.protocolViolation, "\(record.kind) on a joined connection (only blocks and GOODBYE)")
        case (_, .block), (_, .blockEnd):
            return fail(.protocolViolation, "\(record.kind) outside a blocks offer")
        case (_, .join):
            return fail(.protocolViolation, "JOIN comes only as the first record after the handshake")
        case (.idle, .goodbye):
            state = .closed
            return .goodbye
        case (.idle, .data), (.idle, .end), (.idle, .cancel):
            return fail(.protocolViolation, "\(record.kind) without an OFFER")
        case (.receiving(var stream), .data(let bytes)):
            if let problem = stream.count(bytes) {
                state = .discarding(stream.id)
                return .streamError(.lengthMismatch, problem)
            }
            state = .receiving(stream)
            return .store(bytes)
        case (.receiving(let stream), .end(let end)):
            state = .idle
            if let (code, problem) = stream.verify(end) { return .streamError(code, problem) }
            return .finish(length: stream.received, digest: stream.digest.value)
        case (.receiving, .cancel(let cancel)):
            state = .idle
            return .cancel(cancel)
        case (.discarding, .data):
            return .ignore
        case (.discarding(let id), .cancel(let cancel)):
            state = .idle
            return cancel.code == .sourceUnreadable ? .dropPartial(id) : .ignore
        case (.discarding, .end):
            state = .idle
            return .ignore
        case (.receiving, .offer), (.discarding, .offer):
            return fail(.protocolViolation, "OFFER before the previous stream's END or CANCEL")
        case (.receiving, .goodbye), (.discarding, .goodbye):
            return fail(.protocolViolation, "GOODBYE inside a stream")
        case (_, .auth):
            // AUTH goes both ways, but only in a handshake this receiver asked for (SPEC.md §13).
            return fail(
                .protocolViolation,
                "AUTH where none is expected (this receiver has no key, or the handshake is over)"
            )
        default:
            return fail(.protocolViolation, "\(record.kind) is sent by receivers, not senders")
        }
    }

    /// The offer just returned by ``receive(_:)`` was answered other than `accept`: its
    /// DATA, if the sender streams any, is dropped until its END or CANCEL (SPEC.md §7.2).
    mutating func declined(_ offer: Offer) {
        if case .assembling(let id) = state, id == offer.transferID {
            state = .idle  // a blocks offer always awaits its answer
            return
        }
        guard case .receiving(let stream) = state, stream.id == offer.transferID else { return }
        state = offer.awaitAnswer ? .idle : .discarding(offer.transferID)
    }

    /// This connection was granted a session: `blocks` offers may come.
    mutating func sessionGranted() {
        hasSession = true
    }

    /// The block just started (``Action/startBlock(_:)``) was claimed: its DATA and BLOCKEND follow.
    mutating func openBlock(_ incoming: IncomingBlock) {
        block = incoming
    }

    /// The open block's offer ended while it arrived: the rest of it is read and dropped.
    mutating func dropOpenBlock() {
        block?.mode = .drop
    }

    /// Another connection's copy of the open block was held first: the rest of it is read
    /// and dropped, and its BLOCKEND checked against the held digest.
    mutating func duplicateOpenBlock() {
        block?.mode = .duplicate
    }

    /// The offer was accepted as a resume: the stream continues from a kept prefix of
    /// `length` bytes whose digest is `digest` (SPEC.md §11).
    mutating func resumed(from length: UInt64, digest: StreamDigest) {
        guard case .receiving(var stream) = state else { return }
        stream.resume(from: length, digest: digest)
        state = .receiving(stream)
    }

    /// The client's proof held: the conversation proper begins.
    mutating func authenticated() {
        guard state == .awaitingAuth else { return }
        state = .idle
        mayJoin = true
    }

    /// The accepted stream failed (non-fatal ERROR sent): drop the rest of it.
    mutating func streamFailed() {
        guard case .receiving(let stream) = state else { return }
        state = .discarding(stream.id)
    }

    private mutating func fail(_ code: ErrorCode, _ message: String) -> Action {
        state = .closed
        return .fail(code, message)
    }
}
