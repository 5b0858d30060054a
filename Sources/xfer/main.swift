import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the command line and returns the exit status.
func main(_ arguments: [String]) -> ExitCode {
    guard let word = arguments.first else {
        printError(HelpText.root)
        return .usage
    }
    let rest = Array(arguments.dropFirst())
    let options = rest.prefix { $0 != "--" }
    switch word {
    case "-h", "--help", "help":
        print(HelpText.root)
        return .confirmed
    case "--version", "version":
        print(Version.line)
        return .confirmed
    default:
        break
    }
    // `send --raw` is reached through `send` only.
    guard let command = CommandName(rawValue: word), command != .raw else {
        printError("xfer: error: unknown command '\(word)'")
        printError("USAGE: xfer <command> [options]   (xfer --help for more)")
        return .usage
    }
    if command == .send && RawSendCommand.isRequested(rest) { return RawSendCommand.main(rest) }
    if options.contains("--help") || options.contains("-h") {
        print(HelpText.help(command))
        return .confirmed
    }
    do throws(UsageError) {
        switch command {
        case .send: return try SendCommand.main(rest)
        case .raw: return RawSendCommand.main(rest)
        case .receive: return try ReceiveCommand.main(rest)
        case .keygen: return try KeygenCommand.main(rest)
        case .state: return try StateCommand.main(rest)
        case .demo: return try DemoCommand.main(rest)
        case .man: return try ManCommand.main(rest)
        case .completions: return try CompletionsCommand.main(rest)
        }
    } catch {
        if !error.message.isEmpty {
            printError("xfer: error: \(error.message)")
            printError(HelpText.usage(command))
        }
        if command == .send && options.contains("--json") {
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
