import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's memory of committed transfers (SPEC.md §11), so that a sender that lost
/// an ACK with its connection is told "already committed" instead of sending again.
///
/// One line per commit in `.xfer/committed.log`:
/// `ID LENGTH DIGEST DEVICE INODE CTIME_S CTIME_NS MTIME_S MTIME_NS NAME` (hex ID and
/// digest), appended once per commit batch and loaded when the receiver starts. The
/// identity fields bind the entry to the file the commit produced: a file replaced or
/// edited since (another inode, size, change or modification time) is not "committed".
/// Lines in any other form (torn, or from an older xfer) are skipped: forgetting a commit
/// only means it is sent again.
final class CommitJournal: Sendable {
    /// One remembered commit.
    struct Entry: Sendable, Equatable {
        var length: UInt64
        var digest: UInt64
        var name: String
        var identity: FileIdentity
    }

    private struct State {
        var entries: [TransferID: Entry] = [:]
        /// Transfers being received right now, by any connection.
        var active: Set<TransferID> = []
    }

    private let state = Mutex(State())
    private let fd: CInt

    init(directory: TargetDirectory) throws(TransferError) {
        fd = openat(
            directory.state.rawValue,
            "committed.log",
            O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
            0o600
        )
        guard fd >= 0 else {
            throw .localIO("cannot open '\(directory.path)/.xfer/committed.log': \(SystemError("open").reason)")
        }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            contents += chunk[..<count]
        }
        var entries: [TransferID: Entry] = [:]
        for line in contents.split(separator: UInt8(ascii: "\n")) {
            if let (id, entry) = CommitJournal.parse(line) { entries[id] = entry }
        }
        state.withLock { $0.entries = entries }
    }

    deinit { close(fd) }

    private static func parse(_ line: ArraySlice<UInt8>) -> (TransferID, Entry)? {
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 9, omittingEmptySubsequences: false)
        guard fields.count == 10 else { return nil }
        let text = fields[..<9].map { String(decoding: $0, as: UTF8.self) }
        guard let id = TransferID(hex: text[0]), let length = UInt64(text[1]),
            let digest = UInt64(text[2], radix: 16), let device = UInt64(text[3]), let inode = UInt64(text[4]),
            let ctime = Int(text[5]), let ctimeNanoseconds = Int(text[6]), let mtime = Int(text[7]),
            let mtimeNanoseconds = Int(text[8]),
            let name = String(validating: fields[9], as: UTF8.self)
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
        return (id, Entry(length: length, digest: digest, name: name, identity: identity))
    }

    /// Marks `id` as being received; false when another connection already is, so two
    /// senders of the same transfer never write one partial file at once.
    func claim(_ id: TransferID) -> Bool {
        state.withLock { $0.active.insert(id).inserted }
    }

    /// Ends a ``claim(_:)``.
    func release(_ id: TransferID) {
        _ = state.withLock { $0.active.remove(id) }
    }

    /// The commit remembered for `id`, if any.
    func entry(for id: TransferID) -> Entry? {
        state.withLock { $0.entries[id] }
    }

    /// Records a batch of commits with one append.
    /// - Returns: The error of the append, if it failed (the commits stand; only the memory
    ///   of them is lost, so a retry sends them again).
    @discardableResult
    func record(_ batch: [(TransferID, Entry)]) -> SystemError? {
        guard !batch.isEmpty else { return nil }
        var text = ""
        for (id, entry) in batch {
            let identity = entry.identity
            text += "\(id) \(entry.length) \(String(entry.digest, radix: 16)) \(identity.device) \(identity.inode) "
            text += "\(identity.changeSeconds) \(identity.changeNanoseconds) "
            text += "\(identity.modificationSeconds) \(identity.modificationNanoseconds) \(entry.name)\n"
        }
        let bytes = Array(text.utf8)
        return state.withLock { state -> SystemError? in
            for (id, entry) in batch { state.entries[id] = entry }
            do throws(SystemError) {
                // O_APPEND: one write per batch; a short write is continued, never interleaved
                // with another connection's (the lock is held).
                var offset = 0
                while offset < bytes.count {
                    let done = offset
                    offset += try retryingInterrupts("write", "committed.log") {
                        bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                    }
                }
                return nil
            } catch {
                return error
            }
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
