import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// `xfer send --raw PATH|- HOST:PORT`: one unframed stream to a peer that speaks no
/// protocol, with the strongest verdict TCP can support (``RawSender``).
struct RawSendCommand: Command {
    static let name = CommandName.raw

    /// Its own options, then those of the framed sender: these parse, so that `validate()`
    /// can say they mean nothing without framing instead of calling them unknown.
    static var parsedOptions: [OptionSpec] { CommandName.raw.options + CommandName.send.options }

    private let arguments: Arguments
    private var source = RawSource.standardInput
    private var endpoint = Endpoint(host: "", port: 0)
    private var options = RawSendOptions()
    private let reporter: RawSendReporter

    /// Whether the command line asks for raw mode (`--raw` before any `--`).
    static func isRequested(_ arguments: [String]) -> Bool {
        arguments.prefix { $0 != "--" }.contains("--raw")
    }

    /// `xfer send --raw ...` whole: help, a usage error (one line, the usage line, and a
    /// `done` event under `--json`), or the send.
    static func main(_ arguments: [String]) -> ExitCode {
        let before = arguments.prefix { $0 != "--" }
        if before.contains("--help") || before.contains("-h") {
            print(HelpText.help(name))
            return .confirmed
        }
        do throws(UsageError) {
            var command = RawSendCommand(try Arguments(arguments, options: parsedOptions))
            try command.validate()
            return command.run()
        } catch {
            printError("xfer: error: \(error.message)")
            printError(HelpText.usage(name))
            if before.contains("--json") {
                printLine(
                    jsonObject([
                        ("event", jsonString("done")), ("exit", "\(error.exitCode.rawValue)"),
                        ("verdict", jsonString("usage")), ("written", "0"), ("acknowledged", "null"),
                        ("seconds", "0.000"), ("error", jsonString(error.message)),
                    ])
                )
            }
            return error.exitCode
        }
    }

    init(_ arguments: Arguments) {
        self.arguments = arguments
        options.timeout = arguments.seconds("timeout", default: options.timeout)
        options.connectTimeout = arguments.seconds("connect-timeout", default: options.connectTimeout)
        reporter = RawSendReporter(
            json: arguments.flag("json"),
            quiet: arguments.flag("quiet"),
            showReply: arguments.flag("show-reply")
        )
    }

    mutating func validate() throws(UsageError) {
        let own = Set(CommandName.raw.options.map(\.name))
        if let framed = arguments.given.first(where: { !own.contains($0) }) {
            throw UsageError(message: "'--\(framed)' has no meaning with --raw (there is no framing to carry it)")
        }
        let positional = arguments.positional
        guard positional.count == 2 else {
            switch positional.count {
            case 0: throw UsageError(message: "missing PATH and HOST:PORT")
            case 1: throw UsageError(message: "missing HOST:PORT after the path")
            default:
                throw UsageError(
                    message:
                        "--raw sends one stream: one PATH or -, then HOST:PORT (several files: tar -c … | xfer send --raw - HOST:PORT)"
                )
            }
        }
        let destination = positional[1]
        do throws(EndpointError) {
            endpoint = try Endpoint(validating: destination, defaultPort: 0)
        } catch {
            throw UsageError(message: error.description)
        }
        guard endpoint.port != 0 else {
            throw UsageError(message: "'\(destination)' needs a port: raw peers have no default port")
        }
        if arguments.flag("json") && arguments.flag("show-reply") {
            throw UsageError(message: "--show-reply writes the peer's bytes to stdout, where --json writes events")
        }
        let path = positional[0]
        if path == "-" {
            source = .standardInput
        } else {
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw UsageError(message: "cannot read '\(path)': \(SystemError("stat").reason)", exitCode: .localIO)
            }
            guard info.st_mode & S_IFMT != S_IFDIR else {
                throw UsageError(
                    message:
                        "'\(path)' is a directory: --raw sends one stream (tar -c DIR | xfer send --raw - HOST:PORT)"
                )
            }
            source = .file(path: path)
        }
    }

    func run() -> ExitCode {
        let sender = RawSender(endpoint: endpoint, options: options)
        let reporter = self.reporter
        Interruption.watch {
            let reset = sender.abortIfIncomplete()
            reporter.interrupted(reset: reset)
            return .interrupted
        }
        let report = sender.send(source) { reporter.handle($0) }
        let code = ExitCode(report.verdict)
        reporter.finish(report, exitCode: code)
        return code
    }
}

extension ExitCode {
    /// The exit status of a raw send: its own code for each verdict of raw mode.
    init(_ verdict: RawVerdict) {
        switch verdict {
        case .delivered: self = .confirmed
        case .acknowledgedNotClosed: self = .acknowledgedNotClosed
        case .reset: self = .peerReset
        case .notAcknowledged: self = .notAcknowledged
        case .connectionFailed: self = .connectionLost
        case .cannotConnect: self = .cannotConnect
        case .localIO: self = .localIO
        }
    }
}
