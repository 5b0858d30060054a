import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// `xfer send PATH... HOST[:PORT]`
struct SendCommand: Command {
    static let name = CommandName.send

    private let arguments: Arguments
    private var paths: [String] = []
    private var endpoint = Endpoint(host: "", port: 0)
    private var options = SenderOptions()
    private var standardInputName = "stdin"
    /// `--run`: a producer whose output is sent as `standardInputName`.
    private var command: String?
    private let json: Bool
    private let quiet: Bool
    private let allowNondurable: Bool

    init(_ arguments: Arguments) {
        self.arguments = arguments
        options.idleTimeout = arguments.seconds("timeout", default: options.idleTimeout)
        options.connectTimeout = arguments.seconds("connect-timeout", default: options.connectTimeout)
        options.keepAliveInterval = arguments.seconds("keepalive", default: options.keepAliveInterval)
        options.resume = !arguments.flag("no-resume")
        options.streams = arguments.integer("streams")
        json = arguments.flag("json")
        quiet = arguments.flag("quiet")
        allowNondurable = arguments.flag("allow-nondurable")
    }

    mutating func validate() throws(UsageError) {
        let positional = arguments.positional
        command = arguments.value("run")
        if let streams = options.streams, streams > 16 {
            throw UsageError(message: "'--streams' takes a whole number from 1 to 16, not '\(streams)'")
        }
        guard positional.count >= (command == nil ? 2 : 1) else {
            throw UsageError(message: positional.isEmpty ? "missing PATH and HOST" : "missing HOST after the paths")
        }
        do throws(EndpointError) {
            endpoint = try Endpoint(validating: positional.last!)
        } catch {
            throw UsageError(message: error.description)
        }
        paths = Array(positional.dropLast())
        if paths.filter({ $0 == "-" }).count > 1 {
            throw UsageError(message: "standard input (-) can be sent only once")
        }
        if let command {
            if command.isEmpty { throw UsageError(message: "--run needs a command") }
            if paths.contains("-") {
                throw UsageError(message: "--run and - are both a stream named by --name: send one of them")
            }
            guard let name = arguments.value("name") else {
                throw UsageError(message: "--run needs --name: the name its output is committed under")
            }
            standardInputName = name
        } else if let name = arguments.value("name") {
            guard paths.contains("-") else {
                throw UsageError(message: "--name names standard input (-), which is not sent")
            }
            standardInputName = name
        }
        if let problem = SendSource.nameProblem(standardInputName) {
            throw UsageError(message: "'--name' cannot be used as a name on the receiver: \(problem)")
        }
        options.key = try KeyFile.key(option: arguments.value("key"))
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

    func run() throws(UsageError) -> ExitCode {
        let reporter = SendReporter(json: json, quiet: quiet)
        // Sources are expanded here, so what cannot be sent is known before connecting.
        var sources = SendSource.expand(paths, standardInputName: standardInputName) { reporter.skipped($0) }
        if let command { sources.append(.command(command, name: standardInputName)) }
        try SendCommand.checkDuplicates(sources)
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
