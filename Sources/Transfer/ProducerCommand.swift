#if canImport(Glibc)
    import Glibc
#endif

/// A program whose standard output is sent as one stream (`xfer send --run`), started by
/// the sender itself so that its exit status decides whether the stream ends (END) or is
/// cancelled (CANCEL): a dump that fails half-way is never committed under its name.
///
/// The command runs as `/bin/sh -c COMMAND`, with the sender's standard input and error,
/// its standard output a pipe the sender reads, and the signal state a fresh program
/// expects: every signal at its default action and none blocked (the sender ignores
/// SIGPIPE and its threads block the signals it waits for; a child would inherit both
/// across `exec`, and a producer that ignores SIGPIPE behaves differently when cut off).
final class ProducerCommand {
    /// The command line, as given.
    let command: String
    /// The process ID of the shell running it.
    let pid: pid_t
    /// The read end of the pipe carrying its standard output.
    let output: CInt
    private var status: ProducerStatus?

    /// Starts `command`.
    /// - Throws: ``SystemError`` when the pipe or the process cannot be made.
    init(_ command: String) throws(SystemError) {
        var ends: [CInt] = [0, 0]
        guard pipe(&ends) == 0 else { throw SystemError("pipe", "for --run") }
        // Neither end may leak into another child; dup2 below gives the program its copy.
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        // dup2 clears close-on-exec on the copy: only standard output reaches the program.
        posix_spawn_file_actions_adddup2(&actions, ends[1], STDOUT_FILENO)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let arguments: [UnsafeMutablePointer<CChar>?] =
            ["/bin/sh", "-c", command].map { (text: String) in strdup(text) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var pid: pid_t = 0
        let failed = posix_spawn(&pid, "/bin/sh", &actions, &attributes, arguments, environ)
        close(ends[1])
        guard failed == 0 else {
            close(ends[0])
            throw SystemError("posix_spawn", "/bin/sh", errno: failed)
        }
        self.command = command
        self.pid = pid
        output = ends[0]
    }

    /// Waits for the program to end (after its output reached end of file) and returns
    /// how it ended. Blocks while it runs on with its output closed.
    func finish() -> ProducerStatus {
        if let status { return status }
        close(output)
        var raw: CInt = 0
        while waitpid(pid, &raw, 0) < 0 {
            guard errno == EINTR else {
                let status = ProducerStatus.unknown(errno: errno)
                self.status = status
                return status
            }
        }
        let status = ProducerStatus(waitStatus: raw)
        self.status = status
        return status
    }

    /// Stops the program (SIGTERM) and reaps it, when the stream ends before its output
    /// did (the connection was lost, the receiver refused): it must not run on, writing to
    /// nobody, after the sender has exited.
    func stop() {
        guard status == nil else { return }
        kill(pid, SIGTERM)
        // A program that ignores or blocks SIGTERM gets 2 s, then SIGKILL: stopping must
        // never hang the sender.
        for _ in 0..<200 {
            var raw: CInt = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                close(output)
                status = ProducerStatus(waitStatus: raw)
                return
            }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        _ = finish()
    }
}

/// How a ``ProducerCommand`` ended.
enum ProducerStatus: Equatable, CustomStringConvertible {
    /// It exited with this status (0 is success).
    case exited(CInt)
    /// A signal ended it.
    case killed(signal: CInt)
    /// `waitpid` failed: its status cannot be known, so it is not success.
    case unknown(errno: CInt)

    init(waitStatus raw: CInt) {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (macros).
        let signal = raw & 0x7F
        self = signal == 0 ? .exited((raw >> 8) & 0xFF) : .killed(signal: signal)
    }

    /// Whether the program succeeded: only then is its output a whole stream.
    var succeeded: Bool { self == .exited(0) }

    var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .killed(let signal): return "was killed by signal \(signal) (\(String(cString: strsignal(signal))))"
        case .unknown(let error): return "ended with an unknown status (waitpid: \(String(cString: strerror(error))))"
        }
    }
}
