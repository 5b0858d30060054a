#if canImport(Glibc)
    import Glibc
#endif

/// One thing to send: a regular file, or standard input as a stream of unknown length.
public enum SendSource: Sendable, Hashable {
    /// The file at `path`, named `name` (a relative `/`-separated path) on the receiver.
    case file(path: String, name: String)
    /// Standard input, read until end of file, named `name` on the receiver.
    case standardInput(name: String)

    /// The name on the receiver.
    public var name: String {
        switch self {
        case .file(_, let name), .standardInput(let name): return name
        }
    }

    /// Expands command-line paths into sources: a file stands for itself (named by its
    /// last component), a directory for every regular file below it (named by the
    /// directory's last component and the relative path), `-` for standard input.
    ///
    /// Inside directories, symbolic links and special files (devices, FIFOs, sockets) are
    /// skipped and reported through `onSkip`; a link named on the command line is followed.
    /// - Throws: ``TransferError/localIO(_:)`` naming the first path that cannot be read.
    public static func expand(
        _ paths: [String],
        standardInputName: String = "stdin",
        onSkip: (String, String) -> Void = { _, _ in }
    ) throws(TransferError) -> [SendSource] {
        var sources: [SendSource] = []
        for path in paths {
            if path == "-" {
                sources.append(.standardInput(name: standardInputName))
                continue
            }
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw .localIO("cannot read '\(path)': \(SystemError("stat").reason)")
            }
            let base = lastComponent(of: path)
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                guard access(path, R_OK) == 0 else {
                    throw .localIO("cannot read '\(path)': \(SystemError("access").reason)")
                }
                sources.append(.file(path: path, name: base))
            case S_IFDIR:
                try walk(directory: path, name: base, into: &sources, onSkip: onSkip)
            default:
                throw .localIO("cannot send '\(path)': not a regular file or directory")
            }
        }
        return sources
    }

    private static func walk(
        directory: String,
        name: String,
        into sources: inout [SendSource],
        onSkip: (String, String) -> Void
    ) throws(TransferError) {
        guard let handle = opendir(directory) else {
            throw .localIO("cannot read directory '\(directory)': \(SystemError("opendir").reason)")
        }
        var entries: [String] = []
        while let entry = readdir(handle) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if entryName != "." && entryName != ".." { entries.append(entryName) }
        }
        closedir(handle)
        for entry in entries.sorted() {
            let path = directory.hasSuffix("/") ? directory + entry : directory + "/" + entry
            let relative = name.isEmpty ? entry : name + "/" + entry
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw .localIO("cannot read '\(path)': \(SystemError("lstat").reason)")
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                guard access(path, R_OK) == 0 else {
                    throw .localIO("cannot read '\(path)': \(SystemError("access").reason)")
                }
                sources.append(.file(path: path, name: relative))
            case S_IFDIR: try walk(directory: path, name: relative, into: &sources, onSkip: onSkip)
            case S_IFLNK: onSkip(path, "symbolic link (not followed inside directories)")
            default: onSkip(path, "not a regular file")
            }
        }
    }

    /// The last non-empty component of a path ("." and "/" have none: their files are named
    /// by their paths below them).
    private static func lastComponent(of path: String) -> String {
        let parts = path.split(separator: "/")
        guard let last = parts.last, last != ".", last != ".." else { return "" }
        return String(last)
    }
}
