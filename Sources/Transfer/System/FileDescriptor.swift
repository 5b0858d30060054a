import CXferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// An open file descriptor that this object owns: opened close-on-exec, closed exactly once
/// (when the last reference goes, or earlier by ``close()``). Every call retries `EINTR`
/// and throws ``SystemError`` (swift-system's `FileDescriptor` is the model).
///
/// A class rather than a non-copyable struct so a stream's file can sit in collections
/// (a commit batch) without ceremony; the receiver never shares one between threads.
final class FileDescriptor {
    /// The raw descriptor, for System's own wrappers only; -1 once closed.
    private(set) var unixDescriptor: CInt

    /// Takes ownership of `unixDescriptor`.
    init(owning unixDescriptor: CInt) { self.unixDescriptor = unixDescriptor }

    deinit { close() }

    /// Opens `path` relative to `directory` (or the working directory), always with
    /// `O_CLOEXEC`. The corresponding C function is `openat`.
    static func open(
        _ path: String,
        in directory: FileDescriptor? = nil,
        flags: CInt,
        mode: mode_t = 0o600
    ) throws(SystemError) -> FileDescriptor {
        let base = directory?.unixDescriptor ?? AT_FDCWD
        let fd = try retryingInterrupts("open", path) { openat(base, path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(owning: fd)
    }

    /// Opens `path` like ``open(_:in:flags:mode:)``, only if it is a regular file: a FIFO
    /// or a device that another process put in its place (the receiver's state directory
    /// is a place tools can reach) is refused instead of blocking the open, or a read, for
    /// ever. Opened with `O_NONBLOCK` (which a regular file ignores), checked with `fstat`.
    /// With `singleName` (the default) it must also have no other name: a hard link made to
    /// it would let writes meant for the receiver's state land in a file elsewhere (so the
    /// caller must not pass `O_TRUNC`, which would act before this check).
    /// - Throws: ``SystemError`` from `openat` or `fstat`; operation "open (not a regular
    ///   file)" or "open (a file with other names)" with `EINVAL` when it is not one.
    static func openRegularFile(
        _ path: String,
        in directory: FileDescriptor,
        flags: CInt,
        mode: mode_t = 0o600,
        singleName: Bool = true
    ) throws(SystemError) -> FileDescriptor {
        precondition(flags & O_TRUNC == 0, "O_TRUNC would act before the checks")
        let file = try open(path, in: directory, flags: flags | O_NONBLOCK, mode: mode)
        let info = try file.status()
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw SystemError("open (not a regular file)", path, errno: EINVAL)
        }
        guard !singleName || info.st_nlink == 1 else {
            throw SystemError("open (a file with other names)", path, errno: EINVAL)
        }
        // O_NONBLOCK stays: Linux ignores it for a regular file's reads and writes, and
        // clearing it would cost two calls for every partial file of a transfer.
        return file
    }

    /// Gives up ownership without closing (another owner, e.g. `fdopendir`, closes it).
    func release() { unixDescriptor = -1 }

    /// Closes now; later calls do nothing. An error from `close` is ignored on purpose:
    /// everything that matters was checked by an earlier sync (Linux closes the descriptor
    /// even when `close` fails, so retrying would be wrong).
    func close() {
        guard unixDescriptor >= 0 else { return }
        _ = Glibc.close(unixDescriptor)
        unixDescriptor = -1
    }

    /// Writes all of `bytes` at the current position. The corresponding C function is `write`.
    func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            offset += try retryingInterrupts("write") {
                Glibc.write(unixDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
            }
        }
    }

