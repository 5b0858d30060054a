import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// `xfer send PATH... HOST[:PORT]`
struct SendCommand {
    static let help = """
        OVERVIEW: Send files, directories or standard input; exit 0 only when the receiver
        confirms that every byte arrived intact and is durable on its disk.

        USAGE: xfer send [--key FILE] [--name NAME] [--json] [--quiet] [--timeout SECONDS]
                         [--no-resume] [--allow-nondurable] PATH... HOST[:PORT]
               xfer send --run COMMAND --name NAME [options] [PATH...] HOST[:PORT]

        ARGUMENTS:
          PATH        A file; a directory (sent recursively, relative paths kept; symbolic
                      links and special files inside it are skipped with a warning); or -
                      for standard input, a stream of unknown length. A source that cannot
                      be read, or whose name cannot be sent (not UTF-8, too long), is
                      skipped with a message and the rest is sent (exit 23).
          HOST[:PORT] The receiver (default port \(Endpoint.defaultPort)); IPv6 as [ADDR]:PORT.

        OPTIONS:
          --name NAME            Name of the standard-input stream (or of --run's output) on the
                                 receiver (default: stdin).
          --run COMMAND          Run COMMAND (/bin/sh -c) and send its standard output as NAME,
                                 ended only if it exits 0: a failing producer (a dump that dies
                                 half-way) is cancelled, nothing is committed, and xfer exits 74
                                 naming its status. With -, exit 0 means the bytes that came
                                 arrived, not that whatever wrote them succeeded: use --run.
          --json                 One JSON object per event on stdout (connected, started,
                                 progress, confirmed, failed, skipped, warning, done).
          --quiet                Print nothing but errors.
          --timeout SECONDS      Give up when the receiver is silent this long (default 30).
          --connect-timeout SECONDS  Give up connecting after this long (default 10).
          --keepalive SECONDS    While standard input is quiet, or a file is being hashed, tell
                                 the receiver every SECONDS that the sender is alive (default 5).
          --no-resume            Send every file afresh under a new transfer ID: nothing the
                                 receiver kept or committed earlier is reused.
          --allow-nondurable     Exit 0 even when the receiver confirms without the durable flag.
          --key FILE             A pre-shared key (xfer keygen; default: the file $XFER_KEY_FILE
                                 names): the receiver must prove it before anything is sent.
          --raw                  Send one unframed stream to a plain TCP peer (nc -l, a printer);
                                 it can show only what the peer's TCP acknowledged, not what its
                                 application read: see `xfer send --raw --help` (exit 0, 78-80).
          -h, --help             Show this help.
          (SECONDS: from 0.001 to 1000000.)

        EXIT STATUS:
        \(ExitCode.table)
          When several apply: the connection's failure; else the first failed stream's, in
          command-line order; else 73; else 23 (74 if nothing at all could be sent).
        """

    let sources: [SendSource]
    let endpoint: Endpoint
    let options: SenderOptions
    let json: Bool
    let quiet: Bool
    let allowNondurable: Bool
    let reporter: SendReporter

    init(_ arguments: [String]) throws(UsageError) {
        let parsed = try Arguments(
            arguments,
            valueOptions: ["name", "run", "timeout", "connect-timeout", "keepalive", "key"],
            flagOptions: ["json", "quiet", "no-resume", "allow-nondurable"]
        )
        let command = parsed.value("run")
        guard parsed.positional.count >= (command == nil ? 2 : 1) else {
            throw UsageError(
                message: parsed.positional.isEmpty ? "missing PATH and HOST" : "missing HOST after the paths"
            )
        }
        let destination = parsed.positional.last!
        let endpoint: Endpoint
        do throws(EndpointError) {
            endpoint = try Endpoint(validating: destination)
        } catch {
            throw UsageError(message: error.description)
        }
        let paths = Array(parsed.positional.dropLast())
        if paths.filter({ $0 == "-" }).count > 1 {
            throw UsageError(message: "standard input (-) can be sent only once")
        }
        let name = parsed.value("name") ?? "stdin"
        if let command {
            if command.isEmpty { throw UsageError(message: "--run needs a command") }
            if paths.contains("-") {
                throw UsageError(message: "--run and - are both a stream named by --name: send one of them")
            }
            if parsed.value("name") == nil {
                throw UsageError(message: "--run needs --name: the name its output is committed under")
            }
        } else if parsed.value("name") != nil && !paths.contains("-") {
            throw UsageError(message: "--name names standard input (-), which is not sent")
        }
        if let problem = SendSource.nameProblem(name) {
            throw UsageError(message: "'--name' cannot be used as a name on the receiver: \(problem)")
        }
        var options = SenderOptions()
        options.idleTimeout = try parsed.seconds("timeout", default: options.idleTimeout)
        options.connectTimeout = try parsed.seconds("connect-timeout", default: options.connectTimeout)
        options.keepAliveInterval = try parsed.seconds("keepalive", default: options.keepAliveInterval)
        options.resume = !parsed.flag("no-resume")
        options.key = try KeyFile.key(option: parsed.value("key"))
        self.endpoint = endpoint
        self.options = options
        json = parsed.flag("json")
        quiet = parsed.flag("quiet")
        allowNondurable = parsed.flag("allow-nondurable")
        let reporter = SendReporter(json: json, quiet: quiet)
        self.reporter = reporter
        // Sources are expanded here, so what cannot be sent is known before connecting.
        var sources = SendSource.expand(paths, standardInputName: name) { reporter.skipped($0) }
        if let command { sources.append(.command(command, name: name)) }
        try SendCommand.checkDuplicates(sources)
        self.sources = sources
    }

    /// Two sources with one transfer ID (the same file named twice) or one final name
    /// would race or overwrite each other on the receiver: refuse before connecting.
    private static func checkDuplicates(_ sources: [SendSource]) throws(UsageError) {
        var byName: [String: String] = [:]
        var byFile: [String: String] = [:]
        for source in sources {
            guard case .file(let path, let name) = source else { continue }
            if let earlier = byName[name] {
                throw UsageError(message: "'\(earlier)' and '\(path)' would both be '\(name)' on the receiver")
            }
            byName[name] = path
            var info = stat()
            if stat(path, &info) == 0 {
                let key = "\(info.st_dev):\(info.st_ino)"
                if let earlier = byFile[key] {
                    throw UsageError(message: "'\(earlier)' and '\(path)' are the same file, named twice")
                }
                byFile[key] = path
            }
        }
    }

    func run() -> ExitCode {
        let reporter = self.reporter
        if sources.isEmpty {
            // Every source was skipped: nothing to send, and nothing sent.
            var report = SendReport()
            report.warnings = []
            let code: ExitCode = reporter.lostSources > 0 ? .localIO : .confirmed
            if code != .confirmed { printError("xfer: nothing to send") }
            reporter.finish(report, exitCode: code)
            return code
        }
        Interruption.watch {
            reporter.interrupted()
            return .interrupted
        }
        let report = Sender(endpoint: endpoint, options: options).send(sources) { reporter.handle($0) }
        let code = ExitCode.verdict(report, lostSources: reporter.lostSources, allowNondurable: allowNondurable)
        reporter.finish(report, exitCode: code)
        return code
    }
}
