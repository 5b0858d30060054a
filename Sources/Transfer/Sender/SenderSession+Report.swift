import Framing

// The SendReport a SenderSession ends with: every stream's outcome and the connection's.
extension SenderSession {
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
}
