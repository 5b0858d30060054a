#if canImport(Glibc)
    import Glibc
#endif

// A directory's entries, by name relative to it: each call retries `EINTR` and throws
// ``SystemError`` naming the entry.
extension FileDescriptor {
    /// Makes the directory `name` in this one with `mode` (less the `umask`).
    /// - Parameter allowingExisting: Whether an entry already called `name` (of any type:
    ///   the caller's open checks it) is no error.
    /// - Throws: ``SystemError`` "mkdir `name`". The corresponding C function is `mkdirat`.
    func makeDirectory(_ name: String, mode: mode_t, allowingExisting: Bool = false) throws(SystemError) {
        while mkdirat(unixDescriptor, name, mode) != 0 {
            if errno == EINTR { continue }
            if allowingExisting && errno == EEXIST { return }
            throw SystemError("mkdir", name)
        }
    }

    /// Removes the entry `name` (not a directory) from this directory.
    /// - Throws: ``SystemError`` "unlink `name`". The corresponding C function is `unlinkat`.
    func removeEntry(_ name: String) throws(SystemError) {
        try retryingInterrupts("unlink", name) { unlinkat(unixDescriptor, name, 0) }
    }

    /// Renames the entry `name` of this directory to `newName` in `directory` (this one or
    /// another on the same mount), replacing what is there.
    /// - Throws: ``SystemError`` "rename `newName`". The corresponding C function is `renameat`.
    func rename(_ name: String, to directory: FileDescriptor, as newName: String) throws(SystemError) {
        try retryingInterrupts("rename", newName) { renameat(unixDescriptor, name, directory.unixDescriptor, newName) }
    }

    /// Checks that this process may create entries in this directory, as its effective IDs.
    /// - Throws: ``SystemError`` "access" when it may not. The corresponding C function is
    ///   `faccessat` (`W_OK`, `AT_EACCESS`).
    func checkWritable() throws(SystemError) {
        try retryingInterrupts("access") { faccessat(unixDescriptor, ".", W_OK, AT_EACCESS) }
    }
}
