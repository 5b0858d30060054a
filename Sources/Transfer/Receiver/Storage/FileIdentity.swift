#if canImport(Glibc)
    import Glibc
#endif

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
