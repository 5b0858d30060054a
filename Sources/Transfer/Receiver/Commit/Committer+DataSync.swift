import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// Step 1 of a Committer's commit: the batch's data made durable, file by file or with one syncfs.
extension Committer {
    /// Step 1: makes the batch's data durable; records a failure for each stream it could not.
    func syncData(_ batch: [VerifiedStream], into outcomes: inout [CommitOutcome?]) {
        func failed(_ stream: VerifiedStream, _ error: SystemError) -> CommitOutcome {
            .failed(
                error.isNoSpace ? .noSpace : .ioError,
                "cannot sync '\(stream.name.text)': \(error)",
                keptPartial: false
            )
        }
        // syncfs flushes the whole file system, other users' data too: worth it for a large
        // batch, not for a few files, and never more often than every 50 ms in the process,
        // however many peers pause after a file or two (an fsync storm).
        // Nor where syncfs is no data barrier (FUSE, network file systems: FileSystemType).
        if batch.count < Committer.smallBatch || !directory.syncfsIsBarrier || !Committer.syncfsAllowed() {
            for (index, stream) in batch.enumerated() {
                do {
                    try system.syncFile(stream.partial.file)
                } catch {
                    outcomes[index] = failed(stream, error)
                }
            }
            return
        }
        do {
            try system.syncFileSystem(syncHandle)
        } catch {
            for index in batch.indices { outcomes[index] = failed(batch[index], error) }
            return
        }
        for (index, stream) in batch.enumerated() {
            do {
                try system.waitWriteback(stream.partial.file)
            } catch {
                outcomes[index] = failed(stream, error)
            }
        }
    }

    /// Batches smaller than this are synced file by file.
    static let smallBatch = 8

    /// When the process last ran syncfs (monotonic seconds).
    private static let lastSyncfs = Mutex(-Double.infinity)

    /// Whether a syncfs may run now (at most one per 50 ms in the process); claims it if so.
    static func syncfsAllowed() -> Bool {
        let now = monotonicSeconds()
        return lastSyncfs.withLock { last in
            guard now - last >= 0.05 else { return false }
            last = now
            return true
        }
    }
}
