/// A bad command line: the message names what was wrong; the command's usage follows it.
struct UsageError: Error {
    /// What was wrong; empty when the message was already printed.
    var message: String
    /// The exit status: ``ExitCode/usage`` unless the arguments were fine but a named
    /// file was not.
    var exitCode: ExitCode = .usage
}

/// A small parser in the manner of swift-argument-parser: options (`--name VALUE`,
/// `--name=VALUE`, flags) anywhere, `--` ends options, everything else is positional.
struct Arguments {
    private(set) var positional: [String] = []
    private var options: [String: String] = [:]
    private var flags: Set<String> = []

    /// - Parameters:
    ///   - valueOptions: Options that take a value, without dashes.
    ///   - flagOptions: Options that take none.
    init(_ arguments: [String], valueOptions: Set<String>, flagOptions: Set<String>) throws(UsageError) {
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
            if flagOptions.contains(name) {
                guard value == nil else { throw UsageError(message: "option '--\(name)' takes no value") }
                flags.insert(name)
            } else if valueOptions.contains(name) {
                if value == nil {
                    guard index < arguments.count else { throw UsageError(message: "option '--\(name)' needs a value") }
                    value = arguments[index]
                    index += 1
                }
                options[name] = value
            } else {
                throw UsageError(message: "unknown option '--\(name)'")
            }
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    func value(_ name: String) -> String? { options[name] }

    /// A number of seconds, from 1 ms to 10^6 s: every timeout and interval in xfer fits a
    /// `timeval` and a millisecond `poll` count within that range, and below 1 ms a socket
    /// timeout would round to 0, which means "no timeout".
    func seconds(_ name: String, default fallback: Double) throws(UsageError) -> Double {
        guard let text = options[name] else { return fallback }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0.001, seconds <= 1_000_000 else {
            throw UsageError(message: "'--\(name)' takes a number of seconds from 0.001 to 1000000, not '\(text)'")
        }
        return seconds
    }

    /// A duration: a number with an optional unit s, m, h or d (seconds by default), from 0
    /// to 100 years.
    static func duration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var number = Substring(text)
        var unit = 1.0
        if let last = text.last, let factor = units[last] {
            number = number.dropLast()
            unit = factor
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * unit <= 100 * 365 * 86400 else {
            return nil
        }
        return value * unit
    }
}
