import Framing

#if canImport(Glibc)
    import Glibc
#endif

// What a TargetDirectory checks of a destination before any data arrives.
extension TargetDirectory {
    /// Refuses, before any data arrives, a destination directory the commit could not use:
    /// one on another file system or mount (the rename would fail with `EXDEV`) or one that
    /// cannot be written (read-only, immutable, no permission). The verdict holds for every
    /// file of that directory, so a connection sending many files into one checks it once;
    /// ``checkLeaf(_:in:)`` is the per-file half.
    func checkedParent(of name: WireName) throws(TransferError) -> Parent {
        let parent = try self.parent(of: name, create: false)
        let where_ = parent.deepestExisting
        do {
            if UInt64(try where_.status().st_dev) != device || TargetDirectory.mountID(of: where_) != mount {
                throw TransferError.refused(
                    code: .ioError,
                    message:
                        "'\(name.text)' would be on another file system or mount than '\(path)/.xfer'; it cannot be renamed into place"
                )
            }
        } catch let error as TransferError {
            throw error
        } catch {
            throw .refused(code: .ioError, message: "cannot check '\(name.text)': \(error)")
        }
        do throws(SystemError) {
            try where_.checkWritable()
        } catch {
            throw .refused(
                code: .ioError,
                message: "cannot write '\(name.text)': its directory is not writable (\(error.reason))"
            )
        }
        return parent
    }

    /// The file's own check: no existing directory of its name in `parent`.
    func checkLeaf(_ name: WireName, in parent: Parent) throws(TransferError) {
        guard let directory = parent.directory else { return }
        let info: stat?
        do {
            info = try directory.status(of: name.leaf)
        } catch {
            throw .refused(code: .ioError, message: "cannot check '\(name.text)': \(error)")
        }
        if let info, info.st_mode & S_IFMT == S_IFDIR {
            throw .refused(code: .badName, message: "'\(name.text)' is an existing directory")
        }
    }
}
