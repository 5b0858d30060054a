import Framing

#if canImport(Glibc)
    import Glibc
#endif

// The partial files a TargetDirectory keeps in `.xfer` for resumes.
extension TargetDirectory {
    /// Name of the partial file for a transfer, inside `.xfer`.
    static func partialName(_ id: TransferID) -> String { "\(id).part" }

    /// Bytes held for `id` from an earlier connection, if any. A partial with other names
    /// (hard links, made by someone with access to `.xfer`) is not the receiver's alone:
    /// bytes written to it would appear under those names too, and whoever holds them could
    /// change it after the commit. It is removed, and the stream starts afresh.
    func partialSize(_ id: TransferID) -> UInt64? {
        guard let info = try? state.status(of: TargetDirectory.partialName(id)), info.st_mode & S_IFMT == S_IFREG
        else { return nil }
        guard info.st_nlink == 1 else {
            removePartial(id)
            return nil
        }
        return UInt64(info.st_size)
    }

    /// Removes the partial file of `id` (nothing if there is none).
    func removePartial(_ id: TransferID) {
        _ = try? state.removeEntry(TargetDirectory.partialName(id))
    }

    /// The partial files in `.xfer`, oldest first.
    /// - Parameter withNames: Whether to read the name each is to be committed under (an
    ///   open per file: for `xfer state`, not for the receiver's frequent checks).
    func partials(withNames: Bool = false) -> [KeptPartial] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var result: [KeptPartial] = []
        for bytes in state.entryNames() {
            guard let name = String(validating: bytes, as: UTF8.self), name.hasSuffix(".part"),
                let info = try? state.status(of: name), info.st_mode & S_IFMT == S_IFREG
            else { continue }
            let age = Double(now.tv_sec - info.st_mtim.tv_sec) + Double(now.tv_nsec - info.st_mtim.tv_nsec) / 1e9
            var destination: String?
            if withNames,
                let file = try? FileDescriptor.openRegularFile(
                    name,
                    in: state,
                    flags: O_RDONLY | O_NOFOLLOW,
                    singleName: false
                )
            {
                destination = PartialFile.recordedName(of: file)
            }
            result.append(KeptPartial(name: name, size: UInt64(info.st_size), age: age, destination: destination))
        }
        return result.sorted { $0.age > $1.age }
    }

    /// Removes partial files older than `maximumAge` seconds, then the oldest until the rest
    /// hold at most `maximumBytes`. A partial being written (its lock held) is never removed.
    /// - Returns: The partials removed.
    @discardableResult
    func expirePartials(maximumAge: Double, maximumBytes: UInt64, withNames: Bool = false) -> [KeptPartial] {
        var kept = partials(withNames: withNames)
        var total = kept.reduce(UInt64(0)) { $0 &+ $1.size }
        var removed: [KeptPartial] = []
        var index = 0
        while index < kept.count {
            let partial = kept[index]
            guard partial.age > maximumAge || total > maximumBytes, removePartialIfIdle(partial.name) else {
                index += 1
                continue
            }
            total -= partial.size
            removed.append(partial)
            kept.remove(at: index)
        }
        return removed
    }

    /// Removes `.xfer/name` unless another open file holds its lock (a stream being written).
    func removePartialIfIdle(_ name: String) -> Bool {
        guard
            let file = try? FileDescriptor.openRegularFile(
                name,
                in: state,
                flags: O_RDWR | O_NOFOLLOW,
                singleName: false
            ),
            (try? file.tryLockExclusive()) == true
        else { return false }
        // Unlinked while locked: no writer can have opened it in between and kept writing.
        return (try? state.removeEntry(name)) != nil
    }
}
