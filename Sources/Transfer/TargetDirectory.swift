import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's target directory: the only place it writes (SPEC.md §9).
///
/// Names from the wire are checked, then resolved one component at a time with `openat`
/// and `O_NOFOLLOW`, so neither `..` nor a symbolic link planted in the directory can lead
/// outside it. Unfinished streams live in `.xfer/<id>.part` inside it (same file system, so
/// the final rename is atomic), and committed transfer IDs in `.xfer/committed.log`.
final class TargetDirectory: @unchecked Sendable {
    /// The reserved top-level component for the receiver's own state.
    static let stateDirectoryName = ".xfer"

    let path: String
    let fd: CInt
    let stateFD: CInt

    init(path: String) throws(TransferError) {
        self.path = path
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .localIO("cannot open directory '\(path)': \(SystemError("open").reason)") }
        if mkdirat(fd, TargetDirectory.stateDirectoryName, 0o700) != 0 && errno != EEXIST {
            throw .localIO("cannot create '\(path)/.xfer': \(SystemError("mkdir").reason)")
        }
        stateFD = openat(fd, TargetDirectory.stateDirectoryName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard stateFD >= 0 else { throw .localIO("cannot open '\(path)/.xfer': \(SystemError("open").reason)") }
    }

    deinit {
        close(stateFD)
        close(fd)
    }

    /// The components of a wire name, or why it is not acceptable (SPEC.md §9).
    static func components(of name: String) -> Result<[String], TransferError> {
        func bad(_ reason: String) -> Result<[String], TransferError> {
            .failure(.refused(code: .badName, message: reason))
        }
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return bad("empty name") }
        if bytes.count > ProtocolLimits.maxNameBytes {
            return bad("name longer than \(ProtocolLimits.maxNameBytes) bytes")
        }
        if bytes.first == UInt8(ascii: "/") { return bad("absolute name '\(name)'") }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return bad("name contains a NUL or control character") }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for part in parts {
            if part.isEmpty { return bad("empty component in '\(name)'") }
            if part == "." || part == ".." { return bad("name must not contain '\(part)' components: '\(name)'") }
            if part.utf8.count > ProtocolLimits.maxNameComponentBytes { return bad("component longer than 255 bytes") }
        }
        if parts[0] == stateDirectoryName { return bad("'\(stateDirectoryName)' is reserved for the receiver's state") }
        return .success(parts)
    }

    /// Opens the directory that will hold `components.last`, walking from the target
    /// without following links; with `create`, makes missing directories.
    /// - Returns: An fd to close, or why it cannot be used.
    func openParent(of components: [String], create: Bool) -> Result<CInt, TransferError> {
        var current = dup(fd)
        for component in components.dropLast() {
            var next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT {
                if !create {
                    // Nothing is there yet, so nothing below can be a link: fine for now.
                    close(current)
                    return .success(-1)
                }
                if mkdirat(current, component, 0o755) != 0 && errno != EEXIST {
                    let reason = SystemError("mkdir").reason
                    close(current)
                    return .failure(
                        .refused(code: .ioError, message: "cannot create directory '\(component)': \(reason)")
                    )
                }
                next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let failure = errno
            close(current)
            guard next >= 0 else {
                if failure == ELOOP || failure == ENOTDIR {
                    return .failure(
                        .refused(
                            code: .badName,
                            message: "'\(component)' is not a directory inside the target (a link or a file)"
                        )
                    )
                }
                return .failure(
                    .refused(
                        code: .ioError,
                        message: "cannot open directory '\(component)': \(String(cString: strerror(failure)))"
                    )
                )
            }
            current = next
        }
        return .success(current)
    }

    /// Name of the partial file for a transfer, inside `.xfer`.
    static func partialName(_ id: TransferID) -> String { "\(id).part" }

    /// Bytes held for `id` from an earlier connection, if any.
    func partialSize(_ id: TransferID) -> UInt64? {
        var info = stat()
        guard fstatat(stateFD, TargetDirectory.partialName(id), &info, AT_SYMLINK_NOFOLLOW) == 0,
            info.st_mode & S_IFMT == S_IFREG
        else { return nil }
        return UInt64(info.st_size)
    }

    /// Opens the partial file for `id`, keeping exactly its first `offset` bytes.
    func openPartial(_ id: TransferID, keeping offset: UInt64) throws(SystemError) -> CInt {
        let name = TargetDirectory.partialName(id)
        let file = try retryingInterrupts("open", name) {
            openat(stateFD, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        guard ftruncate(file, off_t(offset)) == 0, lseek(file, off_t(offset), SEEK_SET) >= 0 else {
            let error = SystemError("truncate", name)
            close(file)
            throw error
        }
        return file
    }

    func removePartial(_ id: TransferID) {
        unlinkat(stateFD, TargetDirectory.partialName(id), 0)
    }

    /// Bytes free for an unprivileged writer on the target's file system.
    func freeBytes() -> UInt64? {
        var info = statvfs()
        guard fstatvfs(fd, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// Size of a regular file at `components`, without following links.
    func committedSize(of components: [String]) -> UInt64? {
        guard case .success(let parent) = openParent(of: components, create: false), parent >= 0 else { return nil }
        defer { close(parent) }
        var info = stat()
        guard fstatat(parent, components.last!, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG
        else {
            return nil
        }
        return UInt64(info.st_size)
    }
}
