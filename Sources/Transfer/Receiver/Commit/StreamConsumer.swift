import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The program a receiver hands each committed stream to before it acknowledges it
/// (`xfer receive --exec`, SPEC.md §7.3): the ACK then means the file is committed,
/// durable, *and* the program accepted it. A program that does not exit 0 turns the ACK
/// into a non-fatal ERROR `consumerFailed`, and the commit is not recorded, so a retry is
/// received and handed over again rather than answered "already committed".
///
/// The command runs as `/bin/sh -c COMMAND` (``ChildProcess``: default signals), once per
/// file, in offer order, with:
/// - standard input: the committed file, from its start, through the descriptor it was
///   written with (the inode the commit made, whatever its mode or its name now);
/// - standard output and error: the receiver's (its log);
/// - `XFER_NAME` (the name as sent, relative to the target), `XFER_PATH` (the committed
///   file's path), `XFER_SIZE` (its length in bytes) and `XFER_PEER` (the sender's
///   address) in its environment. A name reaches the program only as a variable, never as
///   part of the command line a shell parses.
public struct StreamConsumer: Sendable {
    /// The command line, as given.
    public let command: String

    /// A consumer that runs `command` with `/bin/sh -c`.
    public init(command: String) { self.command = command }

    /// The consumers running now, by process ID.
    private static let running = Mutex<Set<pid_t>>([])

    /// Sends SIGTERM to every consumer still running: the receiver is stopping, and none may
    /// run on unsupervised (their files are not acknowledged, so a retry hands them over
    /// again).
    public static func stopAll() {
        running.withLock { pids in for pid in pids { kill(pid, SIGTERM) } }
    }

    /// Runs the command on `input` and waits for it.
    /// - Throws: ``SystemError`` when it cannot be started.
    func run(input: FileDescriptor, environment: [(name: String, value: String)]) throws(SystemError) -> ChildStatus {
        let pid = try Self.running.withLock { pids throws(SystemError) in
            let pid = try ChildProcess.spawn(
                "/bin/sh",
                ["/bin/sh", "-c", command],
                standardInput: input,
                environment: environment
            )
            pids.insert(pid)
            return pid
        }
        let status = ChildProcess.wait(pid)
        _ = Self.running.withLock { $0.remove(pid) }
        return status
    }
}
