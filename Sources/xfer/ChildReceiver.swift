import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// A child `xfer receive --listen 127.0.0.1:0 --once` (this same executable), as the demos
/// start one: a separate process, as in real use. Started with `posix_spawn`, its standard
/// error on a pipe.
struct ChildReceiver {
    /// Why it could not be started.
    struct Failure: Error {
        let message: String
    }

    /// Its process ID.
    let pid: pid_t
    /// Where it listens.
    let endpoint: Endpoint
    /// The read end of its standard error, past the "listening on" line.
    private let log: CInt

    /// Starts it into `inbox` and waits for its first line, "xfer: listening on HOST:PORT"
    /// (the readiness signal: no sleeping).
    init(inbox: String) throws(Failure) {
        var ends: [CInt] = [-1, -1]
        // pipe2 is a GNU extension Glibc's module hides; nothing else is started meanwhile.
        guard pipe(&ends) == 0 else { throw Failure(message: "cannot start the receiver: \(SystemError("pipe"))") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 onto descriptor 2 clears close-on-exec there; the pipe's own ends close.
        posix_spawn_file_actions_adddup2(&actions, ends[1], STDERR_FILENO)
        // Signals the parent blocks or ignores (Ctrl-C is waited for on a thread) must not
        // stay blocked in the child, which handles them itself.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let arguments = ["xfer", "receive", "--listen", "127.0.0.1:0", "--dir", inbox, "--once"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, &argv, environ)
        close(ends[1])
        guard status == 0 else {
            close(ends[0])
            throw Failure(message: "cannot start the receiver: \(SystemError("posix_spawn", errno: status))")
        }
        self.pid = pid
        log = ends[0]
        var firstLine: [UInt8] = []
        var byte: UInt8 = 0
        // One byte at a time up to the newline: what follows stays in the pipe for `finish`.
        while read(ends[0], &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") { break }
            firstLine.append(byte)
        }
        let text = String(decoding: firstLine, as: UTF8.self)
        guard let range = text.firstRange(of: "listening on "),
            let endpoint = Endpoint(parsing: String(text[range.upperBound...]))
        else {
            kill(pid, SIGTERM)
            close(ends[0])
            throw Failure(message: "the receiver did not start: \(text)")
        }
        self.endpoint = endpoint
    }

    /// Waits for it to exit; returns the rest of what it wrote on standard error.
    func finish() -> String {
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(log, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            output += buffer[..<count]
        }
        close(log)
        var status: CInt = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return String(decoding: output, as: UTF8.self)
    }
}
