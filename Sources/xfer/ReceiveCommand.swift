import Transfer

/// `xfer receive [--listen HOST:PORT] [--dir DIR] [--once]`
struct ReceiveCommand {
    static let help = """
        OVERVIEW: Receive files into a directory. Each file is written to a temporary name,
        checked, synced, renamed into place and synced again before the sender is told it
        arrived. Serves until interrupted, many senders at once.

        USAGE: xfer receive [--listen HOST:PORT] [--dir DIR] [--once] [--timeout SECONDS]
                            [--max-connections N] [--quiet]

        OPTIONS:
          --listen HOST:PORT     Address to listen on (default 0.0.0.0:\(Endpoint.defaultPort); port 0
                                 picks a free port). Prints "xfer: listening on HOST:PORT".
          --dir DIR              Directory to write into (default: the current one). Its
                                 .xfer/ subdirectory holds partial files and the commit log.
          --once                 Serve one connection, then exit (0 if it ended cleanly).
          --timeout SECONDS      Drop a peer silent this long (default 30).
          --max-connections N    Serve at most N senders at once (default 64).
          --max-per-address N    At most N connections from one address at once (default 16).
          --handshake-timeout SECONDS
                                 Drop a connection that has not completed its handshake this
                                 long after it was accepted, however it trickles (default 10).
          --keep-partials TIME   Keep the partial file of an interrupted transfer this long for a
                                 resume (default 7d; s, m, h, d suffixes). Partials together hold
                                 at most a quarter of the file system; the oldest go first.
          --umask OCTAL          Permission bits never given to received files (default: the
                                 process umask plus o+w: nothing received is world-writable).
          --quiet                Log nothing but the listening line and errors.
          -h, --help             Show this help.
        """

    let listen: Endpoint
    let directory: String
    let once: Bool
    let quiet: Bool
    let options: ReceiverOptions

    init(_ arguments: [String]) throws(UsageError) {
        let parsed = try Arguments(
            arguments,
            valueOptions: [
                "listen", "dir", "timeout", "max-connections", "max-per-address", "handshake-timeout", "keep-partials",
                "umask",
            ],
            flagOptions: ["once", "quiet"]
        )
        if let extra = parsed.positional.first { throw UsageError(message: "unexpected argument '\(extra)'") }
        let address = parsed.value("listen") ?? "0.0.0.0:\(Endpoint.defaultPort)"
        guard let listen = Endpoint(parsing: address) else {
            throw UsageError(message: "'\(address)' is not HOST:PORT")
        }
        var options = ReceiverOptions()
        options.idleTimeout = try parsed.seconds("timeout", default: options.idleTimeout)
        if let text = parsed.value("max-connections") {
            guard let count = Int(text), count > 0, count <= 1_000_000 else {
                throw UsageError(message: "'--max-connections' takes a whole number from 1 to 1000000")
            }
            options.maxConnections = count
        }
        if let text = parsed.value("max-per-address") {
            guard let count = Int(text), count > 0, count <= 1_000_000 else {
                throw UsageError(message: "'--max-per-address' takes a whole number from 1 to 1000000")
            }
            options.maxPerAddress = count
        }
        options.handshakeTimeout = try parsed.seconds("handshake-timeout", default: options.handshakeTimeout)
        if let text = parsed.value("keep-partials") {
            guard let seconds = Arguments.duration(text) else {
                throw UsageError(
                    message: "'--keep-partials' takes a duration such as 90s, 30m, 12h or 7d, not '\(text)'"
                )
            }
            options.partialRetention = seconds
        }
        if let text = parsed.value("umask") {
            guard let mask = UInt16(text, radix: 8), mask <= 0o777 else {
                throw UsageError(message: "'--umask' takes octal permission bits such as 022 or 077, not '\(text)'")
            }
            options.umask = .init(mask)
        }
        self.listen = listen
        directory = parsed.value("dir") ?? "."
        once = parsed.flag("once")
        quiet = parsed.flag("quiet")
        self.options = options
    }

    func run() -> ExitCode {
        let receiver: Receiver
        let bound: Endpoint
        do {
            receiver = try Receiver(directory: directory, options: options)
            bound = try receiver.listen(on: listen)
        } catch {
            printError("xfer: \(error)")
            return ExitCode(error)
        }
        printError("xfer: listening on \(bound)")
        let quiet = self.quiet
        let summary = receiver.serve(once: once) { line in
            if !quiet { printError("xfer: \(line)") }
        }
        guard let summary else { return .confirmed }
        if !quiet { printError("xfer: \(summary.logLine)") }
        if let failure = summary.failure { return ExitCode(failure) }
        return summary.failedFiles > 0 ? .refused : .confirmed
    }
}
