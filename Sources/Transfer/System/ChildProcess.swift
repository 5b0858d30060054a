#if canImport(Glibc)
    import Glibc
#endif

/// Starts programs: with one of their standard descriptors on a pipe this process reads
/// (`xfer send --run`'s producer, its standard output; the demos' child receiver, its
/// standard error), or with a file as standard input (`xfer receive --exec`'s consumer).
///
/// The child starts with the signal state a fresh program expects: every signal at its
/// default action and none blocked. xfer ignores SIGPIPE and its threads block the signals
/// they wait for with `sigwait`; a child would inherit both across `exec` (a producer that
/// ignores SIGPIPE behaves differently when cut off; a receiver that blocks SIGTERM cannot
/// be stopped).
public enum ChildProcess {
    /// Starts `path` with `arguments` (`arguments[0]` is the name it sees), its descriptor
    /// `piped` the write end of a new pipe; every other descriptor as this process has it,
    /// less those marked close-on-exec.
    /// - Returns: Its process ID and the pipe's read end (close-on-exec; the caller closes
    ///   it and reaps the child).
    /// - Throws: ``SystemError`` from `pipe` or `posix_spawn`.
    public static func spawn(
        _ path: String,
        _ arguments: [String],
        piping piped: CInt
    ) throws(SystemError) -> (pid: pid_t, output: CInt) {
        var ends: [CInt] = [-1, -1]
        // pipe2 is a GNU extension Glibc's module hides: close-on-exec is set right after.
        guard pipe(&ends) == 0 else { throw SystemError("pipe") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        defer { close(ends[1]) }
        do {
            let pid = try spawn(path, arguments, descriptors: [(ends[1], piped)])
            return (pid, ends[0])
        } catch {
            close(ends[0])
            throw error
        }
    }

    /// Starts `path` with `arguments`, each `descriptors` pair's source as its target
    /// descriptor in the program (the source stays open here), and `environment` added to
    /// this process's (a variable of the same name replaced).
    /// - Returns: Its process ID (the caller reaps it: ``wait(_:)``).
    /// - Throws: ``SystemError`` from `posix_spawn`.
    public static func spawn(
        _ path: String,
        _ arguments: [String],
        descriptors: [(source: CInt, target: CInt)],
        environment: [(name: String, value: String)] = []
    ) throws(SystemError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        // dup2 clears close-on-exec on the copy: only those descriptors reach the program.
        for (source, target) in descriptors { posix_spawn_file_actions_adddup2(&actions, source, target) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { (text: String) in strdup(text) } + [nil]
        defer { for argument in argv { free(argument) } }
        // The inherited environment less the names given, then the names given.
        var inherited: [UnsafeMutablePointer<CChar>?] = []
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if !environment.contains(where: { text.hasPrefix($0.name + "=") }) { inherited.append(entry) }
            cursor += 1
        }
        let added: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.name)=\($0.value)") }
        defer { for entry in added { free(entry) } }
        let envp = inherited + added + [nil]
        var pid: pid_t = 0
        let failed = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard failed == 0 else { throw SystemError("posix_spawn", path, errno: failed) }
        return pid
    }

    /// Starts `path` with `arguments` as ``spawn(_:_:descriptors:environment:)`` does, with
    /// `standardInput` as its standard input (the file stays open here).
    static func spawn(
        _ path: String,
        _ arguments: [String],
        standardInput: FileDescriptor,
        environment: [(name: String, value: String)] = []
    ) throws(SystemError) -> pid_t {
        try spawn(
            path,
            arguments,
            descriptors: [(standardInput.unixDescriptor, STDIN_FILENO)],
            environment: environment
        )
    }

    /// Waits for `pid` to end and says how it ended. The C function is `waitpid`.
    public static func wait(_ pid: pid_t) -> ChildStatus {
        var raw: CInt = 0
        while waitpid(pid, &raw, 0) < 0 {
            guard errno == EINTR else { return .unknown(errno: errno) }
        }
        return ChildStatus(waitStatus: raw)
    }
}

/// How a child process ended.
public enum ChildStatus: Equatable, Sendable, CustomStringConvertible {
    /// It exited with this status (0 is success).
    case exited(CInt)
    /// A signal ended it.
    case killed(signal: CInt)
    /// `waitpid` failed: its status cannot be known, so it is not success.
    case unknown(errno: CInt)

    /// Decodes `waitpid`'s status.
    public init(waitStatus raw: CInt) {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (macros).
        let signal = raw & 0x7F
        self = signal == 0 ? .exited((raw >> 8) & 0xFF) : .killed(signal: signal)
    }

    /// Whether the program succeeded.
    public var succeeded: Bool { self == .exited(0) }

    /// "exited with status 3", "was killed by signal 9 (Killed)".
    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .killed(let signal): return "was killed by signal \(signal) (\(String(cString: strsignal(signal))))"
        case .unknown(let error): return "ended with an unknown status (waitpid: \(String(cString: strerror(error))))"
        }
    }
}
