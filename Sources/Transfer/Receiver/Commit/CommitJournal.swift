import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's memory of committed transfers (SPEC.md §11), so that a sender that lost
/// an ACK with its connection is told "already committed" instead of sending again.
///
/// Kept on disk, never loaded whole: memory and start-up time do not grow with the number
/// of commits. Entries live in bucket files `.xfer/commits/P.log`, where `P` is a prefix
/// of one to three hexadecimal digits of the transfer ID; one line per commit:
/// `ID LENGTH DIGEST DEVICE INODE CTIME_S CTIME_NS MTIME_S MTIME_NS COMMITTED_AT NAME`
/// (hex ID and digest, decimal numbers).
///
/// The buckets grow with the journal, like a trie: it starts as (at most) 16 one-digit
/// buckets, and a bucket that an append takes past ``bucketLimit`` bytes is compacted
/// (only the newest line of each ID, nothing older than the retention) and, if that is
/// still more than three quarters of the limit, split into the 16 buckets one digit deeper.
/// Three-digit buckets are not split: they drop their oldest lines instead. So a first
/// transfer of 10,000 files creates 16 bucket files, not thousands (each file creation is
/// an inode allocation, the costliest step of receiving a small file), and a lookup still
/// reads one bucket of at most ``bucketLimit`` bytes, however many commits are remembered.
///
/// Which prefixes are split is known from the file names (a bucket `abc.log` means `a` and
/// `ab` were split), listed once at start. A split writes the deeper buckets (each synced,
/// then renamed into place), syncs the directory and only then removes the split bucket; a
/// crash in between leaves the old bucket beside the new ones, and the next start moves its
/// lines into them, in front of theirs (they are older).
///
/// The identity fields bind an entry to the file the commit produced: a file replaced or
/// edited since (another inode, size, change or modification time) is not "committed".
/// A line in any other form (torn by a crash, or from an older xfer) is skipped:
/// forgetting a commit only means that it is sent again.
final class CommitJournal: Sendable {
    /// One remembered commit.
    struct Entry: Sendable, Equatable {
        var length: UInt64
        var digest: UInt64
        var name: String
        var identity: FileIdentity
        /// When it was committed (seconds since 1970), for expiry.
        var committedAt: Int = 0
    }

    /// A bucket is compacted (and, above three digits, split) when an append takes it past
    /// this many bytes.
    static let bucketLimit = 256 << 10

    /// The longest bucket prefix, in hexadecimal digits (4096 buckets at most).
    static let deepest = 3

    /// The most of a bucket ever read: one batch's append can take a bucket past the limit
    /// by up to its lines (a name may be 4096 bytes), before the compaction that follows.
    static let readLimit = 16 << 20

    /// What the lock guards.
    struct State {
        /// Prefixes whose bucket was split: their IDs live one digit deeper.
        var split: Set<String> = []
        /// Split prefixes whose bucket file is still there (a split that a crash or an
        /// error interrupted): lookups read them too, before the deeper bucket.
        var leftovers: Set<String> = []
        /// Whether `commits`' name in `.xfer` (and `.xfer`'s in the target) was synced: the
        /// lines must be found after a power loss. Done at the first ``syncRecorded()``,
        /// and again until it succeeds.
        var placeDurable = false
        /// Buckets appended to since the last ``syncRecorded()``.
        var unsynced: Set<String> = []
        /// Whether a bucket was created since then (its name is in `commits`, unsynced).
        var namesUnsynced = false
    }

    /// `.xfer/commits`; used only with `state`'s lock held.
    nonisolated(unsafe) let directory: FileDescriptor
    /// The target, whose `.xfer` holds `commits`.
    private let target: TargetDirectory
    let retention: Double
    /// The lock also serialises every bucket file's reads, appends, compactions and splits.
    private let state: Mutex<State>

    /// The journal of commits a consumer accepted: one per command (`commits-exec-` and the
    /// XXH64 of its bytes), so a file committed without `--exec`, or handed to another
    /// command, is not "already committed" for this one: it is received and handed over.
    static func journalName(consumer: StreamConsumer) -> String {
        var digest = StreamDigest()
        digest.update(Array(consumer.command.utf8))
        return "commits-exec-" + hex16(digest.value)
    }

