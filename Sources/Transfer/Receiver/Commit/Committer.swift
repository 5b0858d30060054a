import Framing

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
    /// Durable under its final name: the ACK may be sent, and says what the entry says (its
    /// length is the committed file's size as checked before the rename, its digest the
    /// one verified against END). Nothing else is a source for an ACK.
    case committed(CommitJournal.Entry)
    /// Not committed: a non-fatal ERROR with this code and message. `keptPartial` says
    /// whether the verified bytes stay in `.xfer` for a retry to resume from.
    case failed(ErrorCode, String, keptPartial: Bool)
}

/// The one path by which streams become durable under their final names (SPEC.md §7.3),
/// for one stream and for a batch alike. In order, every error checked:
///
/// 1. data: a stream, or a batch of fewer than ``smallBatch`` (or any batch while another
///    `syncfs` ran in the last 50 ms, or on a file system where `syncfs` is no data
///    barrier: ``FileSystemType``), is `fsync`ed file by file; a larger batch is synced
///    with one `syncfs` through this connection's own descriptor, then each file's
///    write-back error state is read (`sync_file_range` wait), since `syncfs` reports
///    errors for the file system, not per file;
/// 2. the path is walked one component at a time, missing directories created;
/// 3. the file's size is compared with the length the ACK will state, then it is renamed
///    from `.xfer/<id>.part` to its name;
/// 4. every directory that got a new entry (the files' parents), and the parent of every
///    directory on the path whose entry is not known durable (``DurableDirectories``), is
///    `fsync`ed;
/// 5. each file's directory is walked to again from the target: it must still be the one
///    the file was renamed into;
/// 6. only then does the caller record the commit and ACK.
///
/// A failure in steps 1, 3 (size), 4 or 5 fails the streams it concerns; in 2 or 3 (rename)
/// the verified bytes are kept for a retry.
struct Committer {
    let directory: TargetDirectory
    /// This connection's own descriptor of the target, for `syncfs` (whose error state is
    /// per open file description: another connection must not consume our error).
    let syncHandle: FileDescriptor
    /// Permission bits never given to a committed file.
    let umask: mode_t

    /// Directories whose entries the process knows durable (shared by all connections).
    var durable: DurableDirectories = .shared
    /// The system calls of the commit (a test's recording ones, or the kernel's).
    var system: CommitSystem = .real
    /// Whether each committed file's descriptor stays open after its rename, for the caller
    /// to close: a consumer (`--exec`) then reads the very inode the commit made, whatever
    /// its mode (a file of mode 0 cannot be opened again by a receiver that is not root)
    /// and whoever has replaced its name since.
    var keepsCommittedFilesOpen = false

