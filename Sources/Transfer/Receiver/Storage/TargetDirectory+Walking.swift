import Framing

#if canImport(Glibc)
    import Glibc
#endif

// Walking names in a TargetDirectory: one component open at a time, no link followed.
extension TargetDirectory {
    /// The directory that holds `name.leaf`, walked from the target without following
    /// links.
    struct Parent {
        /// The parent directory; `nil` when it does not exist yet (walked without `create`).
        var directory: FileDescriptor?
        /// The deepest directory that exists on the way (the parent itself when it exists).
        var deepestExisting: FileDescriptor
    }

    /// Walks to the parent of `name.leaf`, one component open at a time; with `create`,
    /// makes missing directories (0o755). A commit walks with ``walkForCommit(_:visit:)``,
    /// which also says which directories must be synced.
    /// - Throws: ``TransferError/refused(code:message:)``: `badName` when a component is a
    ///   link or not a directory, `ioError` (or `noSpace`) when a directory cannot be made.
    func parent(of name: WireName, create: Bool) throws(TransferError) -> Parent {
        var current: FileDescriptor
        do {
            current = try FileDescriptor.open(".", in: root, flags: O_RDONLY | O_DIRECTORY)
        } catch {
            throw .refused(code: .ioError, message: "cannot open the target directory: \(error.reason)")
        }
        for component in name.directories {
            guard let next = try step(into: component, of: name, from: current, create: create) else {
                return Parent(directory: nil, deepestExisting: current)
            }
            current = next
        }
        return Parent(directory: current, deepestExisting: current)
    }

    /// The directory a commit renames a file into.
    struct CommitParent {
        /// The directory, open.
        var handle: FileDescriptor
        /// Its identity, to check after the commit that the name still leads to it.
        var key: DurableDirectories.Key
    }

    /// Walks to the parent of `name.leaf` for a commit, making missing directories (0o755).
    /// One component is open at a time (plus what `visit` keeps), so any depth can be
    /// walked with a few descriptors.
    /// - Parameter visit: Called for each directory on the way with its parent (open), the
    ///   parent's place (components joined by "/", "" for the target) and the directory's
    ///   identity: the caller decides whether the parent must be synced for it.
    /// - Throws: As ``parent(of:create:)``.
    func walkForCommit(
        _ name: WireName,
        visit: (FileDescriptor, String, DurableDirectories.Key) -> Void
    ) throws(TransferError) -> CommitParent {
        var current: FileDescriptor
        var info: stat
        do {
            current = try FileDescriptor.open(".", in: root, flags: O_RDONLY | O_DIRECTORY)
            info = try current.status()
        } catch {
            throw .refused(code: .ioError, message: "cannot open the target directory: \(error.reason)")
        }
        for (depth, component) in name.directories.enumerated() {
            let next = try step(into: component, of: name, from: current, create: true)!
            do {
                info = try next.status()
            } catch {
                throw .refused(code: .ioError, message: "cannot stat directory '\(component)': \(error.reason)")
            }
            visit(current, name.components[..<depth].joined(separator: "/"), DurableDirectories.Key(info))
            current = next
        }
        return CommitParent(handle: current, key: DurableDirectories.Key(info))
    }

    /// The identity of the directory that holds `name.leaf` now, walked from the target
    /// without following links; `nil` when the walk does not get there.
    func directoryKey(of name: WireName) -> DurableDirectories.Key? {
        guard let parent = try? parent(of: name, create: false), let directory = parent.directory,
            let info = try? directory.status()
        else { return nil }
        return DurableDirectories.Key(info)
    }

    /// Opens `component` in `current` without following links; with `create`, makes it
    /// first when missing. `nil` when it is missing and not to be made.
    private func step(
        into component: String,
        of name: WireName,
        from current: FileDescriptor,
        create: Bool
    ) throws(TransferError) -> FileDescriptor? {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW
        var next = try? FileDescriptor.open(component, in: current, flags: flags)
        var failure = errno
        if next == nil && failure == ENOENT {
            guard create else { return nil }
            do throws(SystemError) {
                try current.makeDirectory(component, mode: 0o755, allowingExisting: true)
            } catch {
                throw .refused(
                    code: error.isNoSpace ? .noSpace : .ioError,
                    message: "cannot create directory '\(component)' for '\(name.text)': \(error.reason)"
                )
            }
            next = try? FileDescriptor.open(component, in: current, flags: flags)
            failure = errno
        }
        guard let next else {
            if failure == ELOOP || failure == ENOTDIR {
                throw .refused(
                    code: .badName,
                    message: "'\(component)' in '\(name.text)' is not a directory inside the target (a link or a file)"
                )
            }
            throw .refused(
                code: .ioError,
                message:
                    "cannot open directory '\(component)' for '\(name.text)': \(SystemError("open", errno: failure).reason)"
            )
        }
        return next
    }
}