    /// Opens (creating it) `.xfer/<name>` (`commits` unless said), learns which buckets are
    /// split from the names there, and finishes any split that was interrupted.
    /// - Parameters:
    ///   - retention: Seconds an entry is kept at least (compaction drops older).
    ///   - name: The journal's directory in `.xfer`: `commits`, or one of a consumer's own
    ///     (``journalName(consumer:)``).
    init(directory: TargetDirectory, retention: Double = 30 * 86400, name: String = "commits") throws(TransferError) {
        do throws(SystemError) {
            try directory.state.makeDirectory(name, mode: 0o700, allowingExisting: true)
        } catch {
            throw .localIO("cannot create '\(directory.path)/.xfer/\(name)': \(error.reason)")
        }
        let commits: FileDescriptor
        do {
            commits = try FileDescriptor.open(
                name,
                in: directory.state,
                flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW
            )
        } catch {
            throw .localIO("cannot open '\(directory.path)/.xfer/\(name)': \(error.reason)")
        }
        var state = State()
        var buckets: Set<String> = []
        for bytes in commits.entryNames() {
            guard let name = String(validating: bytes, as: UTF8.self) else { continue }
            if name.hasSuffix(".log.new") {
                // A compaction or split that never reached its rename: the old bucket stands.
                _ = try? commits.removeEntry(name)
            } else if let prefix = CommitJournal.prefix(ofBucket: name) {
                buckets.insert(prefix)
                for length in 1..<prefix.count { state.split.insert(String(prefix.prefix(length))) }
            }
        }
        state.leftovers = buckets.intersection(state.split)
        self.directory = commits
        self.target = directory
        self.retention = retention

        self.state = Mutex(state)
        // Deepest first: a deeper leftover's lines are newer than a shallower one's.
        self.state.withLock { state in
            for prefix in state.leftovers.sorted(by: { $0.count > $1.count }) {
                try? finishSplit(prefix, &state, now: Int(time(nil)))
            }
        }
    }

    /// The newest commit remembered for `id`, if any.
    func entry(for id: TransferID) -> Entry? {
        let hex = "\(id)"
        return state.withLock { state in
            let bucket = CommitJournal.bucket(of: hex, state.split)
            // Shallow to deep: a later line is newer.
            let path = (1..<bucket.count).map { String(hex.prefix($0)) }.filter(state.leftovers.contains) + [bucket]
            var found: Entry?
            for prefix in path {
                if let entry = newestLine(of: hex, in: prefix) { found = entry }
            }
            return found
        }
    }

    /// Records a batch of commits: one append per bucket touched.
    /// - Returns: The first error, if an append failed (the commits stand; only the memory
    ///   of them is lost, so a retry sends them again).
    @discardableResult
    func record(_ batch: [(TransferID, Entry)]) -> SystemError? {
        guard !batch.isEmpty else { return nil }
        let now = Int(time(nil))
        return state.withLock { state -> SystemError? in
            var byBucket: [String: [UInt8]] = [:]
            for (id, entry) in batch {
                var entry = entry
                entry.committedAt = now
                byBucket[CommitJournal.bucket(of: "\(id)", state.split), default: []] += CommitJournal.line(id, entry)
            }
            var firstError: SystemError?
            for (bucket, bytes) in byBucket.sorted(by: { $0.key < $1.key }) {
                do throws(SystemError) {
                    let size = try append(bytes, to: bucket, &state)
                    if size > CommitJournal.bucketLimit { try compact(bucket, &state, now: now) }
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
            return firstError
        }
    }

    /// Makes the lines recorded since the last call durable: `fdatasync` of each bucket
    /// appended to, `fsync` of `commits` when a bucket is new, and once per process the
    /// names of `commits` and `.xfer` (SPEC.md §7.3).
    ///
    /// Not before each ACK: a line lost to a power loss only means that a sender who also
    /// lost the ACK sends the file again, so the receiver syncs the journal when a
    /// connection ends (where an ACK can be lost), once for all its batches rather than up
    /// to 16 `fdatasync`s per batch (10,000 small files were 1.36 times slower so).
    /// - Returns: The first error; what failed is tried again at the next call.
    @discardableResult
    func syncRecorded() -> SystemError? {
        state.withLock { state -> SystemError? in
            var firstError: SystemError?
            if !state.placeDurable {
                do throws(SystemError) {
                    try target.syncStateDirectory()
                    state.placeDurable = true
                } catch {
                    firstError = error
                }
            }
            for prefix in state.unsynced.sorted() {
                let name = CommitJournal.file(prefix)
                do throws(SystemError) {
                    // A bucket compacted or split away since needs nothing (its replacement
                    // was synced when written).
                    guard
                        let file = try? FileDescriptor.openRegularFile(
                            name,
                            in: directory,
                            flags: O_RDONLY | O_NOFOLLOW
                        )
                    else {
                        state.unsynced.remove(prefix)
                        continue
                    }
                    try SystemError.naming(name) { () throws(SystemError) in try file.syncData() }
                    state.unsynced.remove(prefix)
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
            if state.namesUnsynced {
                do throws(SystemError) {
                    try directory.sync()
                    state.namesUnsynced = false
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
            return firstError
        }
    }

}
