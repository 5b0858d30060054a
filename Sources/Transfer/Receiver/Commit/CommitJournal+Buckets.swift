import Framing

#if canImport(Glibc)
    import Glibc
#endif

// The bucket files of a CommitJournal (lock held): finding, reading, appending, compacting, splitting.
extension CommitJournal {
    /// The bucket prefix `hex` (an ID's digits) is recorded under: the shortest prefix that
    /// is not split.
    static func bucket(of hex: String, _ split: Set<String>) -> String {
        var length = 1
        while length < CommitJournal.deepest && split.contains(String(hex.prefix(length))) { length += 1 }
        return String(hex.prefix(length))
    }

    /// The prefix of a bucket file's name (`ab.log` → `ab`), or nil for any other name.
    static func prefix(ofBucket name: String) -> String? {
        guard name.hasSuffix(".log") else { return nil }
        let prefix = name.dropLast(4)
        guard (1...CommitJournal.deepest).contains(prefix.count),
            prefix.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        return String(prefix)
    }

    static func file(_ prefix: String) -> String { prefix + ".log" }

    /// The bytes of a bucket; empty when there is none.
    /// - Throws: When it exists but cannot be read whole (no descriptor left, an I/O error,
    ///   over ``readLimit``): a compaction or split must never take that for "empty" and
    ///   write the bucket's commits away.
    private func contents(of prefix: String) throws(SystemError) -> [UInt8] {
        let name = CommitJournal.file(prefix)
        let file: FileDescriptor
        do {
            file = try FileDescriptor.openRegularFile(name, in: directory, flags: O_RDONLY | O_NOFOLLOW)
        } catch {
            if error.errno == ENOENT { return [] }
            throw error
        }
        let bytes = try file.readAll(limit: CommitJournal.readLimit + 1)
        guard bytes.count <= CommitJournal.readLimit else { throw SystemError("read", name, errno: EFBIG) }
        return bytes
    }

    /// The well-formed lines of a bucket, oldest first; malformed ones are skipped.
    private func entries(of prefix: String) throws(SystemError) -> [(TransferID, Entry)] {
        CommitJournal.lines(try contents(of: prefix)).compactMap(CommitJournal.parse)
    }

    /// The newest well-formed line of `hex` in a bucket. Only lines that start with the ID
    /// are parsed: a lookup costs a scan of one bucket, not the parsing of every line.
    func newestLine(of hex: String, in prefix: String) -> Entry? {
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
    func append(_ bytes: [UInt8], to prefix: String, _ state: inout State) throws(SystemError) -> Int {
        let name = CommitJournal.file(prefix)
        let existing = try? FileDescriptor.openRegularFile(name, in: directory, flags: O_RDWR | O_APPEND | O_NOFOLLOW)
        let file: FileDescriptor
        if let existing {
            file = existing
        } else {
            file = try FileDescriptor.openRegularFile(
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
        if size > 0 { _ = try? withUnsafeMutableBytes(of: &last) { try file.read(into: $0, at: UInt64(size - 1)) } }
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
    func compact(_ prefix: String, _ state: inout State, now: Int) throws(SystemError) {
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
    func finishSplit(_ prefix: String, _ state: inout State, now: Int) throws(SystemError) {
        var moved: [String: [UInt8]] = [:]
        for (id, entry) in newestUnexpired(try entries(of: prefix), now: now).reversed() {
            moved[CommitJournal.bucket(of: "\(id)", state.split), default: []] += CommitJournal.line(id, entry)
        }
        for (deeper, bytes) in moved.sorted(by: { $0.key < $1.key }) {
            try replace(deeper, with: bytes + CommitJournal.lines(try contents(of: deeper)).flatMap { $0 + [0x0A] })
        }
        // The deeper buckets' names must be durable before the only other copy goes.
        try directory.sync()
        try directory.removeEntry(CommitJournal.file(prefix))
        state.leftovers.remove(prefix)
    }

    /// Replaces a bucket's contents atomically: a synced `.new` file renamed over it.
    private func replace(_ prefix: String, with bytes: [UInt8]) throws(SystemError) {
        let name = CommitJournal.file(prefix)
        let temporary = name + ".new"
        // A fresh file: whatever holds the name (a leftover, or a link someone made) is
        // unlinked first, never truncated through.
        _ = try? directory.removeEntry(temporary)
        let file = try FileDescriptor.openRegularFile(
            temporary,
            in: directory,
            flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
            mode: 0o600
        )
        try file.writeAll(bytes)
        try file.sync()
        file.close()
        try directory.rename(temporary, to: directory, as: name)
    }
}
