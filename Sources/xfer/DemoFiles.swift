import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// The few file operations the demos need (a scratch directory, a file written whole, two
/// files compared, the tree removed), on plain system calls: the CLI does without
/// Foundation, which would add megabytes to a static binary for these alone.
enum DemoFiles {
    /// `$TMPDIR/NAME-PID` (or under /tmp), created mode 0700.
    static func scratchDirectory(_ name: String) throws(SystemError) -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = (base.hasSuffix("/") ? base : base + "/") + "\(name)-\(getpid())"
        try makeDirectory(path)
        return path
    }

    /// Creates `path` (its parent must exist), mode 0700.
    static func makeDirectory(_ path: String) throws(SystemError) {
        guard mkdir(path, 0o700) == 0 else { throw SystemError("mkdir", path) }
    }

    /// Writes `bytes` to a new file at `path`, whole.
    static func write(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw SystemError("write", path) }
            offset += written
        }
    }

    /// Whether both files can be read and hold the same bytes.
    static func sameContents(_ first: String, _ second: String) -> Bool {
        let a = open(first, O_RDONLY | O_CLOEXEC)
        let b = open(second, O_RDONLY | O_CLOEXEC)
        defer {
            if a >= 0 { close(a) }
            if b >= 0 { close(b) }
        }
        guard a >= 0, b >= 0 else { return false }
        var left = [UInt8](repeating: 0, count: 1 << 16)
        var right = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = readFull(a, &left)
            guard count >= 0, readFull(b, &right) == count else { return false }
            if count == 0 { return true }
            guard left[..<count] == right[..<count] else { return false }
        }
    }

    /// Fills as much of `buffer` as the file has left: its count, 0 at the end, -1 on an error.
    private static func readFull(_ fd: CInt, _ buffer: inout [UInt8]) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return -1 }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// Removes `path` and everything under it, not following symbolic links; what cannot be
    /// removed is left (a scratch directory under the temporary directory).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            unlink(path)
            return
        }
        if let directory = opendir(path) {
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names { removeTree(path + "/" + name) }
        }
        rmdir(path)
    }
}
