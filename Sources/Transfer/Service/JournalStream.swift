#if canImport(Glibc)
    import Glibc
#endif

/// Whether a descriptor is a stream to systemd's journal: the service manager then sets
/// `JOURNAL_STREAM` to that stream's `DEVICE:INODE` (both decimal). Comparing them with the
/// descriptor's own, rather than trusting the variable's presence, tells a receiver whose
/// stderr was redirected elsewhere (a file, a pipe to a terminal) from one that logs to the
/// journal, which alone reads ``SyslogPriority`` prefixes.
public enum JournalStream {
    /// Whether `descriptor` is the stream `JOURNAL_STREAM` names.
    public static func isConnected(_ descriptor: CInt) -> Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
