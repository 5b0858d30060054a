import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `--json` events table of README.md, read from the README itself: an event's fields
/// are required unless the table says "(only when …)", "(if …)" or "(on …)".
struct READMEEventTable {
    var required: [String: Set<String>] = [:]
    var optional: [String: Set<String>] = [:]

    init() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let start = text.range(of: "### `--json` events") else { throw Missing() }
        let section = text[start.upperBound...]
        let end = section.range(of: "\n### ")?.lowerBound ?? section.endIndex
        for line in section[..<end].split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count >= 3 else { continue }
            let event = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            var required: Set<String> = []
            var optional: Set<String> = []
            // Split the fields at commas outside parentheses.
            var depth = 0
            var piece = ""
            var pieces: [String] = []
            for character in cells[2] {
                if character == "(" { depth += 1 }
                if character == ")" { depth -= 1 }
                if character == "," && depth == 0 {
                    pieces.append(piece)
                    piece = ""
                } else {
                    piece.append(character)
                }
            }
            pieces.append(piece)
            for piece in pieces {
                let trimmed = piece.trimmingCharacters(in: .whitespaces)
                guard trimmed.hasPrefix("`"), let close = trimmed.dropFirst().firstIndex(of: "`") else { continue }
                let name = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
                let note = trimmed[trimmed.index(after: close)...].trimmingCharacters(in: .whitespaces)
                if note.hasPrefix("(only") || note.hasPrefix("(if") || note.hasPrefix("(on ") {
                    optional.insert(name)
                } else {
                    required.insert(name)
                }
            }
            self.required[event] = required.union(["event"])
            self.optional[event] = optional
        }
        if required.isEmpty { throw Missing() }
    }

    struct Missing: Error {}

    /// What is wrong with one event line; empty when it agrees with the table.
    func problems(_ line: String) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let event = object["event"] as? String
        else { return ["not a JSON event: \(line)"] }
        guard let required = required[event] else { return ["an event the README does not list: \(line)"] }
        var problems: [String] = []
        let keys = Set(object.keys)
        for missing in required.subtracting(keys).sorted() { problems.append("no '\(missing)': \(line)") }
        for extra in keys.subtracting(required).subtracting(optional[event] ?? []).sorted() {
            problems.append("'\(extra)' is not in the README: \(line)")
        }
        return problems
    }
}

extension Integration {
    /// Issue 20, item 4: `--json` events agree with the README's table, in a normal, a
    /// resumed, an interrupted and a failed run.
    @Suite struct JSONEventSchema {
        private static func check(_ table: READMEEventTable, _ stdout: String, run: String) {
            var lines = stdout.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            #expect(!lines.isEmpty, "\(run): no events")
            for line in lines {
                for problem in table.problems(line) { Issue.record("\(run): \(problem)") }
            }
            #expect(jsonEvents(stdout).last?["event"] as? String == "done", "\(run): done is not last")
        }

        @Test("Every event of a normal, a resumed, an interrupted and a failed run has the README's fields")
        func everyRunAgreesWithTheREADME() throws {
            let table = try READMEEventTable()
            #expect(table.required["done"]?.contains("confirmed") == true, "the table was not read: \(table)")
            let source = TemporaryDirectory()
            source.makeFile("one.txt", count: 1000)
            source.makeFile("two.bin", count: 3 << 20)
            let big = source.file("big.bin")
            makeRandomFile(big, mebibytes: 300)

            // Normal: two files.
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let normal = xfer(["send", "--json", source.file("one.txt"), source.file("two.bin"), receiver.address])
            #expect(normal.status == 0, "\(normal.stderr)")
            Self.check(table, normal.stdout, run: "normal")

            // Failed: the receiver refuses a name that is a directory there (71).
            try FileManager.default.createDirectory(atPath: target.file("blocked"), withIntermediateDirectories: false)
            let failed = xfer(["send", "--json", "--name", "blocked", "-", receiver.address], input: Data("x".utf8))
            #expect(failed.status == 71, "\(failed.stderr)")
            #expect(jsonEvents(failed.stdout).contains { $0["event"] as? String == "failed" }, "\(failed.stdout)")
            Self.check(table, failed.stdout, run: "failed")

            // Cut: the receiver dies mid-way (70, a done with error); it keeps a partial.
            let resumable = TemporaryDirectory()
            do {
                let dying = ReceiverProcess(directory: resumable.path)
                let sender = XferProcess(["send", "--json", big, dying.address])
                let midway = sender.stdout.wait(seconds: 60) { text in
                    jsonEvents(text).contains { ($0["sent"] as? Int ?? 0) >= 64 << 20 }
                }
                dying.xfer.kill(SIGKILL)
                dying.xfer.process.waitUntilExit()
                let cut = finish(sender, within: 60)
                try #require(midway && cut.status != 0, "not cut: \(cut.stdout)")
                Self.check(table, cut.stdout, run: "cut")
            }

            // Resumed: one started event for the file, carrying resumed_from.
            let again = ReceiverProcess(directory: resumable.path)
            let resumed = xfer(["send", "--json", big, again.address])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            Self.check(table, resumed.stdout, run: "resumed")
            let started = jsonEvents(resumed.stdout).filter { $0["event"] as? String == "started" }
            #expect(started.count == 1, "one started event per file: \(started)")
            #expect(((started.first?["resumed_from"] as? Int) ?? 0) > 0, "\(started)")

            // Interrupted: SIGINT mid-way (130): done with every field, and interrupted.
            let other = TemporaryDirectory()
            let third = ReceiverProcess(directory: other.path)
            let sender = UnmaskedProcess(["send", "--json", source.file("one.txt"), big, third.address])
            let midway = sender.stdout.wait(seconds: 60) { text in
                jsonEvents(text).contains { ($0["sent"] as? Int ?? 0) >= 64 << 20 }
            }
            sender.signal(SIGINT)
            let interrupted = sender.wait(within: 20)
            try #require(midway && interrupted.exit == 130, "\(interrupted): \(interrupted.stderr)")
            Self.check(table, interrupted.stdout, run: "interrupted")
            let done = jsonEvents(interrupted.stdout).last
            #expect(done?["interrupted"] as? Bool == true, "\(interrupted.stdout)")
            #expect(done?["confirmed"] is Int && done?["bytes"] is Int, "\(interrupted.stdout)")
        }
    }
}
