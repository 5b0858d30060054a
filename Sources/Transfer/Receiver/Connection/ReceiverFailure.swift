import Framing

/// A failure on the receiver's side, to be sent to the peer as an ERROR or a refusing
/// ANSWER with `code` and `message` (SPEC.md §8).
///
/// Distinct from ``TransferError/refused(code:message:)``, which is what a *sender* learns
/// when the receiver refused: the receiver's own decisions are not the peer refusing.
struct ReceiverFailure: Error, Equatable, Sendable {
    /// The wire code for the peer.
    var code: ErrorCode
    /// The reason, for the peer and the receiver's log.
    var message: String

    /// A failure with `code` and `message`.
    init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The failure a check of the target directory or a name reported (those checks throw
    /// ``TransferError``, shared with the sender's side).
    init(_ error: TransferError) {
        if case .refused(let code, let message) = error {
            self.init(code, message)
        } else {
            self.init(error.wireCode, "\(error)")
        }
    }

    /// The receiver log's text for a refusal: the code, its number and the message
    /// (`refused 'x': busy (code 13): …`), in the receiver's words: it refused, nobody
    /// refused it.
    var logText: String {
        "\(code) (code \(code.rawValue)): \(message)"
    }
}
