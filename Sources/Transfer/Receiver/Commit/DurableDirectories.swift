import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The directories whose own entry (their name in their parent) this process has made
/// durable, by (device, inode): shared by every connection of one receiver (SPEC.md §7.3).
///
/// A directory is put here only after an `fsync` of its parent succeeded in this process;
/// nothing else counts, whoever made the directory (another connection that has not synced
/// yet, a receiver killed before its sync) and whatever was tried before (a sync that
/// failed removes the entries it was to vouch for). So a commit skips the syncs of
/// directories it knows to be durable and makes every other one on the file's path.
final class DurableDirectories: Sendable {
    /// A directory's identity: device and inode.
    struct Key: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    private let known = Mutex<Set<Key>>([])

    /// The set of this process.
    static let shared = DurableDirectories()

    /// Whether `key`'s entry in its parent is known durable.
    func contains(_ key: Key) -> Bool { known.withLock { $0.contains(key) } }

    /// Records that the entries of `keys` are durable (their parent's fsync succeeded).
    func insert<S: Sequence>(_ keys: S) where S.Element == Key {
        known.withLock { $0.formUnion(keys) }
    }

    /// Forgets `keys`: a sync meant to make them durable failed.
    func remove<S: Sequence>(_ keys: S) where S.Element == Key {
        known.withLock { $0.subtract(keys) }
    }
}
