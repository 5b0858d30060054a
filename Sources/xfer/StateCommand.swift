import Transfer

/// `xfer state [--dir DIR] [--clean] [--json]`: what a receiver keeps in `DIR/.xfer`.
struct StateCommand: Command {
    static let name = CommandName.state

    private let arguments: Arguments
    private let directory: String
    private let clean: Bool
    private let json: Bool

    init(_ arguments: Arguments) {
        self.arguments = arguments
        directory = arguments.value("dir") ?? "."
        clean = arguments.flag("clean")
        json = arguments.flag("json")
    }

    func validate() throws(UsageError) {
        if let extra = arguments.positional.first { throw UsageError(message: "unexpected argument '\(extra)'") }
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
