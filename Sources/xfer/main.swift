import Transfer

#if canImport(Glibc)
    import Glibc
#endif

let rootHelp = """
    OVERVIEW: Move files and byte streams over TCP so that the sender knows they arrived:
    `xfer send` exits 0 only when the receiving application has confirmed that every byte
    arrived intact and is durable on its disk.

    USAGE: xfer <command> [options]

    COMMANDS:
      send PATH... HOST[:PORT]    Send files, directories, or - (standard input).
      send --raw PATH|- HOST:PORT Send one unframed stream to a plain TCP peer (nc -l, a
                                  printer): acknowledged by its TCP, not confirmed by it.
      receive [--listen HOST:PORT] [--dir DIR] [--once]
                                  Receive into a directory.
      keygen FILE                 Write a new pre-shared key for --key (mode 0600).
      state [--dir DIR] [--clean] List (or remove) the partial files a receiver keeps.
      demo                        Run a real transfer on loopback and show the result.
      demo --naive                Show plain TCP losing data a naive sender believes sent,
                                  and what --raw and xfer's protocol can honestly claim.

    OPTIONS:
      -h, --help                  Show help (also: xfer <command> --help).
      --version                   Show the version.

    EXIT STATUS:
    \(ExitCode.table)

    Protocol: SPEC.md. Default port: \(Endpoint.defaultPort).
    """

/// Runs the command line and returns the exit status.
func main(_ arguments: [String]) -> ExitCode {
    guard let command = arguments.first else {
        printError(rootHelp)
        return .usage
    }
    let rest = Array(arguments.dropFirst())
    let wantsHelp = rest.contains("--help") || rest.contains("-h")
    do throws(UsageError) {
        switch command {
        case "-h", "--help", "help":
            print(rootHelp)
            return .confirmed
        case "--version", "version":
            print("xfer \(xferVersion) (protocol version 1)")
            return .confirmed
        case "send":
            if RawSendCommand.isRequested(rest) { return RawSendCommand.main(rest) }
            if wantsHelp {
                print(SendCommand.help)
                return .confirmed
            }
            return try SendCommand(rest).run()
        case "receive":
            if wantsHelp {
                print(ReceiveCommand.help)
                return .confirmed
            }
            return try ReceiveCommand(rest).run()
        case "keygen":
            if wantsHelp {
                print(KeygenCommand.help)
                return .confirmed
            }
            return try KeygenCommand(rest).run()
        case "state":
            if wantsHelp {
                print(StateCommand.help)
                return .confirmed
            }
            return try StateCommand(rest).run()
        case "demo":
            if wantsHelp {
                print(DemoCommand.help)
                return .confirmed
            }
            return try DemoCommand(rest).run()
        default:
            throw UsageError(message: "unknown command '\(command)'")
        }
    } catch {
        if !error.message.isEmpty {
            printError("xfer: error: \(error.message)")
            let usage =
                [
                    "send":
                        "USAGE: xfer send [--key FILE] [--name NAME] [--json] [--quiet] [--timeout SECONDS] [--no-resume] PATH... HOST[:PORT]",
                    "receive":
                        "USAGE: xfer receive [--listen HOST:PORT] [--dir DIR] [--key FILE | --no-auth] [--once] [--timeout SECONDS]",
                    "demo": "USAGE: xfer demo [--size BYTES] [--naive]",
                    "keygen": "USAGE: xfer keygen FILE",
                    "state": "USAGE: xfer state [--dir DIR] [--clean]",
                ][command] ?? "USAGE: xfer <send|receive|demo> [options]   (xfer --help for more)"
            printError(usage)
        }
        if command == "send" && rest.contains("--json") {
            // Scripts reading --json get a `done` event on every exit path.
            printLine(
                jsonObject([
                    ("event", jsonString("done")), ("exit", "\(error.exitCode.rawValue)"), ("confirmed", "0"),
                    ("failed", "0"), ("skipped", "0"), ("bytes", "0"), ("sent", "0"), ("seconds", "0.000"),
                    ("error", jsonString(error.message)),
                ])
            )
        }
        return error.exitCode
    }
}

// Writing to a closed pipe must be an error to handle, not a silent death.
signal(SIGPIPE, SIG_IGN)
exit(main(Array(CommandLine.arguments.dropFirst())).rawValue)
