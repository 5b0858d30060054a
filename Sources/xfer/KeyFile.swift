import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Pre-shared key files: written by `xfer keygen`, read by `--key FILE` (or the file that
/// `XFER_KEY_FILE` names). The key itself never appears on a command line, where other
/// users could read it in the process list.
enum KeyFile {
    /// The environment variable that names a key file when `--key` is not given.
    static let environmentVariable = "XFER_KEY_FILE"

    /// The key from `--key FILE`, else from the file `XFER_KEY_FILE` names, else `nil`.
    static func key(option: String?) throws(UsageError) -> AuthenticationKey? {
        if let path = option { return try load(path) }
        if let path = getenv(environmentVariable).map({ String(cString: $0) }), !path.isEmpty {
            return try load(path)
        }
        return nil
    }

    /// Reads a key file, refusing one that group or others may read or write (as ssh does
    /// for private keys): the key is only as secret as its file.
    static func load(_ path: String) throws(UsageError) -> AuthenticationKey {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            throw UsageError(message: "cannot read the key file '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw UsageError(message: "the key file '\(path)' is not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw UsageError(
                message: "the key file '\(path)' may be read or written by others (mode "
                    + "\(String(info.st_mode & 0o777, radix: 8))); run: chmod 600 '\(path)'"
            )
        }
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0, let key = AuthenticationKey(text: String(decoding: bytes[..<count], as: UTF8.self)) else {
            throw UsageError(
                message: "'\(path)' is not an xfer key file: it must hold exactly 'xfer-key-1 ', 64 lower-case hex "
                    + "digits and at most one newline (make one with: xfer keygen FILE)"
            )
        }
        // The key is for the sealed record layer: without a cipher there is nothing to do.
        if let reason = AEAD.unavailableReason {
            throw UsageError(message: "--key needs the system's OpenSSL 3 library: \(reason)", exitCode: .localIO)
        }
        return key
    }

    /// Writes a new random key to `path` (which must not exist), mode 0600.
    static func generate(_ path: String) throws(UsageError) {
        var random = SystemRandomNumberGenerator()  // getrandom(2) on Linux
        let key = AuthenticationKey(bytes: (0..<AuthProof.byteCount).map { _ in random.next() })!
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw UsageError(
                message:
                    "cannot create '\(path)': \(String(cString: strerror(errno))) (an existing key is never overwritten)",
                exitCode: .localIO
            )
        }
        defer { close(fd) }
        let text = Array(key.text.utf8)
        guard fchmod(fd, 0o600) == 0, text.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == text.count,
            fsync(fd) == 0
        else {
            unlink(path)
            throw UsageError(message: "cannot write '\(path)': \(String(cString: strerror(errno)))", exitCode: .localIO)
        }
    }
}

/// `xfer keygen FILE`
struct KeygenCommand: Command {
    static let name = CommandName.keygen

    private let arguments: Arguments
    private var path = ""

    init(_ arguments: Arguments) { self.arguments = arguments }

    mutating func validate() throws(UsageError) {
        guard arguments.positional.count == 1 else { throw UsageError(message: "keygen takes one FILE") }
        path = arguments.positional[0]
    }

    func run() throws(UsageError) -> ExitCode {
        try KeyFile.generate(path)
        printError("xfer: wrote a new key to '\(path)' (mode 0600); give the same file to the other side")
        return .confirmed
    }
}
