import CXferSystem
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
    private let device: UInt64
    private let mount: UInt64?
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
            if mkdirat(root.rawValue, TargetDirectory.stateDirectoryName, 0o700) != 0 && errno != EEXIST {
                throw SystemError("mkdir", ".xfer")
            }
            state = try FileDescriptor.open(
                TargetDirectory.stateDirectoryName,
                in: root,
                flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW
            )
            lock = try FileDescriptor.open("lock", in: state, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
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
                var pid = Array("\(getpid())\n".utf8)
                try retryingInterrupts("truncate", "lock") { ftruncate(lock.rawValue, 0) }
                try retryingInterrupts("write", "lock") { pwrite(lock.rawValue, &pid, pid.count, 0) }
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
        let count = bytes.withUnsafeMutableBytes { pread(lock.rawValue, $0.baseAddress, $0.count, 0) }
        let text = count > 0 ? String(decoding: bytes[..<count], as: UTF8.self) : ""
        let trimmed = text.split(separator: "\n").first.map(String.init) ?? ""
        return Int(trimmed) != nil ? "process ID \(trimmed)" : "another process"
    }

    /// A new descriptor of the target (its own open file description): `syncfs` reports
    /// write-back errors once per description, so each connection syncs through its own.
    func openSyncHandle() throws(SystemError) -> FileDescriptor {
        try FileDescriptor.open(".", in: root, flags: O_RDONLY | O_DIRECTORY)
    }

    // MARK: Walking names

    /// The directory that holds `name.leaf`, walked from the target without following
    /// links.
    struct Parent {
        /// The parent directory; `nil` when it does not exist yet (walked without `create`).
        var directory: FileDescriptor?
        /// The deepest directory that exists on the way (the parent itself when it exists).
        var deepestExisting: FileDescriptor
    }

    /// Walks to the parent of `name.leaf`, one component open at a time; with `create`,
    /// makes missing directories (0o755). A commit walks with ``walkForCommit(_:visit:)``,
    /// which also says which directories must be synced.
    /// - Throws: ``TransferError/refused(code:message:)``: `badName` when a component is a
    ///   link or not a directory, `ioError` (or `noSpace`) when a directory cannot be made.
    func parent(of name: WireName, create: Bool) throws(TransferError) -> Parent {
        var current: FileDescriptor
        do {
            current = try FileDescriptor.open(".", in: root, flags: O_RDONLY | O_DIRECTORY)
        } catch {
            throw .refused(code: .ioError, message: "cannot open the target directory: \(error.reason)")
        }
        for component in name.directories {
            guard let next = try step(into: component, of: name, from: current, create: create) else {
                return Parent(directory: nil, deepestExisting: current)
            }
            current = next
        }
        return Parent(directory: current, deepestExisting: current)
    }

    /// The directory a commit renames a file into.
    struct CommitParent {
        /// The directory, open.
        var handle: FileDescriptor
        /// Its identity, to check after the commit that the name still leads to it.
        var key: DurableDirectories.Key
    }

    /// Walks to the parent of `name.leaf` for a commit, making missing directories (0o755).
    /// One component is open at a time (plus what `visit` keeps), so any depth can be
    /// walked with a few descriptors.
    /// - Parameter visit: Called for each directory on the way with its parent (open), the
    ///   parent's place (components joined by "/", "" for the target) and the directory's
    ///   identity: the caller decides whether the parent must be synced for it.
    /// - Throws: As ``parent(of:create:)``.
    func walkForCommit(
        _ name: WireName,
        visit: (FileDescriptor, String, DurableDirectories.Key) -> Void
    ) throws(TransferError) -> CommitParent {
        var current: FileDescriptor
        var info: stat
        do {
            current = try FileDescriptor.open(".", in: root, flags: O_RDONLY | O_DIRECTORY)
            info = try current.status()
        } catch {
            throw .refused(code: .ioError, message: "cannot open the target directory: \(error.reason)")
        }
        for (depth, component) in name.directories.enumerated() {
            let next = try step(into: component, of: name, from: current, create: true)!
            do {
                info = try next.status()
            } catch {
                throw .refused(code: .ioError, message: "cannot stat directory '\(component)': \(error.reason)")
            }
            visit(current, name.components[..<depth].joined(separator: "/"), DurableDirectories.Key(info))
            current = next
        }
        return CommitParent(handle: current, key: DurableDirectories.Key(info))
    }

    /// The identity of the directory that holds `name.leaf` now, walked from the target
    /// without following links; `nil` when the walk does not get there.
    func directoryKey(of name: WireName) -> DurableDirectories.Key? {
        guard let parent = try? parent(of: name, create: false), let directory = parent.directory,
            let info = try? directory.status()
        else { return nil }
        return DurableDirectories.Key(info)
    }

    /// Opens `component` in `current` without following links; with `create`, makes it
    /// first when missing. `nil` when it is missing and not to be made.
    private func step(
        into component: String,
        of name: WireName,
        from current: FileDescriptor,
        create: Bool
    ) throws(TransferError) -> FileDescriptor? {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW
        var next = try? FileDescriptor.open(component, in: current, flags: flags)
        var failure = errno
        if next == nil && failure == ENOENT {
            guard create else { return nil }
            if mkdirat(current.rawValue, component, 0o755) != 0 && errno != EEXIST {
                let error = SystemError("mkdir", component)
                throw .refused(
                    code: error.isNoSpace ? .noSpace : .ioError,
                    message: "cannot create directory '\(component)' for '\(name.text)': \(error.reason)"
                )
            }
            next = try? FileDescriptor.open(component, in: current, flags: flags)
            failure = errno
        }
        guard let next else {
            if failure == ELOOP || failure == ENOTDIR {
                throw .refused(
                    code: .badName,
                    message: "'\(component)' in '\(name.text)' is not a directory inside the target (a link or a file)"
                )
            }
            throw .refused(
                code: .ioError,
                message:
                    "cannot open directory '\(component)' for '\(name.text)': \(SystemError("open", errno: failure).reason)"
            )
        }
        return next
    }

    /// Refuses, before any data arrives, a destination directory the commit could not use:
    /// one on another file system or mount (the rename would fail with `EXDEV`) or one that
    /// cannot be written (read-only, immutable, no permission). The verdict holds for every
    /// file of that directory, so a connection sending many files into one checks it once;
    /// ``checkLeaf(_:in:)`` is the per-file half.
    func checkedParent(of name: WireName) throws(TransferError) -> Parent {
        let parent = try self.parent(of: name, create: false)
        let where_ = parent.deepestExisting
        do {
            if UInt64(try where_.status().st_dev) != device || TargetDirectory.mountID(of: where_) != mount {
                throw TransferError.refused(
                    code: .ioError,
                    message:
                        "'\(name.text)' would be on another file system or mount than '\(path)/.xfer'; it cannot be renamed into place"
                )
            }
        } catch let error as TransferError {
            throw error
        } catch {
            throw .refused(code: .ioError, message: "cannot check '\(name.text)': \(error)")
        }
        if faccessat(where_.rawValue, ".", W_OK, AT_EACCESS) != 0 {
            throw .refused(
                code: .ioError,
                message: "cannot write '\(name.text)': its directory is not writable (\(SystemError("access").reason))"
            )
        }
        return parent
    }

    /// The file's own check: no existing directory of its name in `parent`.
    func checkLeaf(_ name: WireName, in parent: Parent) throws(TransferError) {
        guard let directory = parent.directory else { return }
        let info: stat?
        do {
            info = try directory.status(of: name.leaf)
        } catch {
            throw .refused(code: .ioError, message: "cannot check '\(name.text)': \(error)")
        }
        if let info, info.st_mode & S_IFMT == S_IFDIR {
            throw .refused(code: .badName, message: "'\(name.text)' is an existing directory")
        }
    }

    private static func mountID(of directory: FileDescriptor) -> UInt64? {
        var id: UInt64 = 0
        return xfer_mount_id(directory.rawValue, &id) == 0 ? id : nil
    }

    /// The identity of the regular file at `name`, or `nil` if there is none (or a link,
    /// a directory, anything but a regular file).
    func identity(of name: WireName) -> FileIdentity? {
        guard let parent = try? parent(of: name, create: false), let directory = parent.directory,
            let info = try? directory.status(of: name.leaf), info.st_mode & S_IFMT == S_IFREG
        else { return nil }
        return FileIdentity(info)
    }

    // MARK: Partial files

    /// Name of the partial file for a transfer, inside `.xfer`.
    static func partialName(_ id: TransferID) -> String { "\(id).part" }

    /// Bytes held for `id` from an earlier connection, if any.
    func partialSize(_ id: TransferID) -> UInt64? {
        guard let info = try? state.status(of: TargetDirectory.partialName(id)), info.st_mode & S_IFMT == S_IFREG
        else { return nil }
        return UInt64(info.st_size)
    }

    /// Removes the partial file of `id` (nothing if there is none).
    func removePartial(_ id: TransferID) {
        _ = unlinkat(state.rawValue, TargetDirectory.partialName(id), 0)
    }

    /// The partial files in `.xfer`, oldest first.
    /// - Parameter withNames: Whether to read the name each is to be committed under (an
    ///   open per file: for `xfer state`, not for the receiver's frequent checks).
    func partials(withNames: Bool = false) -> [KeptPartial] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var result: [KeptPartial] = []
        for bytes in state.entryNames() {
            guard let name = String(validating: bytes, as: UTF8.self), name.hasSuffix(".part"),
                let info = try? state.status(of: name), info.st_mode & S_IFMT == S_IFREG
            else { continue }
            let age = Double(now.tv_sec - info.st_mtim.tv_sec) + Double(now.tv_nsec - info.st_mtim.tv_nsec) / 1e9
            var destination: String?
            if withNames, let file = try? FileDescriptor.open(name, in: state, flags: O_RDONLY | O_NOFOLLOW) {
                destination = PartialFile.recordedName(of: file)
            }
            result.append(KeptPartial(name: name, size: UInt64(info.st_size), age: age, destination: destination))
        }
        return result.sorted { $0.age > $1.age }
    }

    /// Removes partial files older than `maximumAge` seconds, then the oldest until the rest
    /// hold at most `maximumBytes`. A partial being written (its lock held) is never removed.
    /// - Returns: The partials removed.
    @discardableResult
    func expirePartials(maximumAge: Double, maximumBytes: UInt64, withNames: Bool = false) -> [KeptPartial] {
        var kept = partials(withNames: withNames)
        var total = kept.reduce(UInt64(0)) { $0 &+ $1.size }
        var removed: [KeptPartial] = []
        var index = 0
        while index < kept.count {
            let partial = kept[index]
            guard partial.age > maximumAge || total > maximumBytes, removePartialIfIdle(partial.name) else {
                index += 1
                continue
            }
            total -= partial.size
            removed.append(partial)
            kept.remove(at: index)
        }
        return removed
    }

    /// Removes `.xfer/name` unless another open file holds its lock (a stream being written).
    func removePartialIfIdle(_ name: String) -> Bool {
        guard let file = try? FileDescriptor.open(name, in: state, flags: O_RDWR | O_NOFOLLOW),
            (try? file.tryLockExclusive()) == true
        else { return false }
        // Unlinked while locked: no writer can have opened it in between and kept writing.
        return unlinkat(state.rawValue, name, 0) == 0
    }

    /// Bytes of the target's file system (for a default cap on partial files).
    func fileSystemBytes() -> UInt64? {
        var info = statvfs()
        guard fstatvfs(root.rawValue, &info) == 0 else { return nil }
        return UInt64(info.f_blocks) * UInt64(info.f_frsize)
    }

    /// Bytes free for an unprivileged writer on the target's file system.
    func freeBytes() -> UInt64? {
        var info = statvfs()
        guard fstatvfs(root.rawValue, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }
}

