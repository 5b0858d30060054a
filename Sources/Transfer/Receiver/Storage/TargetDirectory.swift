import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's target directory: the only place it writes (SPEC.md §9).
///
/// Names are checked as bytes (``WireName``), then resolved one component at a time with
/// `openat` and `O_NOFOLLOW`, so neither `..` nor a symbolic link planted in the directory
/// can lead outside it. Unfinished streams live in `.xfer/<id>.part` (same file system, so
/// the final rename is atomic), committed transfers in `.xfer/committed.log`, and
/// `.xfer/lock` is held (flock) by the one receiver process serving the directory.
final class TargetDirectory: Sendable {
    /// The reserved top-level component for the receiver's own state.
    static let stateDirectoryName = WireName.reservedFirstComponent

    /// The path it was opened with, for messages.
    let path: String
    /// The directory itself.
    nonisolated(unsafe) let root: FileDescriptor
    /// `.xfer` inside it.
    nonisolated(unsafe) let state: FileDescriptor
    /// `.xfer/lock`, locked for the life of this object.
    private nonisolated(unsafe) let lock: FileDescriptor
    /// The file system both live on, and the mount (when the kernel tells): a destination
    /// on another of either cannot be renamed into.
    let device: UInt64
    let mount: UInt64?
    /// Whether one `syncfs` makes the target's files durable (``FileSystemType``): when
    /// not, batches are synced file by file.
    let syncfsIsBarrier: Bool

    /// Opens `path`, creates `.xfer` in it and takes the directory's lock.
    /// - Throws: ``TransferError/localIO(_:)`` when the directory cannot be used, or when
    ///   another process serves it (naming that process).
    /// - Parameter locking: Take the directory's lock (a receiver does; a tool that only
    ///   lists or cleans partial files, each checked by its own lock, does not).
    init(path: String, locking: Bool = true) throws(TransferError) {
        self.path = path
        func failure(_ error: SystemError) -> TransferError { .localIO("cannot use '\(path)': \(error)") }
        do throws(SystemError) {
            root = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
            try root.makeDirectory(TargetDirectory.stateDirectoryName, mode: 0o700, allowingExisting: true)
            state = try FileDescriptor.open(
                TargetDirectory.stateDirectoryName,
                in: root,
                flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW
            )
            lock = try FileDescriptor.openRegularFile(
                "lock",
                in: state,
                flags: O_RDWR | O_CREAT | O_NOFOLLOW,
                mode: 0o600
            )
            device = UInt64(try state.status().st_dev)
            mount = TargetDirectory.mountID(of: state)
            syncfsIsBarrier = FileSystemType.of(state)?.syncfsIsBarrier ?? false
        } catch {
            throw failure(error)
        }
        let locked: Bool
        do throws(SystemError) {
            guard locking else { return }
            locked = try lock.tryLockExclusive()
            if locked {
                let pid = Array("\(getpid())\n".utf8)
                try SystemError.naming("lock") { () throws(SystemError) in
                    try lock.truncate(to: 0)
                    try lock.write(pid, at: 0)
                }
            }
        } catch {
            throw failure(error)
        }
        guard locked else {
            throw .localIO(
                "another receiver (\(TargetDirectory.holder(of: lock))) is serving '\(path)'; one directory has one receiver"
            )
        }
    }

    /// Makes the entries in `.xfer` durable (a kept partial's name, SPEC.md §7.3), and
    /// `.xfer`'s own entry in the target unless this process already made it durable: a
    /// resume after a power loss needs both.
    /// - Throws: ``SystemError`` from the `fsync` of either directory.
    func syncStateDirectory(durable: DurableDirectories = .shared) throws(SystemError) {
        let key = DurableDirectories.Key(try state.status())
        if !durable.contains(key) {
            do {
                try root.sync()
            } catch {
                durable.remove([key])
                throw error
            }
            durable.insert([key])
        }
        try state.sync()
    }

    /// "process ID N" from a lock file whose holder wrote its ID, or a vaguer phrase.
    private static func holder(of lock: FileDescriptor) -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = bytes.withUnsafeMutableBytes { (try? lock.read(into: $0, at: 0)) ?? -1 }
        let text = count > 0 ? String(decoding: bytes[..<count], as: UTF8.self) : ""
        let trimmed = text.split(separator: "\n").first.map(String.init) ?? ""
        return Int(trimmed) != nil ? "process ID \(trimmed)" : "another process"
    }

    /// A new descriptor of the target (its own open file description): `syncfs` reports
    /// write-back errors once per description, so each connection syncs through its own.
    func openSyncHandle() throws(SystemError) -> FileDescriptor {
        try FileDescriptor.open(".", in: root, flags: O_RDONLY | O_DIRECTORY)
    }

    static func mountID(of directory: FileDescriptor) -> UInt64? {
        try? directory.mountID()
    }

    /// The identity of the regular file at `name`, or `nil` if there is none (or a link,
    /// a directory, anything but a regular file).
    func identity(of name: WireName) -> FileIdentity? {
        guard let parent = try? parent(of: name, create: false), let directory = parent.directory,
            let info = try? directory.status(of: name.leaf), info.st_mode & S_IFMT == S_IFREG
        else { return nil }
        return FileIdentity(info)
    }

    /// Bytes of the target's file system (for a default cap on partial files).
    func fileSystemBytes() -> UInt64? {
        guard let info = try? root.fileSystemStatistics() else { return nil }
        return UInt64(info.f_blocks) * UInt64(info.f_frsize)
    }

    /// Bytes free for an unprivileged writer on the target's file system.
    func freeBytes() -> UInt64? {
        guard let info = try? root.fileSystemStatistics() else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }
}
