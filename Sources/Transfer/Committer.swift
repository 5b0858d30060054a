import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A stream that arrived whole and verified (length and digest), waiting in `.xfer` to be
/// made durable under its final name.
struct VerifiedStream {
    let offer: Offer
    let name: WireName
    let partial: PartialFile
    /// XXH64 of the whole stream, as verified against its END.
    let digest: UInt64
}

/// How one stream of a commit batch ended.
enum CommitOutcome {
    /// Durable under its final name: the ACK may be sent.
    case committed(CommitJournal.Entry)
    /// Not committed: a non-fatal ERROR with this code and message. `keptPartial` says
    /// whether the verified bytes stay in `.xfer` for a retry to resume from.
    case failed(ErrorCode, String, keptPartial: Bool)
}

/// The one path by which streams become durable under their final names (SPEC.md §7.3),
/// for one stream and for a batch alike. In order, every error checked:
///
/// 1. data: a stream, or a batch of fewer than ``smallBatch`` (or any batch while another
///    `syncfs` ran in the last 50 ms), is `fsync`ed file by file; a larger batch is synced
///    with one `syncfs` through this connection's own descriptor, then each file's
///    write-back error state is read (`sync_file_range` wait), since `syncfs` reports
///    errors for the file system, not per file;
/// 2. missing parent directories are created;
/// 3. each file is renamed from `.xfer/<id>.part` to its name;
/// 4. every directory that got a new entry (the files' parents, and the parents of
///    directories made in step 2) is `fsync`ed;
/// 5. only then does the caller record the commit and ACK.
///
/// A failure in steps 1 or 4 fails the streams it concerns; in 2 or 3 the verified bytes
/// are kept for a retry.
struct Committer {
    let directory: TargetDirectory
    /// This connection's own descriptor of the target, for `syncfs` (whose error state is
    /// per open file description: another connection must not consume our error).
    let syncHandle: FileDescriptor
    /// Permission bits never given to a committed file.
    let umask: mode_t

    /// Commits `batch`; the outcomes are in the batch's order.
    func commit(_ batch: [VerifiedStream]) -> [CommitOutcome] {
        var outcomes = [CommitOutcome?](repeating: nil, count: batch.count)
        for stream in batch { stream.partial.applyMetadata(of: stream.offer, umask: umask) }
        syncData(batch, into: &outcomes)

        // Rename each file into place, remembering which directories need a sync for it.
        // Each file's descriptor closes at its rename, as a directory's may open: a batch
        // of files in as many new directories holds one descriptor per file, not two.
        var directories: [String: FileDescriptor] = [:]
        var needs: [[String]] = Array(repeating: [], count: batch.count)
        var identities = [Result<FileIdentity, SystemError>?](repeating: nil, count: batch.count)
        for (index, stream) in batch.enumerated() where outcomes[index] == nil {
            let key = stream.name.directories.joined(separator: "/")
            do throws(TransferError) {
                let parent: FileDescriptor
                if let known = directories[key] {
                    parent = known
                } else {
                    let walk = try directory.parent(of: stream.name, create: true)
                    parent = walk.directory!
                    for (createdKey, created) in walk.created where directories[createdKey] == nil {
                        directories[createdKey] = created
                    }
                    directories[key] = parent
                }
                let name = TargetDirectory.partialName(stream.offer.transferID)
                guard renameat(directory.state.rawValue, name, parent.rawValue, stream.name.leaf) == 0 else {
                    let error = SystemError("rename", stream.name.text)
                    throw .refused(
                        code: error.isNoSpace ? .noSpace : .ioError,
                        message: "cannot rename '\(stream.name.text)' into place: \(error.reason)"
                    )
                }
                // Every directory from the target down to the parent may hold a new entry.
                needs[index] = (0...stream.name.directories.count).map {
                    stream.name.components[..<$0].joined(separator: "/")
                }
                // The renamed file is the same inode: its identity as it now stands (the
                // rename changed its ctime). Its data is synced: the descriptor can go.
                identities[index] = Result { () throws(SystemError) in FileIdentity(try stream.partial.file.status()) }
                stream.partial.file.close()
            } catch {
                outcomes[index] = .failed(
                    error.wireCode,
                    "'\(stream.name.text)': \(error.plainMessage)",
                    keptPartial: true
                )
            }
        }

        // The new directory entries must be durable too before any ACK.
        var failedDirectories: [String: SystemError] = [:]
        for (key, handle) in directories.sorted(by: { $0.key < $1.key }) {
            do {
                try handle.sync()
            } catch {
                failedDirectories[key] = error
            }
        }
        for (index, stream) in batch.enumerated() where outcomes[index] == nil {
            if let (key, error) = needs[index].lazy.compactMap({ key in failedDirectories[key].map { (key, $0) } })
                .first
            {
                let place = key.isEmpty ? "the target directory" : "directory '\(key)'"
                outcomes[index] = .failed(
                    error.isNoSpace ? .noSpace : .ioError,
                    "cannot sync \(place) after renaming '\(stream.name.text)' into it: \(error.reason)",
                    keptPartial: false
                )
                continue
            }
            do {
                let identity = try identities[index]!.get()
                outcomes[index] = .committed(
                    CommitJournal.Entry(
                        length: stream.partial.length,
                        digest: stream.digest,
                        name: stream.offer.name,
                        identity: identity
                    )
                )
            } catch {
                outcomes[index] = .failed(
                    .ioError,
                    "cannot stat '\(stream.name.text)': \(error.reason)",
                    keptPartial: false
                )
            }
        }
        for stream in batch { stream.partial.file.close() }
        return outcomes.map { $0! }
    }

    /// Step 1: makes the batch's data durable; records a failure for each stream it could not.
    private func syncData(_ batch: [VerifiedStream], into outcomes: inout [CommitOutcome?]) {
        func failed(_ stream: VerifiedStream, _ error: SystemError) -> CommitOutcome {
            .failed(
                error.isNoSpace ? .noSpace : .ioError,
                "cannot sync '\(stream.name.text)': \(error)",
                keptPartial: false
            )
        }
        // syncfs flushes the whole file system, other users' data too: worth it for a large
        // batch, not for a few files, and never more often than every 50 ms in the process,
        // however many peers pause after a file or two (an fsync storm).
        if batch.count < Committer.smallBatch || !Committer.syncfsAllowed() {
            for (index, stream) in batch.enumerated() {
                do {
                    try stream.partial.file.sync()
                } catch {
                    outcomes[index] = failed(stream, error)
                }
            }
            return
        }
        do {
            try syncHandle.syncFileSystem()
        } catch {
            for index in batch.indices { outcomes[index] = failed(batch[index], error) }
            return
        }
        for (index, stream) in batch.enumerated() {
            do {
                try stream.partial.file.waitWriteback(offset: 0, length: 0)
            } catch {
                outcomes[index] = failed(stream, error)
            }
        }
    }
}

extension Committer {
    /// Batches smaller than this are synced file by file.
    static let smallBatch = 8

    /// When the process last ran syncfs (monotonic seconds).
    private static let lastSyncfs = Mutex(-Double.infinity)

    /// Whether a syncfs may run now (at most one per 50 ms in the process); claims it if so.
    static func syncfsAllowed() -> Bool {
        let now = monotonicSeconds()
        return lastSyncfs.withLock { last in
            guard now - last >= 0.05 else { return false }
            last = now
            return true
        }
    }
}

extension TransferError {
    /// The message alone, without the class of failure in front (for ERROR records).
    var plainMessage: String {
        switch self {
        case .refused(_, let message): return message
        default: return description
        }
    }
}
