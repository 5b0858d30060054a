import Foundation
import Testing

@testable import xfer

extension Integration {
    /// Issue 17 item 9 and issue 19 item 2: help, the man page and the completions come from
    /// the table the parser reads. Each test reads that table (the `xfer` module itself) and
    /// checks what the real binary prints, so an option the parser accepts and a document
    /// leaves out fails here.
    @Suite struct GeneratedDocs {
        /// Every command and the options its parser accepts, from the table.
        static var parsed: [(CommandName, [OptionSpec])] {
            CommandName.allCases.map { ($0, $0.options) }
        }

        /// The part of `text` from the line starting with `start` up to the next line
        /// starting with `end` (or the end).
        static func section(_ text: String, from start: String, to end: String) -> String? {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard let first = lines.firstIndex(where: { $0.hasPrefix(start) }) else { return nil }
            let rest = lines[(first + 1)...]
            let last = rest.firstIndex(where: { $0.hasPrefix(end) }) ?? lines.endIndex
            return lines[first..<last].joined(separator: "\n")
        }

        @Test("Every option the parser accepts is in `xfer man`, in its command's section, with its value name")
        func manPageHasEveryOption() throws {
            let man = xfer(["man"])
            #expect(man.status == 0, "\(man.stderr)")
            #expect(man.stdout.hasPrefix(".\\\"") || man.stdout.hasPrefix(".TH"), "not roff: \(man.stdout.prefix(80))")
            #expect(man.stdout.contains(".TH XFER 1"), "\(man.stdout.prefix(200))")
            for (command, options) in Self.parsed {
                let heading = ".SS \"xfer \(command.invocation.replacingOccurrences(of: "-", with: "\\-"))\""
                let section = try #require(
                    Self.section(man.stdout, from: heading, to: ".SS "),
                    "no section \(heading) in xfer man"
                )
                for option in options where !command.invocation.contains("--\(option.name)") {
                    var label = "\\fB" + ("--" + option.name).replacingOccurrences(of: "-", with: "\\-") + "\\fR"
                    if let value = option.valueName { label += " \\fI\(value)\\fR" }
                    #expect(section.contains(label), "xfer man, \(command.invocation): no \(label)")
                }
            }
        }