/// A partial file kept in `<target>/.xfer` for a resume.
public struct KeptPartial: Sendable, Equatable {
    /// The file's name in `.xfer` (`<transfer id>.part`).
    public var name: String
    /// Bytes it holds.
    public var size: UInt64
    /// Seconds since it was last written.
    public var age: Double
    /// The name the file is to be committed under (validated when the partial was made;
    /// recorded on the partial itself), when known.
    public var destination: String?
}

/// What identifies the file a commit produced: if any of it changed, the file is no longer
/// the one the journal remembers (SPEC.md §11), whatever its name and size.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: UInt64
    var changeSeconds: Int
    var changeNanoseconds: Int
    var modificationSeconds: Int
    var modificationNanoseconds: Int

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = UInt64(info.st_size)
        changeSeconds = info.st_ctim.tv_sec
        changeNanoseconds = info.st_ctim.tv_nsec
        modificationSeconds = info.st_mtim.tv_sec
        modificationNanoseconds = info.st_mtim.tv_nsec
    }

    init(
        device: UInt64,
        inode: UInt64,
        size: UInt64,
        changeSeconds: Int,
        changeNanoseconds: Int,
        modificationSeconds: Int,
        modificationNanoseconds: Int
    ) {
        self.device = device
        self.inode = inode
        self.size = size
        self.changeSeconds = changeSeconds
        self.changeNanoseconds = changeNanoseconds
        self.modificationSeconds = modificationSeconds
        self.modificationNanoseconds = modificationNanoseconds
    }
}
