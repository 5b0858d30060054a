#if canImport(Glibc)
    import Glibc
#endif

/// Starts a program with one of its standard descriptors on a pipe this process reads:
/// `xfer send --run`'s producer (its standard output) and the demos' child receiver (its
/// standard error).
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
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        // dup2 clears close-on-exec on the copy: only that descriptor reaches the program.
        posix_spawn_file_actions_adddup2(&actions, ends[1], piped)
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
        var pid: pid_t = 0
        let failed = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        close(ends[1])
        guard failed == 0 else {
            close(ends[0])
            throw SystemError("posix_spawn", path, errno: failed)
        }
        return (pid, ends[0])
    }
}
