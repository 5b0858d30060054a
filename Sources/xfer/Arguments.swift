/// A bad command line: the message names what was wrong; the command's usage follows it.
struct UsageError: Error {
    /// What was wrong; empty when the message was already printed.
    var message: String
    /// The exit status: ``ExitCode/usage`` unless the arguments were fine but a named
    /// file was not.
    var exitCode: ExitCode = .usage
}

/// A command line parsed against one command's rows of ``optionTable``, in the manner of
/// swift-argument-parser: options (`--name VALUE`, `--name=VALUE`, flags) anywhere, `--`
/// ends options, everything else is positional. Only options the table gives the command
/// are accepted, and every value is checked against its ``ValueKind`` here, so a command
/// reads values that are already known to be well formed.
struct Arguments {
    private(set) var positional: [String] = []
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    /// Every option given, in order, without dashes.
    private(set) var given: [String] = []

    /// - Parameters:
    ///   - options: The options to accept (a command's rows of ``optionTable``).
    init(_ arguments: [String], options: [OptionSpec]) throws(UsageError) {
        var byName: [String: OptionSpec] = [:]
        for option in options where byName[option.name] == nil { byName[option.name] = option }
        var index = 0
        var onlyPositional = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if onlyPositional || !argument.hasPrefix("--") {
                // A lone "-" is standard input, a positional.
                if !onlyPositional && argument.hasPrefix("-") && argument != "-" {
                    throw UsageError(message: "unknown option '\(argument)'")
                }
                positional.append(argument)
                continue
            }
            if argument == "--" {
                onlyPositional = true
                continue
            }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = byName[name] else { throw UsageError(message: "unknown option '--\(name)'") }
            given.append(name)
            guard option.valueName != nil else {
                guard value == nil else { throw UsageError(message: "option '--\(name)' takes no value") }
                flags.insert(name)
                continue
            }
            if value == nil {
                guard index < arguments.count else { throw UsageError(message: "option '--\(name)' needs a value") }
                value = arguments[index]
                index += 1
            }
            if let problem = option.kind.problem(value!, option: name) { throw UsageError(message: problem) }
            values[name] = value
        }
    }

    /// Parses against the rows of ``optionTable`` for `command`.
    init(_ arguments: [String], command: CommandName) throws(UsageError) {
        try self.init(arguments, options: command.options)
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    func value(_ name: String) -> String? { values[name] }

    /// A ``ValueKind/seconds`` value (checked when parsed), or `fallback`.
    func seconds(_ name: String, default fallback: Double) -> Double {
        values[name].flatMap(Double.init) ?? fallback
    }

    /// A ``ValueKind/count`` or ``ValueKind/bytes`` value (checked when parsed).
    func integer(_ name: String) -> Int? { values[name].flatMap { Int($0) } }

    /// A ``ValueKind/duration`` value in seconds (checked when parsed).
    func duration(_ name: String) -> Double? { values[name].flatMap(ValueKind.seconds(ofDuration:)) }

    /// A ``ValueKind/octalMask`` value (checked when parsed).
    func octal(_ name: String) -> UInt16? { values[name].flatMap { UInt16($0, radix: 8) } }
}