    /// Reads from the current position to the end of the file, at most `limit` bytes. The
    /// corresponding C function is `read`.
    func readAll(limit: Int) throws(SystemError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while bytes.count < limit {
            let wanted = min(chunk.count, limit - bytes.count)
            let count = try retryingInterrupts("read") {
                chunk.withUnsafeMutableBytes { Glibc.read(unixDescriptor, $0.baseAddress, wanted) }
            }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }

    /// Writes all of `bytes`; see ``writeAll(_:)-(UnsafeRawBufferPointer)``.
    func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let done = offset
            offset += try retryingInterrupts("write") {
                bytes.withUnsafeBytes { Glibc.write(unixDescriptor, $0.baseAddress! + done, $0.count - done) }
            }
        }
    }

    /// Flushes the file's data and metadata to the device. The corresponding C function is `fsync`.
    func sync() throws(SystemError) {
        try retryingInterrupts("fsync") { fsync(unixDescriptor) }
    }

    /// Flushes the file's data (and the metadata needed to read it back) to the device. The
    /// corresponding C function is `fdatasync`.
    func syncData() throws(SystemError) {
        try retryingInterrupts("fdatasync") { fdatasync(unixDescriptor) }
    }

    /// Cuts or extends the file to `length` bytes. The corresponding C function is `ftruncate`.
    func truncate(to length: UInt64) throws(SystemError) {
        try retryingInterrupts("truncate") { ftruncate(unixDescriptor, off_t(length)) }
    }

    /// Moves the position to `offset` from the start. The corresponding C function is `lseek`.
    @discardableResult
    func seek(to offset: UInt64) throws(SystemError) -> UInt64 {
        UInt64(try retryingInterrupts("seek") { lseek(unixDescriptor, off_t(offset), SEEK_SET) })
    }

    /// Reads into `buffer` from `offset`, leaving the position alone: one call, so fewer bytes
    /// than asked (0 at the end of the file) are no error. The corresponding C function is
    /// `pread`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(SystemError) -> Int {
        try retryingInterrupts("read") { pread(unixDescriptor, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// Writes `bytes` at `offset`, leaving the position alone: one call, which may write
    /// fewer. The corresponding C function is `pwrite`.
    @discardableResult
    func write(_ bytes: [UInt8], at offset: UInt64) throws(SystemError) -> Int {
        try retryingInterrupts("write") {
            bytes.withUnsafeBytes { pwrite(unixDescriptor, $0.baseAddress, $0.count, off_t(offset)) }
        }
    }

    /// Writes all of `bytes` at `offset`, leaving the position alone (`pwrite` until done).
    func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let written = done
            done += try retryingInterrupts("write") {
                pwrite(
                    unixDescriptor,
                    bytes.baseAddress! + written,
                    bytes.count - written,
                    off_t(offset) + off_t(written)
                )
            }
        }
    }

    /// Syncs the whole file system holding this file (`syncfs`). Errors are reported per
    /// open file description, so each connection syncs through a descriptor of its own.
    func syncFileSystem() throws(SystemError) {
        try retryingInterrupts("syncfs") { xfer_sync_filesystem(unixDescriptor) }
    }

    /// Starts write-back of a range without waiting (`sync_file_range` WRITE).
    func startWriteback(offset: UInt64, length: UInt64) throws(SystemError) {
        try retryingInterrupts("sync_file_range") { xfer_start_writeback(unixDescriptor, Int64(offset), Int64(length)) }
    }

    /// Waits for write-back of a range and reports any write-back error this descriptor
    /// has not seen yet (`sync_file_range` WAIT_BEFORE|WRITE|WAIT_AFTER). Not durability:
    /// metadata and the device cache need `fsync` or `syncfs`. Length 0 means to the end.
    func waitWriteback(offset: UInt64, length: UInt64) throws(SystemError) {
        try retryingInterrupts("sync_file_range") { xfer_wait_writeback(unixDescriptor, Int64(offset), Int64(length)) }
    }

    /// Takes an exclusive `flock` without waiting; false when another open file holds it.
    func tryLockExclusive() throws(SystemError) -> Bool {
        while flock(unixDescriptor, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK { return false }
            throw SystemError("flock")
        }
        return true
    }

    /// The file's status. The corresponding C function is `fstat`.
    func status() throws(SystemError) -> stat {
        var info = stat()
        try retryingInterrupts("fstat") { fstat(unixDescriptor, &info) }
        return info
    }

    /// The names in this directory, as bytes, without `.` and `..`; empty when it cannot
    /// be listed. The corresponding C functions are `fdopendir` and `readdir`.
    func entryNames() -> [[UInt8]] {
        guard let listing = try? FileDescriptor.open(".", in: self, flags: O_RDONLY | O_DIRECTORY),
            let handle = fdopendir(listing.unixDescriptor)
        else { return [] }
        // fdopendir owns the descriptor now; closedir closes it.
        listing.release()
        defer { closedir(handle) }
        var names: [[UInt8]] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
        }
        return names
    }

    /// Status of `name` inside this directory, not following a final link, or `nil` when
    /// nothing is there. The corresponding C function is `fstatat`.
    func status(of name: String) throws(SystemError) -> stat? {
        var info = stat()
        while fstatat(unixDescriptor, name, &info, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == EINTR { continue }
            if errno == ENOENT { return nil }
            throw SystemError("stat", name)
        }
        return info
    }
}

extension SystemError {
    /// Whether the file system is out of space or quota: the wire's `noSpace`.
    var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }
}
