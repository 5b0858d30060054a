import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The file descriptors that verified streams may hold while they wait for their commit,
/// shared by every connection of one receiver.
///
/// A stream's descriptor stays open from its END to its commit, so that the commit can
/// sync and check that very file; a batch of 1000 small files therefore holds 1000
/// descriptors. One sender gets batches that large (fewer syncs: on ext4, batches of 256
/// instead of 1000 made 10,000 small files 1.8 times slower), while many senders at once
/// share what the process may open and commit sooner, instead of failing to open with
/// `EMFILE`.
final class DescriptorBudget: Sendable {
    private let available: Mutex<Int>

    /// A budget of `total` descriptors.
    init(total: Int) {
        available = Mutex(max(0, total))
    }

    /// The budget of this process: its descriptor limit, raised to the hard limit first,
    /// less what `connections` served slots need besides (socket, sync handle, the file
    /// being received, a directory walk: 8 each, with room to spare; a commit's open
    /// directories take the place of the files it closes), what `handshakes` slots need
    /// (socket and sync handle: 2 each) and a margin of 64 for the rest of the process.
    static func forProcess(connections: Int, handshakes: Int) -> DescriptorBudget {
        var limit = rlimit()
        guard getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return DescriptorBudget(total: 0) }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit) != 0 {
                _ = getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
            }
        }
        let open = Int(clamping: min(limit.rlim_cur, 1 << 40))  // RLIM_INFINITY: any large number
        return DescriptorBudget(total: open - 8 * connections - 2 * handshakes - 64)
    }

    /// Takes one descriptor from the budget; false when none is left (commit now).
    func take() -> Bool {
        available.withLock { count in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
    }

    /// Returns `count` descriptors taken earlier.
    func give(_ count: Int) {
        guard count > 0 else { return }
        available.withLock { $0 += count }
    }
}
