import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// `xfer send --raw PATH|- HOST:PORT`: one unframed stream to a peer that speaks no
/// protocol, with the strongest verdict TCP can support (``RawSender``).
struct RawSendCommand {
    static let usage =
        "USAGE: xfer send --raw [--json] [--quiet] [--show-reply] [--timeout SECONDS] [--connect-timeout SECONDS] PATH|- HOST:PORT"

    static let help = """
        OVERVIEW: Send one file or standard input, unframed, to a plain TCP peer (nc -l, a
        printer on port 9100, a log collector) and report the strongest thing TCP can show:
        whether the peer's kernel acknowledged every byte and the end of stream, and whether
        the peer then closed without a reset. It cannot show that the peer *application* read
        the bytes: only xfer's own protocol can (send to `xfer receive`, without --raw).

        USAGE: xfer send --raw [--json] [--quiet] [--show-reply] [--timeout SECONDS]
                         [--connect-timeout SECONDS] PATH|- HOST:PORT

        ARGUMENTS:
          PATH|-      A file (or a FIFO, a device) read to its end, or - for standard input.
          HOST:PORT   The peer; the port is required (IPv6: [ADDR]:PORT).

        OPTIONS:
          --show-reply           Copy what the peer sends to stdout. It is read either way,
                                 so that closing never leaves unread data (which makes the
                                 kernel send a reset).
          --json                 One JSON object per event on stdout (connected, progress, done).
          --quiet                Print nothing but a verdict other than 0.
          --timeout SECONDS      Decide once the peer made no progress for this long (no
                                 byte taken, acknowledged or sent back, no end of stream).
                                 A quiet standard input does not count. Default 30.
          --connect-timeout SECONDS  Give up connecting after this long (default 10).
          -h, --help             Show this help.
          (SECONDS: from 0.001 to 1000000.)

        HOW: the bytes are streamed; once the peer's TCP acknowledged them all, shutdown(SHUT_WR)
        sends the FIN (after both FINs a later reset is never seen). Meanwhile whatever
        the peer sends is read; the send queue is watched (SIOCOUTQ, Linux only: what the
        peer's TCP has not acknowledged, the FIN counting as one byte); the peer's end of
        stream is awaited; a reset (ECONNRESET, EPIPE) is noticed at any point. Progress
        counts bytes the peer's TCP acknowledged, not bytes written. A peer whose end of
        stream comes before ours was acknowledged only half-closed: the FIN waits up to 2 s
        more for its reset, and it is never 0.

        EXIT STATUS:
          0   every byte and the end of stream were acknowledged by the peer's TCP, and then
              the peer closed the connection without a reset
          80  every byte was acknowledged, so it reached the peer's kernel, but the peer
              neither closed nor reset the connection within --timeout, or only half-closed
              (before ours was acknowledged) and did not reset within the wait
          78  the peer reset the connection: the message says how many bytes its TCP had
              acknowledged before (no more can be claimed); a reset discards what the
              peer application had not read
          79  not every byte (or not the end of stream) was acknowledged within --timeout;
              where SIOCOUTQ does not exist (not Linux), also after the peer closed: it
              cannot be told
          64 usage error; 69 cannot connect; 70 the connection failed otherwise (the
          kernel gave up retransmitting, no route); 74 the source could not be read;
          130 interrupted. When the source was not fully written (79, 74, 130) the
          connection is reset, so the peer cannot take the part for the whole.
        """

    /// Options of the framed sender that mean nothing without framing.
    private static let framedOnly = ["name", "keepalive", "no-resume", "allow-nondurable"]

    let source: RawSource
    let endpoint: Endpoint
    let options: RawSendOptions
    let reporter: RawSendReporter

    /// Whether the command line asks for raw mode (`--raw` before any `--`).
    static func isRequested(_ arguments: [String]) -> Bool {
        arguments.prefix { $0 != "--" }.contains("--raw")
    }

    /// `xfer send --raw ...` whole: help, a usage error (one line, the usage line, and a
    /// `done` event under `--json`), or the send.
    static func main(_ arguments: [String]) -> ExitCode {
        let before = arguments.prefix { $0 != "--" }
        if before.contains("--help") || before.contains("-h") {
            print(help)
            return .confirmed
        }
        do throws(UsageError) {
            return try RawSendCommand(arguments).run()
        } catch {
            printError("xfer: error: \(error.message)")
            printError(usage)
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

    init(_ arguments: [String]) throws(UsageError) {
        let parsed = try Arguments(
            arguments,
            valueOptions: ["timeout", "connect-timeout", "name", "keepalive"],
            flagOptions: ["raw", "json", "quiet", "show-reply", "no-resume", "allow-nondurable"]
        )
        for option in Self.framedOnly where parsed.flag(option) || parsed.value(option) != nil {
            throw UsageError(message: "'--\(option)' has no meaning with --raw (there is no framing to carry it)")
        }
        guard parsed.positional.count == 2 else {
            switch parsed.positional.count {
            case 0: throw UsageError(message: "missing PATH and HOST:PORT")
            case 1: throw UsageError(message: "missing HOST:PORT after the path")
            default:
                throw UsageError(
                    message:
                        "--raw sends one stream: one PATH or -, then HOST:PORT (several files: tar -c … | xfer send --raw - HOST:PORT)"
                )
            }
        }
        let destination = parsed.positional[1]
        let endpoint: Endpoint
        do throws(EndpointError) {
            endpoint = try Endpoint(validating: destination, defaultPort: 0)
        } catch {
            throw UsageError(message: error.description)
        }
        guard endpoint.port != 0 else {
            throw UsageError(message: "'\(destination)' needs a port: raw peers have no default port")
        }
        if parsed.flag("json") && parsed.flag("show-reply") {
            throw UsageError(message: "--show-reply writes the peer's bytes to stdout, where --json writes events")
        }
        let path = parsed.positional[0]
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
        var options = RawSendOptions()
        options.timeout = try parsed.seconds("timeout", default: options.timeout)
        options.connectTimeout = try parsed.seconds("connect-timeout", default: options.connectTimeout)
        self.endpoint = endpoint
        self.options = options
        reporter = RawSendReporter(
            json: parsed.flag("json"),
            quiet: parsed.flag("quiet"),
            showReply: parsed.flag("show-reply")
        )
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
