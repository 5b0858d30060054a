import CXferSystem

#if canImport(Glibc)
    import Glibc
#endif

// What a descriptor's file carries besides its bytes, and what it sits on: each call
// retries `EINTR` and throws ``SystemError``.
extension FileDescriptor {
    /// Sets the file's permission bits. The corresponding C function is `fchmod`.
    func setMode(_ mode: mode_t) throws(SystemError) {
        try retryingInterrupts("chmod") { fchmod(unixDescriptor, mode) }
    }

    /// Sets the file's access and modification times (a `tv_nsec` of `UTIME_OMIT` leaves
    /// one as it is). The corresponding C function is `futimens`.
    func setTimes(access: timespec, modification: timespec) throws(SystemError) {
        let times = [access, modification]
        try retryingInterrupts("utimens") { futimens(unixDescriptor, times) }
    }

    /// The extended attribute `name`'s value, if it fits in `maximumSize` bytes.
    /// - Throws: ``SystemError`` "getxattr `name`" (`ENODATA` when the file has none,
    ///   `ERANGE` when it is longer). The corresponding C function is `fgetxattr`
    ///   (`xfer_get_attribute`).
    func attribute(_ name: String, maximumSize: Int) throws(SystemError) -> [UInt8] {
        var value = [UInt8](repeating: 0, count: maximumSize)
        let count = try retryingInterrupts("getxattr", name) {
            value.withUnsafeMutableBytes { xfer_get_attribute(unixDescriptor, name, $0.baseAddress, $0.count) }
        }
        return Array(value[..<Int(count)])
    }

    /// Sets the extended attribute `name` to `value`, creating or replacing it.
    /// - Throws: ``SystemError`` "setxattr `name`". The corresponding C function is
    ///   `fsetxattr` (`xfer_set_attribute`).
    func setAttribute(_ name: String, to value: [UInt8]) throws(SystemError) {
        try retryingInterrupts("setxattr", name) {
            value.withUnsafeBytes { xfer_set_attribute(unixDescriptor, name, $0.baseAddress, $0.count) }
        }
    }

    /// Removes the extended attribute `name`.
    /// - Throws: ``SystemError`` "removexattr `name`" (`ENODATA` when there is none). The
    ///   corresponding C function is `fremovexattr` (`xfer_remove_attribute`).
    func removeAttribute(_ name: String) throws(SystemError) {
        try retryingInterrupts("removexattr", name) { xfer_remove_attribute(unixDescriptor, name) }
    }

    /// Statistics of the file system holding the file (sizes, free blocks). The
    /// corresponding C function is `fstatvfs`.
    func fileSystemStatistics() throws(SystemError) -> statvfs {
        var info = statvfs()
        try retryingInterrupts("statvfs") { fstatvfs(unixDescriptor, &info) }
        return info
    }

    /// The type of the file system holding the file (`f_type`'s magic number, unsigned).
    /// The corresponding C function is `fstatfs` (`xfer_filesystem_type`).
    func fileSystemMagic() throws(SystemError) -> UInt64 {
        var magic: UInt64 = 0
        try retryingInterrupts("statfs") { xfer_filesystem_type(unixDescriptor, &magic) }
        return magic
    }

    /// The ID of the mount holding the file: two directories on one file system but
    /// different mounts (a bind mount) cannot rename into each other.
    /// - Throws: ``SystemError`` "statx" (`ENOSYS` or `EINVAL` where the kernel cannot
    ///   tell). The corresponding C function is `statx` (`xfer_mount_id`).
    func mountID() throws(SystemError) -> UInt64 {
        var id: UInt64 = 0
        try retryingInterrupts("statx") { xfer_mount_id(unixDescriptor, &id) }
        return id
    }
}
