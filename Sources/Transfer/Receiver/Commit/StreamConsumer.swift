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
/// - standard input: the committed file, read-only, from its start;
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

    /// Runs the command on `input` and waits for it.
    /// - Throws: ``SystemError`` when it cannot be started.
    func run(input: FileDescriptor, environment: [(name: String, value: String)]) throws(SystemError) -> ChildStatus {
        let pid = try ChildProcess.spawn(
            "/bin/sh",
            ["/bin/sh", "-c", command],
            standardInput: input,
            environment: environment
        )
        return ChildProcess.wait(pid)
    }
}
