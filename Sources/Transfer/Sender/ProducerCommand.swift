#if canImport(Glibc)
    import Glibc
#endif

/// A program whose standard output is sent as one stream (`xfer send --run`), started by
/// the sender itself so that its exit status decides whether the stream ends (END) or is
/// cancelled (CANCEL): a dump that fails half-way is never committed under its name.
///
/// The command runs as `/bin/sh -c COMMAND` (``ChildProcess``: default signals), with the
/// sender's standard input and error, its standard output a pipe the sender reads.
final class ProducerCommand {
    /// The command line, as given.
    let command: String
    /// The process ID of the shell running it.
    let pid: pid_t
    /// The read end of the pipe carrying its standard output.
    let output: CInt
    private var status: ChildStatus?

    /// Starts `command`.
    /// - Throws: ``SystemError`` when the pipe or the process cannot be made.
    init(_ command: String) throws(SystemError) {
        (pid, output) = try ChildProcess.spawn("/bin/sh", ["/bin/sh", "-c", command], piping: STDOUT_FILENO)
        self.command = command
    }

    /// Waits for the program to end (after its output reached end of file) and returns
    /// how it ended. Blocks while it runs on with its output closed.
    func finish() -> ChildStatus {
        if let status { return status }
        close(output)
        let status = ChildProcess.wait(pid)
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
                status = ChildStatus(waitStatus: raw)
                return
            }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        _ = finish()
    }
}
