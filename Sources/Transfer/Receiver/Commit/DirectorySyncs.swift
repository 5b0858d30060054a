#if canImport(Glibc)
    import Glibc
#endif

/// The directory syncs one commit batch owes, each directory synced once, holding at most
/// ``limit`` descriptors: past that, what is owed so far is synced at once (the entries
/// exist already, so an early sync is as good), which bounds a walk of any depth.
struct DirectorySyncs {
    /// Most directories held open for a later sync: with the walk's own two, within the 8
    /// descriptors per connection that ``DescriptorBudget`` sets aside for a walk.
    static let limit = 6

    private let durable: DurableDirectories
    private let system: CommitSystem
    private var owed:
        [DurableDirectories.Key: (handle: FileDescriptor, place: String, vouches: [DurableDirectories.Key])] =
            [:]
    /// Directories whose sync failed, with where they are (for messages) and the error.
    private(set) var failed: [DurableDirectories.Key: (place: String, error: SystemError)] = [:]

    init(durable: DurableDirectories, system: CommitSystem = .real) {
        self.durable = durable
        self.system = system
    }

    /// Owes a sync of `directory` (at `place`, components joined by "/"; `key` its identity
    /// when the caller knows it), which makes the entry of `child` durable if given. Returns the directory's key, for the caller to
    /// look up in ``failed`` after ``flush()``.
    mutating func need(
        _ directory: FileDescriptor,
        key known: DurableDirectories.Key? = nil,
        place: String,
        vouchingFor child: DurableDirectories.Key?
    ) -> DurableDirectories.Key {
        let key: DurableDirectories.Key
        if let known {
            key = known
        } else if let info = try? system.status(directory) {
            key = DurableDirectories.Key(info)
        } else {
            // Cannot even be told apart: a key no sync will clear, recorded as failed.
            let key = DurableDirectories.Key(stat())
            failed[key] = (place, SystemError("fstat", place))
            return key
        }
        if owed[key] == nil {
            if owed.count >= DirectorySyncs.limit { flush() }
            owed[key] = (directory, place, [])
        }
        if let child { owed[key]!.vouches.append(child) }
        return key
    }

    /// Syncs every directory owed, shallowest first; a success makes the entries it vouches
    /// for known durable, a failure forgets them and is recorded in ``failed``.
    mutating func flush() {
        for (key, entry) in owed.sorted(by: { $0.value.place.count < $1.value.place.count }) {
            do {
                try system.syncDirectory(entry.handle)
                durable.insert(entry.vouches)
            } catch {
                durable.remove(entry.vouches)
                failed[key] = (entry.place, error)
            }
        }
        owed = [:]
    }
}
