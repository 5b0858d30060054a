import Transfer

/// `xfer state [--dir DIR] [--clean]`: what a receiver keeps in `DIR/.xfer`.
struct StateCommand {
    static let help = """
        OVERVIEW: List the partial files of interrupted transfers that a receiver keeps in
        DIR/.xfer for resumes (name, bytes, age); with --clean, remove them. Safe while a
        receiver runs: a partial being written is left alone.

        USAGE: xfer state [--dir DIR] [--clean]

        OPTIONS:
          --dir DIR              The receiver's directory (default: the current one).
          --clean                Remove every partial file not being written.
          -h, --help             Show this help.
        """

    let directory: String
    let clean: Bool

    init(_ arguments: [String]) throws(UsageError) {
        let parsed = try Arguments(arguments, valueOptions: ["dir"], flagOptions: ["clean"])
        if let extra = parsed.positional.first { throw UsageError(message: "unexpected argument '\(extra)'") }
        directory = parsed.value("dir") ?? "."
        clean = parsed.flag("clean")
    }

    func run() -> ExitCode {
        do {
            let partials =
                try clean ? ReceiverState.removePartials(in: directory) : ReceiverState.partials(in: directory)
            for partial in partials {
                print("\(clean ? "removed " : "")\(partial.name)  \(partial.size) bytes  \(Int(partial.age)) s old")
            }
            let total = partials.reduce(UInt64(0)) { $0 + $1.size }
            printReport(
                "xfer: \(partials.count) partial file(s), \(formatBytes(total))\(clean ? " removed" : " kept for resumes")"
            )
            return .confirmed
        } catch {
            printReport("xfer: \(error)")
            return ExitCode(error)
        }
    }
}