    /// Commits `batch`; the outcomes are in the batch's order.
    func commit(_ batch: [VerifiedStream]) -> [CommitOutcome] {
        var outcomes = [CommitOutcome?](repeating: nil, count: batch.count)
        for stream in batch { stream.partial.applyMetadata(of: stream.offer, umask: umask) }
        syncData(batch, into: &outcomes)

        // Rename each file into place, noting which directories must be synced for it: its
        // parent (a new entry), and the parent of every directory on its path whose own
        // entry is not known durable, whoever made it (SPEC.md §7.3). The walk opens one
        // component at a time and the syncs owed hold at most `DirectorySyncs.limit`
        // descriptors, whatever the depth; each file's descriptor closes at its rename.
        var syncs = DirectorySyncs(durable: durable, system: system)
        var needs: [[DurableDirectories.Key]] = Array(repeating: [], count: batch.count)
        var parents: [DurableDirectories.Key?] = Array(repeating: nil, count: batch.count)
        var identities = [Result<FileIdentity, SystemError>?](repeating: nil, count: batch.count)
        // The size of each file as checked before its rename: the length its ACK states.
        var sizes = [UInt64](repeating: 0, count: batch.count)
        // The previous file's directory and the syncs its path owed: files of one directory
        // usually come one after another, and need no walk of their own (one descriptor
        // kept, not one per directory of the batch).
        var previous: (place: String, parent: TargetDirectory.CommitParent, needs: [DurableDirectories.Key])?
        for (index, stream) in batch.enumerated() where outcomes[index] == nil {
            do throws(ReceiverFailure) {
                let place = stream.name.directories.joined(separator: "/")
                let parent: TargetDirectory.CommitParent
                if let previous, previous.place == place {
                    parent = previous.parent
                    needs[index] = previous.needs
                } else {
                    previous = nil
                    do throws(TransferError) {
                        parent = try directory.walkForCommit(stream.name) { directory, place, child in
                            if !durable.contains(child) {
                                needs[index].append(syncs.need(directory, place: place, vouchingFor: child))
                            }
                        }
                    } catch {
                        throw ReceiverFailure(error)
                    }
                    previous = (place, parent, needs[index])
                }
                // The committed file must be the stream, whole: the ACK states its length.
                // (A tool may truncate `.xfer/<id>.part` under us; the partial is written
                // with O_APPEND, so a truncation mid-stream leaves the file short.)
                let info: stat
                do {
                    info = try system.status(stream.partial.file)
                } catch {
                    throw ReceiverFailure(.ioError, "cannot stat '\(stream.name.text)': \(error.reason)")
                }
                let size = UInt64(info.st_size)
                // And the receiver's alone: a hard link made in `.xfer` would let its holder
                // change the file after the ACK.
                guard info.st_nlink == 1 else {
                    outcomes[index] = .failed(
                        .ioError,
                        "'\(stream.name.text)': its partial file has \(info.st_nlink) names (hard links made by another "
                            + "process); not committed",
                        keptPartial: false
                    )
                    continue
                }
                guard size == stream.partial.length else {
                    outcomes[index] = .failed(
                        .ioError,
                        "'\(stream.name.text)': its partial file holds \(size) bytes, not the \(stream.partial.length) "
                            + "received (changed by another process?); not committed",
                        keptPartial: false
                    )
                    continue
                }
                sizes[index] = size
                let name = TargetDirectory.partialName(stream.offer.transferID)
                do {
                    try system.rename(directory.state, name, parent.handle, stream.name.leaf)
                } catch {
                    throw ReceiverFailure(
                        error.isNoSpace ? .noSpace : .ioError,
                        "cannot rename '\(stream.name.text)' into place: \(error.reason)"
                    )
                }
                needs[index].append(syncs.need(parent.handle, key: parent.key, place: place, vouchingFor: nil))
                parents[index] = parent.key
                // The renamed file is the same inode: its identity as it now stands (the
                // rename changed its ctime). Its data is synced: the descriptor can go.
                identities[index] = Result { () throws(SystemError) in
                    FileIdentity(try system.status(stream.partial.file))
                }
                if !keepsCommittedFilesOpen { stream.partial.file.close() }
            } catch {
                outcomes[index] = .failed(error.code, "'\(stream.name.text)': \(error.message)", keptPartial: true)
            }
        }

        // The new directory entries must be durable too before any ACK.
        syncs.flush()
        // A directory moved away during the batch (out of the target, say) holds files that
        // are not under their names in the target: they are not ACKed. Checked after the
        // syncs, walking from the target again, once per directory of the batch.
        var stillThere: [String: Bool] = [:]
        for (index, stream) in batch.enumerated() where outcomes[index] == nil {
            if let failure = needs[index].lazy.compactMap({ syncs.failed[$0] }).first {
                let place = failure.place.isEmpty ? "the target directory" : "directory '\(failure.place)'"
                outcomes[index] = .failed(
                    failure.error.isNoSpace ? .noSpace : .ioError,
                    "cannot sync \(place) for '\(stream.name.text)': \(failure.error.reason)",
                    keptPartial: false
                )
                continue
            }
            let place = stream.name.directories.joined(separator: "/")
            let unmoved =
                stillThere[place]
                ?? {
                    let found = directory.directoryKey(of: stream.name) == parents[index]
                    stillThere[place] = found
                    return found
                }()
            guard unmoved else {
                outcomes[index] = .failed(
                    .ioError,
                    "directory '\(place)' of '\(stream.name.text)' was moved or replaced during the commit; "
                        + "the file is not under that name in the target",
                    keptPartial: false
                )
                continue
            }
            do {
                let identity = try identities[index]!.get()
                outcomes[index] = .committed(
                    CommitJournal.Entry(
                        length: sizes[index],
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
        for (stream, outcome) in zip(batch, outcomes) {
            if case .committed = outcome, keepsCommittedFilesOpen { continue }
            stream.partial.file.close()
        }
        return outcomes.map { $0! }
    }

}
