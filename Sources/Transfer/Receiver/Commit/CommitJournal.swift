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
    private struct State {
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
    private nonisolated(unsafe) let directory: FileDescriptor
    /// The target, whose `.xfer` holds `commits`.
    private let target: TargetDirectory
    private let retention: Double
    /// The lock also serialises every bucket file's reads, appends, compactions and splits.
    private let state: Mutex<State>

    /// Opens (creating it) `.xfer/commits`, learns which buckets are split from the names
    /// there, and finishes any split that was interrupted.
    /// - Parameter retention: Seconds an entry is kept at least (compaction drops older).
    init(directory: TargetDirectory, retention: Double = 30 * 86400) throws(TransferError) {
        if mkdirat(directory.state.rawValue, "commits", 0o700) != 0 && errno != EEXIST {
            throw .localIO("cannot create '\(directory.path)/.xfer/commits': \(SystemError("mkdir").reason)")
        }
        let commits: FileDescriptor
        do {
            commits = try FileDescriptor.open(
                "commits",
                in: directory.state,
                flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW
            )
        } catch {
            throw .localIO("cannot open '\(directory.path)/.xfer/commits': \(error.reason)")
        }
        var state = State()
        var buckets: Set<String> = []
        for bytes in commits.entryNames() {
            guard let name = String(validating: bytes, as: UTF8.self) else { continue }
            if name.hasSuffix(".log.new") {
                // A compaction or split that never reached its rename: the old bucket stands.
                _ = unlinkat(commits.rawValue, name, 0)
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
                    guard let file = try? FileDescriptor.open(name, in: directory, flags: O_RDONLY | O_NOFOLLOW)
                    else {
                        state.unsynced.remove(prefix)
                        continue
                    }
                    try retryingInterrupts("fdatasync", name) { fdatasync(file.rawValue) }
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

    // MARK: Buckets (lock held)

    /// The bucket prefix `hex` (an ID's digits) is recorded under: the shortest prefix that
    /// is not split.
    private static func bucket(of hex: String, _ split: Set<String>) -> String {
        var length = 1
        while length < CommitJournal.deepest && split.contains(String(hex.prefix(length))) { length += 1 }
        return String(hex.prefix(length))
    }

    /// The prefix of a bucket file's name (`ab.log` → `ab`), or nil for any other name.
    private static func prefix(ofBucket name: String) -> String? {
        guard name.hasSuffix(".log") else { return nil }
        let prefix = name.dropLast(4)
        guard (1...CommitJournal.deepest).contains(prefix.count),
            prefix.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        return String(prefix)
    }

    private static func file(_ prefix: String) -> String { prefix + ".log" }

    private static func line(_ id: TransferID, _ entry: Entry) -> [UInt8] {
        let identity = entry.identity
        var text = "\(id) \(entry.length) \(String(entry.digest, radix: 16)) \(identity.device) \(identity.inode) "
        text += "\(identity.changeSeconds) \(identity.changeNanoseconds) "
        text += "\(identity.modificationSeconds) \(identity.modificationNanoseconds) \(entry.committedAt) "
        text += "\(entry.name)\n"
        return Array(text.utf8)
    }

    private static func parse(_ line: ArraySlice<UInt8>) -> (TransferID, Entry)? {
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 10, omittingEmptySubsequences: false)
        guard fields.count == 11 else { return nil }
        let text = fields[..<10].map { String(decoding: $0, as: UTF8.self) }
        guard let id = TransferID(hex: text[0]), let length = UInt64(text[1]),
            let digest = UInt64(text[2], radix: 16), let device = UInt64(text[3]), let inode = UInt64(text[4]),
            let ctime = Int(text[5]), let ctimeNanoseconds = Int(text[6]), let mtime = Int(text[7]),
            let mtimeNanoseconds = Int(text[8]), let committedAt = Int(text[9]),
            let name = String(validating: fields[10], as: UTF8.self), !name.isEmpty
        else { return nil }
        let identity = FileIdentity(
            device: device,
            inode: inode,
            size: length,
            changeSeconds: ctime,
            changeNanoseconds: ctimeNanoseconds,
            modificationSeconds: mtime,
            modificationNanoseconds: mtimeNanoseconds
        )
        return (id, Entry(length: length, digest: digest, name: name, identity: identity, committedAt: committedAt))
    }

    /// The bytes of a bucket; empty when there is none.
    /// - Throws: When it exists but cannot be read whole (no descriptor left, an I/O error,
    ///   over ``readLimit``): a compaction or split must never take that for "empty" and
    ///   write the bucket's commits away.
    private func contents(of prefix: String) throws(SystemError) -> [UInt8] {
        let name = CommitJournal.file(prefix)
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(name, in: directory, flags: O_RDONLY | O_NOFOLLOW)
        } catch {
            if error.errno == ENOENT { return [] }
            throw error
        }
        let bytes = try file.readAll(limit: CommitJournal.readLimit + 1)
        guard bytes.count <= CommitJournal.readLimit else { throw SystemError("read", name, errno: EFBIG) }
        return bytes
    }

    /// Calls `body` with the range of each complete line in `raw` (a torn last line, with
    /// no newline, is left out). Found with memchr: a bucket of 256 KiB is scanned in
    /// microseconds, so a sender re-offering thousands of committed files is answered at
    /// network speed.
    private static func forEachLine(in raw: UnsafeRawBufferPointer, _ body: (Range<Int>) -> Void) {
        guard let base = raw.baseAddress else { return }
        var start = 0
        while start < raw.count, let newline = memchr(base + start, 0x0A, raw.count - start) {
            let end = base.distance(to: UnsafeRawPointer(newline))
            body(start..<end)
            start = end + 1
        }
    }

    /// The complete lines of `bytes`.
    private static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBytes { raw in forEachLine(in: raw) { ranges.append($0) } }
        return ranges.map { bytes[$0] }
    }

    /// The well-formed lines of a bucket, oldest first; malformed ones are skipped.
    private func entries(of prefix: String) throws(SystemError) -> [(TransferID, Entry)] {
        CommitJournal.lines(try contents(of: prefix)).compactMap(CommitJournal.parse)
    }

    /// The newest well-formed line of `hex` in a bucket. Only lines that start with the ID
    /// are parsed: a lookup costs a scan of one bucket, not the parsing of every line.
    private func newestLine(of hex: String, in prefix: String) -> Entry? {
        let key = Array(hex.utf8) + [UInt8(ascii: " ")]
        // A bucket that cannot be read answers "not remembered": the stream is sent again.
        guard let bytes = try? contents(of: prefix) else { return nil }
        var matches: [Range<Int>] = []
        bytes.withUnsafeBytes { raw in
            CommitJournal.forEachLine(in: raw) { line in
                if line.count > key.count && memcmp(raw.baseAddress! + line.lowerBound, key, key.count) == 0 {
                    matches.append(line)
                }
            }
        }
        return matches.reversed().lazy.compactMap { CommitJournal.parse(bytes[$0])?.1 }.first
    }

    /// Appends whole lines to a bucket (O_APPEND, short writes continued), noting it (and a
    /// new bucket's name) for ``syncRecorded()``. Returns its size.
    private func append(_ bytes: [UInt8], to prefix: String, _ state: inout State) throws(SystemError) -> Int {
        let name = CommitJournal.file(prefix)
        let existing = try? FileDescriptor.open(name, in: directory, flags: O_RDWR | O_APPEND | O_NOFOLLOW)
        let file: FileDescriptor
        if let existing {
            file = existing
        } else {
            file = try FileDescriptor.open(
                name,
                in: directory,
                flags: O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW,
                mode: 0o600
            )
        }
        defer { file.close() }
        // A crash may have left a torn last line: start ours on a line of its own.
        let size = Int(try file.status().st_size)
        var last: UInt8 = 0x0A
        if size > 0 { _ = pread(file.rawValue, &last, 1, off_t(size - 1)) }
        if existing == nil { state.namesUnsynced = true }
        state.unsynced.insert(prefix)
        try file.writeAll(last == 0x0A ? bytes : [0x0A] + bytes)
        return Int(try file.status().st_size)
    }

    /// The newest line of each ID among `entries` (oldest first) that is not expired,
    /// newest first.
    private func newestUnexpired(_ entries: [(TransferID, Entry)], now: Int) -> [(TransferID, Entry)] {
        var newest: [TransferID: Entry] = [:]
        for (id, entry) in entries { newest[id] = entry }
        let cutoff = now - Int(retention)
        return newest.filter { $0.value.committedAt >= cutoff }.sorted { $0.value.committedAt > $1.value.committedAt }
            .map { ($0.key, $0.value) }
    }

    /// Brings a bucket that grew past the limit back under three quarters of it: the newest
    /// line per ID, no expired lines; then a split if it is still too big and may be split,
    /// else the oldest lines dropped.
    private func compact(_ prefix: String, _ state: inout State, now: Int) throws(SystemError) {
        let candidates = newestUnexpired(try entries(of: prefix), now: now)
        let room = CommitJournal.bucketLimit * 3 / 4
        var chosen: [(TransferID, Entry)] = []
        var size = 0
        for (id, entry) in candidates {
            size += CommitJournal.line(id, entry).count
            if size > room { break }
            chosen.append((id, entry))
        }
        if chosen.count < candidates.count && prefix.count < CommitJournal.deepest {
            state.split.insert(prefix)
            state.leftovers.insert(prefix)
            return try finishSplit(prefix, &state, now: now)
        }
        try replace(prefix, with: chosen.reversed().flatMap { CommitJournal.line($0.0, $0.1) })
    }

    /// Moves the lines of split bucket `prefix` into the deeper buckets, in front of any
    /// lines those already hold (theirs are newer), then removes it.
    private func finishSplit(_ prefix: String, _ state: inout State, now: Int) throws(SystemError) {
        var moved: [String: [UInt8]] = [:]
        for (id, entry) in newestUnexpired(try entries(of: prefix), now: now).reversed() {
            moved[CommitJournal.bucket(of: "\(id)", state.split), default: []] += CommitJournal.line(id, entry)
        }
        for (deeper, bytes) in moved.sorted(by: { $0.key < $1.key }) {
            try replace(deeper, with: bytes + CommitJournal.lines(try contents(of: deeper)).flatMap { $0 + [0x0A] })
        }
        // The deeper buckets' names must be durable before the only other copy goes.
        try directory.sync()
        try retryingInterrupts("unlink", CommitJournal.file(prefix)) {
            unlinkat(directory.rawValue, CommitJournal.file(prefix), 0)
        }
        state.leftovers.remove(prefix)
    }

    /// Replaces a bucket's contents atomically: a synced `.new` file renamed over it.
    private func replace(_ prefix: String, with bytes: [UInt8]) throws(SystemError) {
        let name = CommitJournal.file(prefix)
        let temporary = name + ".new"
        let file = try FileDescriptor.open(
            temporary,
            in: directory,
            flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
            mode: 0o600
        )
        try file.writeAll(bytes)
        try file.sync()
        file.close()
        try retryingInterrupts("rename", name) { renameat(directory.rawValue, temporary, directory.rawValue, name) }
    }
}

extension TransferID {
    /// Parses 32 hexadecimal digits.
    init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 32, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        self.init(bytes: bytes)
    }
}
