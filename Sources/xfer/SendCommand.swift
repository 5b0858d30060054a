import Transfer

/// `xfer send PATH... HOST[:PORT]`
struct SendCommand {
    static let help = """
        OVERVIEW: Send files, directories or standard input; exit 0 only when the receiver
        confirms that every byte arrived intact and is durable on its disk.

        USAGE: xfer send [--name NAME] [--json] [--quiet] [--timeout SECONDS] PATH... HOST[:PORT]

        ARGUMENTS:
          PATH        A file; a directory (sent recursively, relative paths kept; symbolic
                      links and special files inside it are skipped with a warning); or -
                      for standard input, a stream of unknown length.
          HOST[:PORT] The receiver (default port \(Endpoint.defaultPort)); IPv6 as [ADDR]:PORT.

        OPTIONS:
          --name NAME            Name of the standard-input stream on the receiver (default: stdin).
          --json                 One JSON object per event on stdout (connected, started,
                                 progress, confirmed, failed, done).
          --quiet                Print nothing but errors.
          --timeout SECONDS      Give up when the receiver is silent this long (default 30).
          --connect-timeout SECONDS  Give up connecting after this long (default 10).
          --keepalive SECONDS    While standard input is quiet, tell the receiver every
                                 SECONDS that the sender is alive (default 5).
          -h, --help             Show this help.

        EXIT STATUS:
        \(ExitCode.table)
        """

    let sources: [SendSource]
    let endpoint: Endpoint
    let options: SenderOptions
    let json: Bool
    let quiet: Bool

    init(_ arguments: [String]) throws(UsageError) {
        let parsed = try Arguments(
            arguments,
            valueOptions: ["name", "timeout", "connect-timeout", "keepalive"],
            flagOptions: ["json", "quiet"]
        )
        guard parsed.positional.count >= 2 else {
            throw UsageError(
                message: parsed.positional.isEmpty ? "missing PATH and HOST" : "missing HOST after the paths"
            )
        }
        let destination = parsed.positional.last!
        guard let endpoint = Endpoint(parsing: destination) else {
            throw UsageError(message: "'\(destination)' is not HOST or HOST:PORT")
        }
        let paths = Array(parsed.positional.dropLast())
        if paths.filter({ $0 == "-" }).count > 1 {
            throw UsageError(message: "standard input (-) can be sent only once")
        }
        let name = parsed.value("name") ?? "stdin"
        if parsed.value("name") != nil && !paths.contains("-") {
            throw UsageError(message: "--name names standard input (-), which is not sent")
        }
        var options = SenderOptions()
        options.idleTimeout = try parsed.seconds("timeout", default: options.idleTimeout)
        options.connectTimeout = try parsed.seconds("connect-timeout", default: options.connectTimeout)
        options.keepAliveInterval = try parsed.seconds("keepalive", default: options.keepAliveInterval)
        self.endpoint = endpoint
        self.options = options
        json = parsed.flag("json")
        quiet = parsed.flag("quiet")
        // Sources are expanded here so that a missing file fails before connecting.
        do {
            sources = try SendSource.expand(paths, standardInputName: name) { path, why in
                printError("xfer: skipping '\(path)': \(why)")
            }
        } catch {
            printError("xfer: \(error)")
            throw UsageError(message: "", exitCode: ExitCode(error))
        }
    }

    func run() -> ExitCode {
        let reporter = SendReporter(json: json, quiet: quiet)
        let report = Sender(endpoint: endpoint, options: options).send(sources) { reporter.handle($0) }
        let code = report.primaryError.map(ExitCode.init) ?? .confirmed
        reporter.finish(report, exitCode: code)
        return code
    }
}
