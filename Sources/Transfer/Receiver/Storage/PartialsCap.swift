import Synchronization

/// Keeps the partial files of interrupted transfers (in `.xfer`) within their cap, and
/// makes them give way to new transfers: they are a cache for resumes, never a reason to
/// refuse a sender.
///
/// The cap is enforced the moment a partial is kept (a connection cut, a stream
/// cancelled), not only every few seconds: a peer that cuts transfers in a loop cannot
/// pile partials up between two expiries. Partials being written (their lock held) are
/// never removed.
final class PartialsCap: Sendable {
    private let directory: TargetDirectory
    /// Bytes all partials may hold together.
    let limit: UInt64
    /// Seconds a partial is kept at most.
    let retention: Double
    /// One trim at a time: two would list and remove the same files.
    private let trimming = Mutex(())

    init(directory: TargetDirectory, limit: UInt64, retention: Double) {
        self.directory = directory
        self.limit = limit
        self.retention = retention
    }

    /// Removes expired partials, then the oldest while all hold more than the cap.
    /// - Returns: The partials removed.
    @discardableResult
    func enforce() -> [KeptPartial] {
        trimming.withLock { _ in directory.expirePartials(maximumAge: retention, maximumBytes: limit) }
    }

    /// Removes the oldest partials not being written, other than `except`, until `needed`
    /// more bytes are free on the target's file system or none is left to remove.
    /// - Returns: The partials removed.
    func makeRoom(for needed: UInt64, except: String) -> [KeptPartial] {
        trimming.withLock { _ in
            var removed: [KeptPartial] = []
            for partial in directory.partials() where partial.name != except {
                if let free = directory.freeBytes(), free >= needed { break }
                if directory.removePartialIfIdle(partial.name) { removed.append(partial) }
            }
            return removed
        }
    }
}
