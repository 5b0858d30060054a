/// One of xfer's commands, run in three steps as in swift-argument-parser: the command line
/// is parsed against the command's rows of ``optionTable`` (unknown options and malformed
/// values stop there), ``validate()`` checks it as a whole before anything is touched,
/// and only then does ``run()`` act.
protocol Command {
    /// Which row of ``commandTable`` describes it.
    static var name: CommandName { get }

    /// Reads the parsed options; their values are already checked against their kinds.
    init(_ arguments: Arguments)

    /// Checks what parsing cannot: the number of arguments, options that exclude each
    /// other, and values that need more than their kind to check (addresses, names, key
    /// files). Mutating, so what it works out (an endpoint, a key) is kept for ``run()``.
    mutating func validate() throws(UsageError)

    /// Does the work and returns the exit status.
    func run() throws(UsageError) -> ExitCode
}

extension Command {
    /// The options this command parses: its own rows of the table.
    static var parsedOptions: [OptionSpec] { name.options }

    /// Parses, validates and runs.
    static func main(_ arguments: [String]) throws(UsageError) -> ExitCode {
        var command = Self(try Arguments(arguments, options: parsedOptions))
        try command.validate()
        return try command.run()
    }
}
