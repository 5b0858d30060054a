import Transfer

/// `--help` and the usage lines, generated from ``commandTable`` and ``optionTable``: text
/// written once, beside the parser's own description of each option.
enum HelpText {
    /// Help lines are wrapped to this width.
    static let width = 92
    /// Where an option's or argument's description starts.
    static let column = 25

    /// The one usage line printed after a usage error: `USAGE: xfer send [--key FILE] … PATH... HOST[:PORT]`.
    static func usage(_ command: CommandName) -> String {
        "USAGE: " + synopsis(command).joined(separator: " ")
    }

    /// The words of a command's synopsis: `xfer`, the command, each option in brackets,
    /// then the arguments.
    static func synopsis(_ command: CommandName) -> [String] {
        let spec = CommandSpec.of(command)
        return ["xfer", command.invocation] + command.documentedOptions.map { "[\($0.label)]" }
            + spec.arguments.map(\.name)
    }

    /// `xfer COMMAND --help`.
    static func help(_ command: CommandName) -> String {
        let spec = CommandSpec.of(command)
        var out = paragraphs("OVERVIEW: " + spec.overview, indent: "") + "\n\n"
        // Continuation lines start under the first option, as in swift-argument-parser.
        let continuation = String(repeating: " ", count: "USAGE: xfer \(command.invocation) ".count)
        out += wrap(["USAGE:"] + synopsis(command), indent: continuation)
        if !spec.arguments.isEmpty {
            out += "\n\nARGUMENTS:\n"
            out += spec.arguments.map { entry($0.name, $0.help) }.joined(separator: "\n")
        }
        out += "\n\nOPTIONS:\n"
        var entries = command.documentedOptions.map { entry($0.label, describe($0)) }
        entries.append(entry("-h, --help", "Show this help."))
        out += entries.joined(separator: "\n")
        if !spec.footer.isEmpty { out += "\n\n" + paragraphs(spec.footer, indent: "") }
        return out
    }

    /// `xfer --help`.
    static var root: String {
        var out = paragraphs(
            """
            OVERVIEW: Move files and byte streams over TCP so that the sender knows they arrived: `xfer send` \
            exits 0 only when the receiving application has confirmed that every byte arrived intact and is \
            durable on its disk.
            """,
            indent: ""
        )
        out += "\n\nUSAGE: xfer <command> [options]\n\nCOMMANDS:\n"
        out += commandTable.map { spec in
            let arguments = spec.arguments.map(\.name).joined(separator: " ")
            return entry(spec.name.invocation + (arguments.isEmpty ? "" : " " + arguments), spec.summary)
        }.joined(separator: "\n")
        out += "\n\nOPTIONS:\n"
        out += entry("-h, --help", "Show help (also: xfer <command> --help).") + "\n"
        out += entry("--version", "Show the version and the commit it was built from.")
        out += "\n\nEXIT STATUS:\n\(ExitCode.table)\n\nProtocol: SPEC.md. Default port: \(Endpoint.defaultPort)."
        return out
    }

    /// An option's help with its default, as every generated document states it.
    static func describe(_ option: OptionSpec) -> String {
        option.defaultValue.map { option.help + " Default: \($0)." } ?? option.help
    }

    /// `  --label               description…`, the description wrapped beside the label
    /// (or under it, when the label is too long to leave room).
    static func entry(_ label: String, _ text: String) -> String {
        let pad = String(repeating: " ", count: column)
        let first = "  " + label
        let words = text.split(separator: " ").map(String.init)
        if first.count + 1 >= column {
            return first + "\n" + wrap(words, indent: pad, firstIndent: pad)
        }
        return wrap(words, indent: pad, firstIndent: first + String(repeating: " ", count: column - first.count))
    }

    /// Text paragraphs (separated by blank lines) wrapped; lines that start with two
    /// spaces are kept as they are.
    static func paragraphs(_ text: String, indent: String) -> String {
        var out: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  ") || line.isEmpty {
                out.append(String(line))
            } else {
                out.append(wrap(line.split(separator: " ").map(String.init), indent: indent, firstIndent: indent))
            }
        }
        return out.joined(separator: "\n")
    }

    /// Words filled into lines of at most ``width`` characters.
    static func wrap(_ words: [String], indent: String, firstIndent: String? = nil) -> String {
        var lines: [String] = []
        var line = firstIndent ?? ""
        var empty = true
        for word in words {
            if !empty && line.count + 1 + word.count > width {
                lines.append(line)
                line = indent
                empty = true
            }
            line += (empty ? "" : " ") + word
            empty = false
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }
}
