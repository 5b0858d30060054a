import Transfer

/// `xfer state [--dir DIR] [--clean] [--json]`: what a receiver keeps in `DIR/.xfer`.
struct StateCommand {
    static let help = """
        OVERVIEW: List the partial files of interrupted transfers that a receiver keeps in
        DIR/.xfer for resumes (name, bytes, age); with --clean, remove them. Safe while a
        receiver runs: a partial being written is left alone.

        USAGE: xfer state [--dir DIR] [--clean] [--json]

        OPTIONS:
          --dir DIR              The receiver's directory (default: the current one).
          --clean                Remove every partial file not being written.
          --json                 One JSON object per partial file on stdout (name, file, bytes,
                                 age_seconds, removed), then a summary object (event "done").
          -h, --help             Show this help.
        """

    let directory: String
    let clean: Bool
    let json: Bool

    init(_ arguments: [String]) throws(UsageError) {
        let parsed = try Arguments(arguments, valueOptions: ["dir"], flagOptions: ["clean", "json"])
        if let extra = parsed.positional.first { throw UsageError(message: "unexpected argument '\(extra)'") }
        directory = parsed.value("dir") ?? "."
        clean = parsed.flag("clean")
        json = parsed.flag("json")
    }

    func run() -> ExitCode {
        do {
            let partials =
                try clean ? ReceiverState.removePartials(in: directory) : ReceiverState.partials(in: directory)
            let total = partials.reduce(UInt64(0)) { $0 + $1.size }
            if json {
                for partial in partials {
                    printLine(
                        jsonObject([
                            ("event", jsonString("partial")), ("name", partial.destination.map(jsonString) ?? "null"),
                            ("file", jsonString(".xfer/" + partial.name)), ("bytes", "\(partial.size)"),
                            ("age_seconds", "\(Int(partial.age))"), ("removed", "\(clean)"),
                        ])
                    )
                }
                printLine(
                    jsonObject([
                        ("event", jsonString("done")), ("partials", "\(partials.count)"), ("bytes", "\(total)"),
                        ("removed", "\(clean)"),
                    ])
                )
                return .confirmed
            }
            for partial in partials {
                // The name recorded when the partial was made; its file when none was.
                let name = partial.destination.map { "'\($0)'" } ?? "(name unknown)"
                printReport(
                    "\(clean ? "removed " : "")\(name)  \(partial.size) bytes  \(Int(partial.age)) s old  .xfer/\(partial.name)",
                    toStandardOutput: true
                )
            }
            printReport(
                "xfer: \(partials.count) partial file(s), \(formatBytes(total))\(clean ? " removed" : " kept for resumes")"
            )
            return .confirmed
        } catch {
            if json {
                printLine(jsonObject([("event", jsonString("done")), ("error", jsonString(error.description))]))
            }
            printReport("xfer: \(error)")
            return ExitCode(error)
        }
    }
}
