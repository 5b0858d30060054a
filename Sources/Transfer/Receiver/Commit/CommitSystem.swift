#if canImport(Glibc)
    import Glibc
#endif

/// The system calls of the commit path (``Committer``, ``DirectorySyncs``) as a value of
/// functions. ``real`` calls the kernel; a test passes one that records each call in order
/// and fails the ones it chooses, so the order (data synced → size checked → renamed →
/// directories synced) and the wire code every error becomes are unit tests
/// (`CommitterTests`), beside the strace suite that proves the real binary.
///
/// The walk that finds or creates the file's directories (``TargetDirectory``) is not part
/// of it: its rules are the target's, tested on their own.
struct CommitSystem: Sendable {
    /// Makes a file's data and metadata durable (`fsync`).
    var syncFile: @Sendable (FileDescriptor) throws(SystemError) -> Void
    /// Syncs the file system through this descriptor (`syncfs`).
    var syncFileSystem: @Sendable (FileDescriptor) throws(SystemError) -> Void
    /// Waits for a file's write-back and reports its unseen errors (`sync_file_range`).
    var waitWriteback: @Sendable (FileDescriptor) throws(SystemError) -> Void
    /// A file's status (`fstat`): its size before the rename, its identity after.
    var status: @Sendable (FileDescriptor) throws(SystemError) -> stat
    /// Renames `name` in the first directory to `newName` in the second (`renameat`).
    var rename:
        @Sendable (_ from: FileDescriptor, _ name: String, _ to: FileDescriptor, _ newName: String) throws(SystemError)
            -> Void
    /// Makes a directory's entries durable (`fsync` of the directory).
    var syncDirectory: @Sendable (FileDescriptor) throws(SystemError) -> Void

    /// The kernel's calls.
    static let real = CommitSystem(
        syncFile: { file throws(SystemError) in try file.sync() },
        syncFileSystem: { handle throws(SystemError) in try handle.syncFileSystem() },
        waitWriteback: { file throws(SystemError) in try file.waitWriteback(offset: 0, length: 0) },
        status: { file throws(SystemError) in try file.status() },
        rename: { from, name, to, newName throws(SystemError) in
            try from.rename(name, to: to, as: newName)
        },
        syncDirectory: { directory throws(SystemError) in try directory.sync() }
    )
}