        @Test("Every option the parser accepts is offered by each shell's completion for its command")
        func completionsHaveEveryOption() throws {
            let bash = xfer(["completions", "bash"])
            let zsh = xfer(["completions", "zsh"])
            let fish = xfer(["completions", "fish"])
            for result in [bash, zsh, fish] { #expect(result.status == 0, "\(result.stderr)") }
            let fishLines = fish.stdout.split(separator: "\n")
            for (command, options) in Self.parsed {
                // bash: one list of options per command.
                let bashLine = bash.stdout.split(separator: "\n").first {
                    $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(command.rawValue)) options=")
                }
                let bashWords = Set((bashLine ?? "").split(whereSeparator: { " '=".contains($0) }).map(String.init))
                // zsh: one _arguments block per command.
                let zshBlock = Self.section(zsh.stdout, from: "    (\(command.rawValue))", to: "        ;;") ?? ""
                // fish: one line per option, conditioned on the command.
                let condition =
                    switch command {
                    case .send: "__fish_seen_subcommand_from send; and not __fish_contains_opt raw"
                    case .raw: "__fish_seen_subcommand_from send; and __fish_contains_opt raw"
                    default: "__fish_seen_subcommand_from \(command.rawValue)'"
                    }
                for option in options {
                    #expect(bashWords.contains("--\(option.name)"), "bash, \(command.invocation): no --\(option.name)")
                    #expect(
                        zshBlock.contains("'--\(option.name)[") || zshBlock.contains("'--\(option.name)=["),
                        "zsh, \(command.invocation): no --\(option.name)"
                    )
                    #expect(
                        fishLines.contains { $0.contains(condition) && $0.contains(" -l \(option.name) ") },
                        "fish, \(command.invocation): no -l \(option.name)"
                    )
                }
            }
        }

        @Test("`xfer COMMAND --help` lists every option of the command with its value name and default")
        func helpHasEveryOption() {
            for (command, _) in Self.parsed {
                let result = xfer(command.invocation.split(separator: " ").map(String.init) + ["--help"])
                #expect(result.status == 0, "\(command.invocation): \(result.stderr)")
                for option in command.documentedOptions {
                    #expect(
                        result.stdout.contains("  \(option.label)"),
                        "\(command.invocation) --help: no \(option.label)"
                    )
                    if let value = option.defaultValue {
                        let text = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                        #expect(
                            text.contains("Default: \(value)"),
                            "\(command.invocation) --help: no default of --\(option.name)"
                        )
                    }
                }
            }
        }

        @Test("--version names the version and the commit")
        func versionNamesCommit() throws {
            let result = xfer(["--version"])
            #expect(result.status == 0, "\(result.stderr)")
            let line = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            // A plain `swift build` cannot know its commit and says so; scripts/install.sh
            // writes it into the build (BuildCommit.swift).
            let pattern = try Regex(
                #"^xfer \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,40}(-dirty)?|unknown: built without scripts/install.sh); protocol version \d+\)$"#
            )
            #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
        }

        @Test(
            "An unknown option exits 64 with a message naming it, for every command",
            arguments: CommandName.allCases
        )
        func unknownOption(_ command: CommandName) {
            let words = command.invocation.split(separator: " ").map(String.init)
            let result = xfer(words + ["--no-such-option", "-", "127.0.0.1:9"], input: Data())
            #expect(result.status == 64, "\(command.invocation): \(result.stderr)")
            #expect(result.stderr.contains("unknown option '--no-such-option'"), "\(result.stderr)")
            #expect(result.stderr.contains("USAGE: xfer \(command.invocation)"), "\(result.stderr)")
        }

        /// Every option whose value has a checked kind, with its command.
        static let checkedValues: [(CommandName, String)] = CommandName.allCases.flatMap { command in
            command.options.filter { [.seconds, .count, .duration, .octalMask, .bytes].contains($0.kind) }
                .map { (command, $0.name) }
        }

        @Test(
            "A bad value exits 64 with a message naming the option and the value, before anything starts",
            arguments: checkedValues
        )
        func badValue(_ command: CommandName, _ option: String) {
            let words = command.invocation.split(separator: " ").map(String.init)
            // The arguments after the bad value would be wrong too (a receiver takes none), so a
            // parser that let the value through still stops, with another message.
            let result = xfer(words + ["--\(option)", "bogus", "-", "127.0.0.1:9"], input: Data())
            #expect(result.status == 64, "\(command.invocation) --\(option): \(result.stderr)")
            #expect(result.stderr.contains("'--\(option)'"), "\(result.stderr)")
            #expect(result.stderr.contains("'bogus'"), "\(result.stderr)")
        }

        @Test("The bash completion parses (bash -n)")
        func bashSyntax() throws {
            try checkSyntax(shell: "bash", script: xfer(["completions", "bash"]).stdout)
        }

        @Test(
            "The zsh completion parses (zsh -n)",
            .enabled(if: commandExists("zsh"), "zsh is not installed: its completion's syntax is not checked")
        )
        func zshSyntax() throws {
            try checkSyntax(shell: "zsh", script: xfer(["completions", "zsh"]).stdout)
        }

        @Test(
            "The fish completion parses (fish -n)",
            .enabled(if: commandExists("fish"), "fish is not installed: its completion's syntax is not checked")
        )
        func fishSyntax() throws {
            try checkSyntax(shell: "fish", script: xfer(["completions", "fish"]).stdout)
        }

        /// `SHELL -n` on the script, from a file.
        func checkSyntax(shell: String, script: String) throws {
            #expect(!script.isEmpty, "no \(shell) completion")
            let work = TemporaryDirectory()
            let path = work.file("xfer.\(shell)")
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            let result = self.shellRun("\(shell) -n '\(path)'")
            #expect(result.status == 0, "\(shell) -n: \(result.stderr)")
        }

        /// `shell` from Support, named apart from the `shell:` parameter above.
        func shellRun(_ command: String) -> Finished { XferTests.shell(command) }
    }
}
