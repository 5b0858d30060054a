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
/// ```
///
/// Ignorable records (KEEPALIVE, unknown kinds 0x80–0xFF) are skipped anywhere between the
/// preamble and GOODBYE, before HELLO too (SPEC.md §4).
///
/// Two kinds of failure: a stream's (the connection answers with a non-fatal ERROR and
/// calls ``streamFailed()``) and the connection's (``Action/fail(_:_:)``: a fatal ERROR).
struct ReceiverStateMachine {
    /// Where the conversation is.
    enum State: Equatable {
        case awaitingPreamble
        case awaitingHello
        /// With a key: WELCOME and the server's AUTH are sent; only the client's AUTH may come.
        case awaitingAuth
        case idle
        /// DATA and END belong to this accepted stream.
        case receiving(TransferID)
        /// This offer's DATA is dropped up to its END or CANCEL (refused, or failed).
        case discarding(TransferID)
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
        /// Store DATA of the accepted stream.
        case store(ArraySlice<UInt8>)
        /// Nothing to do (dropped DATA, KEEPALIVE, an unknown ignorable record).
        case ignore
        /// Verify and queue the accepted stream for commit.
        case finish(End)
        /// Keep or drop the accepted stream's partial file.
        case cancel(Cancel)
        /// The sender closed a declined offer with CANCEL `sourceUnreadable`: its source
        /// changed, so a partial kept for that ID can never be resumed (SPEC.md §11).
        case dropPartial(TransferID)
        /// A non-fatal ERROR from the sender, to log.
        case peerError(ErrorRecord)
        /// A fatal ERROR from the sender: it is going away.
        case peerFailed(ErrorRecord)
        /// Commit what is pending, send GOODBYE, read until the client closes.
        case goodbye
        /// A connection error: fatal ERROR with this code (only if ``greeted``), then close.
        case fail(ErrorCode, String)
    }

    /// The current state.
    private(set) var state: State = .awaitingPreamble

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
        case (.idle, .offer(let offer)):
            state = .receiving(offer.transferID)
            return .offer(offer)
        case (.idle, .goodbye):
            state = .closed
            return .goodbye
        case (.idle, .data), (.idle, .end), (.idle, .cancel):
            return fail(.protocolViolation, "\(record.kind) without an OFFER")
        case (.receiving, .data(let bytes)):
            return .store(bytes)
        case (.receiving, .end(let end)):
            state = .idle
            return .finish(end)
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
        guard state == .receiving(offer.transferID) else { return }
        state = offer.awaitAnswer ? .idle : .discarding(offer.transferID)
    }

    /// The client's proof held: the conversation proper begins.
    mutating func authenticated() {
        guard state == .awaitingAuth else { return }
        state = .idle
    }

    /// The accepted stream failed (non-fatal ERROR sent): drop the rest of it.
    mutating func streamFailed() {
        guard case .receiving(let id) = state else { return }
        state = .discarding(id)
    }

    private mutating func fail(_ code: ErrorCode, _ message: String) -> Action {
        state = .closed
        return .fail(code, message)
    }
}
