import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's memory of committed transfers (SPEC.md §11), so that a sender that lost
/// an ACK with its connection is told "already committed" instead of sending again.
///
/// Kept on disk, never loaded whole: memory and start-up time do not grow with the number
/// of commits. Entries live in 4096 bucket files, `.xfer/commits/XXX.log`, chosen by the
/// first 12 bits of the transfer ID; one line per commit:
/// `ID LENGTH DIGEST DEVICE INODE CTIME_S CTIME_NS MTIME_S MTIME_NS COMMITTED_AT NAME`
/// (hex ID and digest, decimal numbers). A lookup reads one bucket (at most
/// ``bucketLimit`` bytes); an append that takes a bucket past that limit compacts it:
/// only the newest line of each ID is kept, lines older than the retention go, and then
/// the oldest, until it is back under three quarters of the limit.
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

    /// A bucket is compacted when an append takes it past this many bytes.
    static let bucketLimit = 256 << 10

    /// `.xfer/commits`; used only with `active`'s lock held.
    private nonisolated(unsafe) let directory: FileDescriptor
    private let retention: Double
    /// Transfers being received right now, by any connection; the lock also serialises
    /// every bucket file's reads, appends and compactions.
    private let active = Mutex(Set<TransferID>())

    /// Opens (creating it) `.xfer/commits`.
    /// - Parameter retention: Seconds an entry is kept at least (compaction drops older).
    init(directory: TargetDirectory, retention: Double = 30 * 86400) throws(TransferError) {
        if mkdirat(directory.state.rawValue, "commits", 0o700) != 0 && errno != EEXIST {
            throw .localIO("cannot create '\(directory.path)/.xfer/commits': \(SystemError("mkdir").reason)")
        }
        do {
            self.directory = try FileDescriptor.open(
                "commits",
                in: directory.state,
                flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW
            )
        } catch {
            throw .localIO("cannot open '\(directory.path)/.xfer/commits': \(error.reason)")
        }
        self.retention = retention
    }

    /// Marks `id` as being received; false when another connection already is, so two
    /// senders of the same transfer never write one partial file at once.
    func claim(_ id: TransferID) -> Bool {
        active.withLock { $0.insert(id).inserted }
    }

    /// Ends a ``claim(_:)``.
    func release(_ id: TransferID) {
        _ = active.withLock { $0.remove(id) }
    }

    /// The newest commit remembered for `id`, if any.
    func entry(for id: TransferID) -> Entry? {
        active.withLock { _ in
            var found: Entry?
            for (lineID, entry) in lines(of: CommitJournal.bucket(id)) where lineID == id { found = entry }
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
        var byBucket: [String: [UInt8]] = [:]
        for (id, entry) in batch {
            var entry = entry
            entry.committedAt = now
            byBucket[CommitJournal.bucket(id), default: []] += CommitJournal.line(id, entry)
        }
        return active.withLock { _ -> SystemError? in
            var firstError: SystemError?
            for (bucket, bytes) in byBucket.sorted(by: { $0.key < $1.key }) {
                do throws(SystemError) {
                    let size = try append(bytes, to: bucket)
                    if size > CommitJournal.bucketLimit { try compact(bucket, now: now) }
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
            return firstError
        }
    }

    // MARK: Buckets (lock held)

    private static func bucket(_ id: TransferID) -> String {
        String("\(id)".prefix(3)) + ".log"
    }

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

    /// The well-formed lines of a bucket, oldest first. A torn last line (no newline) or
    /// any malformed line is skipped; so is a bucket that cannot be read.
    private func lines(of bucket: String) -> [(TransferID, Entry)] {
        guard let file = try? FileDescriptor.open(bucket, in: directory, flags: O_RDONLY | O_NOFOLLOW),
            let bytes = try? file.readAll(limit: 2 * CommitJournal.bucketLimit)
        else { return [] }
        var result: [(TransferID, Entry)] = []
        var start = bytes.startIndex
        while let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if let parsed = CommitJournal.parse(bytes[start..<end]) { result.append(parsed) }
            start = end + 1
        }
        return result
    }

    /// Appends whole lines to a bucket (O_APPEND, short writes continued); returns its size.
    private func append(_ bytes: [UInt8], to bucket: String) throws(SystemError) -> Int {
        let file = try FileDescriptor.open(
            bucket,
            in: directory,
            flags: O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW,
            mode: 0o600
        )
        // A crash may have left a torn last line: start ours on a line of its own.
        let size = Int(try file.status().st_size)
        var last: UInt8 = 0x0A
        if size > 0 { _ = pread(file.rawValue, &last, 1, off_t(size - 1)) }
        try file.writeAll(last == 0x0A ? bytes : [0x0A] + bytes)
        return Int(try file.status().st_size)
    }

    /// Rewrites a bucket with the newest line per ID, dropping expired lines, then the
    /// oldest, until it is under three quarters of the limit; atomically (rename).
    private func compact(_ bucket: String, now: Int) throws(SystemError) {
        var newest: [TransferID: Entry] = [:]
        for (id, entry) in lines(of: bucket) { newest[id] = entry }
        let cutoff = now - Int(retention)
        let candidates = newest.filter { $0.value.committedAt >= cutoff }
            .sorted { $0.value.committedAt > $1.value.committedAt }
        var chosen: [(TransferID, Entry)] = []
        var size = 0
        for (id, entry) in candidates {
            size += CommitJournal.line(id, entry).count
            if size > CommitJournal.bucketLimit * 3 / 4 { break }
            chosen.append((id, entry))
        }
        let bytes = chosen.reversed().flatMap { CommitJournal.line($0.0, $0.1) }
        let temporary = bucket + ".new"
        let file = try FileDescriptor.open(
            temporary,
            in: directory,
            flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
            mode: 0o600
        )
        try file.writeAll(bytes)
        try file.sync()
        file.close()
        try retryingInterrupts("rename", bucket) {
            renameat(directory.rawValue, temporary, directory.rawValue, bucket)
        }
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
