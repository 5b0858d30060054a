import Framing
import Synchronization

/// The transfer IDs being received right now, by any connection of one receiver: a claim
/// makes sure two senders of one transfer never write one partial file at once.
///
/// Apart from the ``CommitJournal`` on purpose: every offer claims and every stream's end
/// releases, and those must never wait behind another connection's bucket read, append or
/// `fsync`, which hold the journal's lock. This lock guards one set and nothing else.
final class TransferClaims: Sendable {
    private let active = Mutex<Set<TransferID>>([])

    /// No claims.
    init() {}

    /// Marks `id` as being received.
    ///
    /// - Returns: false when another connection already receives it.
    func claim(_ id: TransferID) -> Bool {
        active.withLock { $0.insert(id).inserted }
    }

    /// Ends a ``claim(_:)``.
    func release(_ id: TransferID) {
        _ = active.withLock { $0.remove(id) }
    }
}
