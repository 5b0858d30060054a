import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// One thing to send: a regular file, or standard input as a stream of unknown length.
public enum SendSource: Sendable, Hashable {
    /// The file at `path`, named `name` (a relative `/`-separated path) on the receiver.
    case file(path: String, name: String)
    /// Standard input, read until end of file, named `name` on the receiver.
    case standardInput(name: String)
    /// The standard output of `command` (run by `/bin/sh -c`), named `name` on the
    /// receiver: ended (END) only if the command exits 0, cancelled otherwise.
    case command(String, name: String)

    /// The name on the receiver.
    public var name: String {
        switch self {
        case .file(_, let name), .standardInput(let name), .command(_, let name): return name
        }
    }

    /// A path that was not turned into a source, and why.
    public struct Skip: Sendable, Equatable {
        /// The path as the user or the directory walk named it.
        public var path: String
        /// Why, in words.
        public var reason: String
        /// Whether it was meant to be sent and could not be (missing, unreadable, a name
        /// that cannot go on the wire): the run is then only partly done. Links and
        /// special files inside directories are skipped by design (`false`).
        public var isLoss: Bool
    }

    /// Expands command-line paths into sources: a file stands for itself (named by its
    /// last component), a directory for every regular file below it (named by the
    /// directory's last component and the relative path), `-` for standard input.
    ///
    /// Nothing here aborts the rest: a path that cannot be read, or whose name cannot be
    /// sent (not valid UTF-8, longer than SPEC.md §9 allows), is reported through `onSkip`
    /// and left out. Inside directories, symbolic links and special files (devices, FIFOs,
    /// sockets) are skipped too; a link named on the command line is followed. Directory
    /// entries are read as bytes, so a name that is not UTF-8 is seen for what it is.
    public static func expand(
        _ paths: [String],
        standardInputName: String = "stdin",
        onSkip: (Skip) -> Void = { _ in }
    ) -> [SendSource] {
        var sources: [SendSource] = []
        for path in paths {
            if path == "-" {
                sources.append(.standardInput(name: standardInputName))
                continue
            }
            var info = stat()
            guard stat(path, &info) == 0 else {
                onSkip(Skip(path: path, reason: SystemError("stat").reason, isLoss: true))
                continue
            }
            let base = lastComponent(of: path)
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                guard access(path, R_OK) == 0 else {
                    onSkip(Skip(path: path, reason: SystemError("access").reason, isLoss: true))
                    continue
                }
                if let problem = nameProblem(base) {
                    onSkip(Skip(path: path, reason: problem, isLoss: true))
                    continue
                }
                sources.append(.file(path: path, name: base))
            case S_IFDIR:
                walk(directory: path, name: base, into: &sources, onSkip: onSkip)
            default:
                onSkip(Skip(path: path, reason: "not a regular file or directory", isLoss: true))
            }
        }
        return sources
    }

    /// Why `name` cannot be sent as a stream's name (SPEC.md §9), or `nil`.
    public static func nameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "the name is empty" }
        if bytes.count > ProtocolLimits.maxNameBytes {
            return "its name is \(bytes.count) bytes, over the protocol's \(ProtocolLimits.maxNameBytes)"
        }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "its name holds a control character" }
        for part in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if part.count > ProtocolLimits.maxNameComponentBytes {
                return "a component of its name is over \(ProtocolLimits.maxNameComponentBytes) bytes"
            }
            if part.isEmpty || part.elementsEqual([0x2E]) || part.elementsEqual([0x2E, 0x2E]) {
                return "its name has an empty, '.' or '..' component"
            }
        }
        return nil
    }

    private static func walk(
        directory: String,
        name: String,
        into sources: inout [SendSource],
        onSkip: (Skip) -> Void
    ) {
        guard let handle = opendir(directory) else {
            onSkip(
                Skip(
                    path: directory,
                    reason: "cannot read the directory: \(SystemError("opendir").reason)",
                    isLoss: true
                )
            )
            return
        }
        var entries: [String] = []
        while let entry = readdir(handle) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            guard let entryName = String(validating: bytes, as: UTF8.self) else {
                // The wire carries UTF-8 names only; such a file cannot be named there.
                let shown = String(decoding: bytes, as: UTF8.self)
                onSkip(
                    Skip(
                        path: joined(directory, shown),
                        reason: "its name is not valid UTF-8, so it cannot be named on the wire",
                        isLoss: true
                    )
                )
                continue
            }
            entries.append(entryName)
        }
        closedir(handle)
        for entry in entries.sorted() {
            let path = joined(directory, entry)
            let relative = name.isEmpty ? entry : name + "/" + entry
            var info = stat()
            guard lstat(path, &info) == 0 else {
                onSkip(Skip(path: path, reason: SystemError("lstat").reason, isLoss: true))
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                guard access(path, R_OK) == 0 else {
                    onSkip(Skip(path: path, reason: SystemError("access").reason, isLoss: true))
                    continue
                }
                if let problem = nameProblem(relative) {
                    onSkip(Skip(path: path, reason: problem, isLoss: true))
                    continue
                }
                sources.append(.file(path: path, name: relative))
            case S_IFDIR: walk(directory: path, name: relative, into: &sources, onSkip: onSkip)
            case S_IFLNK:
                onSkip(Skip(path: path, reason: "symbolic link (not followed inside directories)", isLoss: false))
            default: onSkip(Skip(path: path, reason: "not a regular file", isLoss: false))
            }
        }
    }

    private static func joined(_ directory: String, _ entry: String) -> String {
        directory.hasSuffix("/") ? directory + entry : directory + "/" + entry
    }

    /// The last non-empty component of a path ("." and "/" have none: their files are named
    /// by their paths below them).
    private static func lastComponent(of path: String) -> String {
        let parts = path.split(separator: "/")
        guard let last = parts.last, last != ".", last != ".." else { return "" }
        return String(last)
    }
}
