#if canImport(Glibc)
    import Glibc
#endif

/// The type of the file system a target lives on (`statfs`'s `f_type`), as far as the
/// commit cares: whether one `syncfs` is a data barrier for it (SPEC.md §7.3).
///
/// `syncfs` makes every file of a local disk file system durable at once, which is how a
/// large batch is synced. It is not that everywhere: the kernel passes it to a FUSE daemon
/// only for virtiofs, network file systems (NFS, CIFS/SMB, 9p) flush per file or not at
/// all, and a stacked or unknown one may do anything. So only the types on an allow-list
/// that we can vouch for are synced with `syncfs`; on every other, a batch is synced file
/// by file with `fsync`, which each file system must honour.
struct FileSystemType: Equatable, Sendable {
    /// The `f_type` magic number.
    var magic: UInt64

    /// Local disk and memory file systems whose `syncfs` writes back and flushes every
    /// file's data and metadata (ext2/3/4 share one magic).
    static let barrierTypes: [UInt64: String] = [
        0xEF53: "ext2/ext3/ext4",
        0x5846_5342: "xfs",
        0x9123_683E: "btrfs",
        0x0102_1994: "tmpfs",
        0xF2F5_2010: "f2fs",
    ]

    /// Whether one `syncfs` makes a batch's files durable on this type.
    var syncfsIsBarrier: Bool { FileSystemType.barrierTypes[magic] != nil }

    /// The environment variable that replaces the measured type (hexadecimal magic), for
    /// tests that check the file-by-file path on a disk that would allow `syncfs`.
    static let testOverride = "XFER_TEST_FILESYSTEM_TYPE"

    /// The type of the file system holding `descriptor`; `nil` when `fstatfs` fails (then
    /// nothing can be vouched for).
    static func of(_ descriptor: FileDescriptor) -> FileSystemType? {
        if let text = getenv(testOverride).map({ String(cString: $0) }), let magic = UInt64(text, radix: 16) {
            return FileSystemType(magic: magic)
        }
        guard let magic = try? descriptor.fileSystemMagic() else { return nil }
        return FileSystemType(magic: magic)
    }
}
