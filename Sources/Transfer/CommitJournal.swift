import Foundation
import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's memory of committed transfer IDs (SPEC.md §11), so that a sender that
/// lost an ACK with its connection is told "already committed" instead of sending again.
///
/// One line per commit in `.xfer/committed.log`: `ID LENGTH DIGEST NAME`, hex ID and
/// digest, appended once per commit batch. Loaded into memory when the receiver starts.
final class CommitJournal: @unchecked Sendable {
    struct Entry: Sendable {
        var length: UInt64
        var digest: UInt64
        var name: String
    }

    private let lock = NSLock()
    private var entries: [TransferID: Entry] = [:]
    /// Transfers being received right now, by any connection.
    private var active: Set<TransferID> = []
    private let fd: CInt

    init(directory: TargetDirectory) throws(TransferError) {
        fd = openat(directory.stateFD, "committed.log", O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .localIO("cannot open '\(directory.path)/.xfer/committed.log': \(SystemError("open").reason)")
        }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            contents += chunk[..<count]
        }
        for line in contents.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 3)
            guard fields.count == 4, let idText = String(bytes: fields[0], encoding: .utf8),
                let id = TransferID(hex: idText), let length = UInt64(String(decoding: fields[1], as: UTF8.self)),
                let digest = UInt64(String(decoding: fields[2], as: UTF8.self), radix: 16)
            else { continue }
            entries[id] = Entry(length: length, digest: digest, name: String(decoding: fields[3], as: UTF8.self))
        }
    }

    deinit { close(fd) }

    /// Marks `id` as being received; false when another connection already is, so two
    /// senders of the same transfer never write one partial file at once.
    func claim(_ id: TransferID) -> Bool {
        lock.withLock { active.insert(id).inserted }
    }

    /// Ends a ``claim(_:)``.
    func release(_ id: TransferID) {
        _ = lock.withLock { active.remove(id) }
    }

    func entry(for id: TransferID) -> Entry? {
        lock.withLock { entries[id] }
    }

    /// Records a batch of commits with one append.
    func record(_ batch: [(TransferID, Entry)]) {
        guard !batch.isEmpty else { return }
        var text = ""
        for (id, entry) in batch {
            text += "\(id) \(entry.length) \(String(entry.digest, radix: 16)) \(entry.name)\n"
        }
        lock.withLock {
            for (id, entry) in batch { entries[id] = entry }
            // Best effort: losing a line only means a retried transfer is sent again.
            _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
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
