import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// `xfer send` as a script or a person sees it: exit statuses that tell a partial run
    /// from a failed one, duplicates caught before connecting, names that are not UTF-8,
    /// a progress line that fits the terminal, resume, already committed, Ctrl-C, and a
    /// `--json` stream that is JSON on every line and ends with `done` on every exit path.
    @Suite struct SenderCommandLine {
        // MARK: Duplicates (exit 64 before connecting)

        @Test("The same file named twice is a usage error (64) before connecting, naming both paths")
        func sameFileTwice() {
            let source = TemporaryDirectory()
            source.makeFile("a.txt", count: 100)
            let listener = SilentListener()
            // --timeout 3: today the sender connects and waits for a receiver that never answers.
            let result = xfer(
                ["send", "--timeout", "3", "a.txt", "./a.txt", listener.address],
                directory: source.path
            )
            #expect(result.status == 64, "\(result.stderr)")
            #expect(result.stderr.contains("./a.txt"), "\(result.stderr)")
            #expect(
                result.stderr.replacingOccurrences(of: "./a.txt", with: "").contains("a.txt"),
                "both spellings named: \(result.stderr)"
            )
            #expect(listener.connectionsMade() == 0, "nothing connects")
        }

        @Test("Two sources with the same name on the receiver are a usage error (64), nothing sent")
        func sameFinalNameTwice() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("d1/x.txt", count: 100)
            source.makeFile("d2/x.txt", count: 200)
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(["send", "d1/x.txt", "d2/x.txt", receiver.address], directory: source.path)
            #expect(result.status == 64, "\(result.stderr)")
            #expect(result.stderr.contains("d1/x.txt"), "\(result.stderr)")
            #expect(result.stderr.contains("d2/x.txt"), "\(result.stderr)")
            #expect(!target.exists("x.txt"), "nothing arrived (today the second overwrites the first)")
        }

        // MARK: Names that are not UTF-8 (skipped, exit 23)

        @Test("A file whose name is not UTF-8 is skipped with a warning; the others arrive; 23")
        func fileNameNotUTF8() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            defer { shell("rm -rf '\(source.path)'") }
            let one = source.makeFile("tree/one.txt", count: 1000)
            let two = source.makeFile("tree/two.txt", count: 2000)
            // "caf\xE9-latin1.txt": café in Latin-1, as an old archive would have it.
            writeRawFile(Array(source.file("tree/caf").utf8) + [0xE9] + Array("-latin1.txt".utf8), [1, 2, 3])
            let receiver = ReceiverProcess(directory: target.path)

            let plain = xfer(["send", source.file("tree"), receiver.address])
            #expect(plain.status == 23, "\(plain.stderr)")
            expectSameBytes(target.contents("tree/one.txt"), one)
            expectSameBytes(target.contents("tree/two.txt"), two)
            #expect(
                plain.stderr.split(separator: "\n").contains { $0.contains("-latin1.txt") },
                "a warning names the skipped file: \(plain.stderr)"
            )
            #expect(!plain.stderr.contains("No such file or directory"), "\(plain.stderr)")

            let json = xfer(["send", "--json", source.file("tree"), receiver.address])
            #expect(json.status == 23, "\(json.stderr)")
            let log = EventLog(json.stdout)
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            #expect(
                log.all("skipped").contains { ($0.string("path") ?? "").contains("-latin1.txt") },
                "\(json.stdout)"
            )
            #expect(log.last?.kind == "done" && log.last?.int("exit") == 23, "\(json.stdout)")
            #expect(log.all("confirmed").count == 2, "\(json.stdout)")
        }

        @Test("A directory whose name is not UTF-8 is skipped with its contents; the others arrive; 23")
        func directoryNameNotUTF8() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            defer { shell("rm -rf '\(source.path)'") }
            let one = source.makeFile("tree/one.txt", count: 1000)
            let two = source.makeFile("tree/two.txt", count: 2000)
            let bad = Array(source.file("tree/caf").utf8) + [0xE9] + Array("-album".utf8)
            withRawPath(bad) { _ = mkdir($0, 0o755) }
            writeRawFile(bad + Array("/inner.txt".utf8), [4, 5, 6])
            let receiver = ReceiverProcess(directory: target.path)

            let plain = xfer(["send", source.file("tree"), receiver.address])
            #expect(plain.status == 23, "\(plain.stderr)")
            expectSameBytes(target.contents("tree/one.txt"), one)
            expectSameBytes(target.contents("tree/two.txt"), two)
            let received = (try? FileManager.default.subpathsOfDirectory(atPath: target.file("tree"))) ?? []
            #expect(!received.contains { $0.hasSuffix("inner.txt") }, "\(received)")
            #expect(
                plain.stderr.split(separator: "\n").contains { $0.contains("-album") },
                "a warning names the skipped directory: \(plain.stderr)"
            )
            #expect(!plain.stderr.contains("No such file or directory"), "\(plain.stderr)")

            let json = xfer(["send", "--json", source.file("tree"), receiver.address])
            #expect(json.status == 23, "\(json.stderr)")
            let log = EventLog(json.stdout)
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            #expect(
                log.all("skipped").contains { ($0.string("path") ?? "").contains("-album") },
                "\(json.stdout)"
            )
            #expect(log.last?.kind == "done" && log.last?.int("exit") == 23, "\(json.stdout)")
        }

        @Test("Links and special files inside a directory are skipped by design: JSON skipped events, exit 0")
        func skippedByDesignIsNotPartial() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("tree/a.txt", count: 10)
            source.makeFile("tree/b.txt", count: 20)
            symlink("/etc/hostname", source.file("tree/link"))
            mkfifo(source.file("tree/fifo"), 0o644)
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(["send", "--json", source.file("tree"), receiver.address])
            #expect(result.status == 0, "\(result.stderr)")
            let log = EventLog(result.stdout)
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            let skipped = log.all("skipped").compactMap { $0.string("path") }
            #expect(skipped.contains { $0.hasSuffix("link") }, "\(result.stdout)")
            #expect(skipped.contains { $0.hasSuffix("fifo") }, "\(result.stdout)")
            #expect(log.all("skipped").allSatisfy { $0.string("reason") != nil }, "\(result.stdout)")
            let done = log.last
            #expect(done?.kind == "done", "\(result.stdout)")
            #expect(done?.int("exit") == 0 && done?.int("skipped") == 2 && done?.int("confirmed") == 2)
        }

        // MARK: One bad source does not abort the others

        @Test("A missing source among good ones: the good ones arrive, stderr names it, exit 23")
        func missingAmongGood() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let good1 = source.makeFile("good1.txt", count: 1000)
            let good2 = source.makeFile("good2.txt", count: 2000)
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(
                ["send", "good1.txt", "not-here.txt", "good2.txt", receiver.address],
                directory: source.path
            )
            #expect(result.status == 23, "\(result.stderr)")
            expectSameBytes(target.contents("good1.txt"), good1)
            expectSameBytes(target.contents("good2.txt"), good2)
            #expect(result.stderr.contains("not-here.txt"), "\(result.stderr)")
        }

        @Test("The same partial run with --json: every line is a JSON event, done says 23, the missing file named")
        func missingAmongGoodJSON() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("good1.txt", count: 1000)
            source.makeFile("good2.txt", count: 2000)
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(
                ["send", "--json", "good1.txt", "not-here.txt", "good2.txt", receiver.address],
                directory: source.path
            )
            #expect(result.status == 23, "\(result.stderr)")
            let log = EventLog(result.stdout)
            #expect(!log.events.isEmpty, "no JSON at all")
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            #expect(log.last?.kind == "done" && log.last?.int("exit") == 23, "\(result.stdout)")
            #expect(
                (log.all("failed") + log.all("skipped")).contains {
                    ($0.string("name") ?? $0.string("path") ?? "").contains("not-here.txt")
                },
                "\(result.stdout)"
            )
            let confirmed = Set(log.all("confirmed").compactMap { $0.string("name") })
            #expect(confirmed == ["good1.txt", "good2.txt"], "\(result.stdout)")
        }

        @Test("A file that vanishes while an earlier one is sent: the others arrive, exit 23")
        func vanishedInsideDirectory() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            makeRandomFile(source.file("box/a-big.bin"), mebibytes: 100)
            source.makeFile("box/b-gone.txt", count: 500)
            let kept = source.makeFile("box/c-kept.txt", count: 600)
            let receiver = ReceiverProcess(directory: target.path)
            // A stopped receiver holds the sender inside a-big.bin (socket buffers full), so
            // b-gone.txt is deleted before the sender reaches it, whatever the machine's speed.
            receiver.xfer.kill(SIGSTOP)
            let sender = XferProcess(["send", "--json", "box", receiver.address], directory: source.path)
            func bigStarted(_ text: String) -> Bool {
                jsonEvents(text).contains {
                    $0["event"] as? String == "started" && ($0["name"] as? String ?? "").hasSuffix("a-big.bin")
                }
            }
            var started = sender.stdout.wait(seconds: 3, until: bigStarted)
            if !started {
                // A sender that waits for the receiver's WELCOME before offering: let it run
                // and delete as soon as the big file starts (100 MiB of margin).
                receiver.xfer.kill(SIGCONT)
                started = sender.stdout.wait(seconds: 30, until: bigStarted)
            }
            unlink(source.file("box/b-gone.txt"))
            receiver.xfer.kill(SIGCONT)
            let result = finish(sender, within: 60)
            try #require(started, "a-big.bin never started: \(result.stdout) \(result.stderr)")
            let log = EventLog(result.stdout)
            try #require(
                !log.all("confirmed").contains { ($0.string("name") ?? "").hasSuffix("b-gone.txt") },
                "b-gone.txt was sent before it could be deleted; the test proves nothing"
            )
            #expect(result.status == 23, "\(result.stderr)")
            #expect(shell("cmp -s '\(source.file("box/a-big.bin"))' '\(target.file("box/a-big.bin"))'").status == 0)
            expectSameBytes(target.contents("box/c-kept.txt"), kept)
            #expect(!target.exists("box/b-gone.txt"))
            #expect(result.stderr.contains("b-gone.txt"), "\(result.stderr)")
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            #expect(log.last?.kind == "done" && log.last?.int("exit") == 23, "\(result.stdout)")
            #expect(
                (log.all("failed") + log.all("skipped")).contains {
                    ($0.string("name") ?? $0.string("path") ?? "").contains("b-gone.txt")
                },
                "\(result.stdout)"
            )
        }

        @Test("Every source missing: exit 74, each one named, nothing connects")
        func allSourcesMissing() {
            let source = TemporaryDirectory()
            let listener = SilentListener()
            let result = xfer(
                ["send", "--timeout", "3", "not-here-1.txt", "not-here-2.txt", listener.address],
                directory: source.path
            )
            #expect(result.status == 74, "\(result.stderr)")
            #expect(result.stderr.contains("not-here-1.txt"), "\(result.stderr)")
            #expect(result.stderr.contains("not-here-2.txt"), "\(result.stderr)")
            #expect(listener.connectionsMade() == 0, "nothing connects")
        }

        // MARK: --json on every exit path

        @Test(
            "--json ends with a done event carrying the exit status on every exit path",
            arguments: ["usage error after parsing", "missing local file", "dead receiver"]
        )
        func doneOnEveryExitPath(path: String) {
            let source = TemporaryDirectory()
            source.makeFile("a.txt", count: 100)
            let listener = SilentListener()
            let dead = ClosedPort()
            let arguments: [String]
            let expected: Int32
            switch path {
            case "usage error after parsing":
                arguments = ["send", "--json", "--timeout", "3", "a.txt", "./a.txt", listener.address]
                expected = 64
            case "missing local file":
                arguments = ["send", "--json", "--timeout", "3", "not-here.txt", listener.address]
                expected = 74
            default:
                arguments = ["send", "--json", "a.txt", dead.address]
                expected = 69
            }
            let result = xfer(arguments, directory: source.path)
            #expect(result.status == expected, "\(result.stderr)")
            let log = EventLog(result.stdout)
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            let done = log.last
            #expect(done?.kind == "done", "stdout: \(result.stdout)")
            #expect(done?.int("exit") == Int(expected), "stdout: \(result.stdout)")
            for key in ["exit", "confirmed", "failed", "skipped", "bytes", "seconds"] where done != nil {
                #expect(done?.fields[key] is NSNumber, "done has no number '\(key)': \(result.stdout)")
            }
            #expect(log.all("done").count == 1, "\(result.stdout)")
            if expected != 69 { #expect(listener.connectionsMade() == 0, "nothing connects") }
        }

        // MARK: The progress line on a terminal

        @Test("On a 60-column terminal each redrawn progress line fits and names the file", .enabled(if: hasScript))
        func progressLineFitsTerminal() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let name = "terminal-width-probe.bin"
            makeRandomFile(source.file(name), mebibytes: 200)
            let receiver = ReceiverProcess(directory: target.path)
            let command =
                "stty cols 60 rows 20; exec env COLUMNS=60 LINES=20 '\(xferBinary)' send '\(source.file(name))' \(receiver.address)"
            let result = shell("script -qfec \"\(command)\" /dev/null </dev/null")
            #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
            let overwritten = redrawnSegments(of: result.stdout)
            #expect(!overwritten.isEmpty, "no progress line was drawn: \(result.stdout.debugDescription)")
            for segment in overwritten {
                #expect(segment.count <= 60, "\(segment.count) columns: \(segment.debugDescription)")
            }
            // The name, or at least its first 8 characters when shortened to fit.
            #expect(
                overwritten.contains { $0.contains(name.prefix(8)) },
                "the progress line names the file: \(overwritten)"
            )
        }

        // MARK: Already committed and resume, visible

        @Test("Sending again what is already there says so: stderr 'already', JSON already_committed")
        func alreadyCommittedVisible() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("again.bin", count: 1 << 20)
            let receiver = ReceiverProcess(directory: target.path)
            let first = xfer(["send", "--json", source.file("again.bin"), receiver.address])
            #expect(first.status == 0, "\(first.stderr)")
            let fresh = EventLog(first.stdout).all("confirmed").first
            #expect(fresh?.bool("already_committed") == false, "\(first.stdout)")

            let second = xfer(["send", source.file("again.bin"), receiver.address])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stderr.lowercased().contains("already"), "\(second.stderr)")

            let third = xfer(["send", "--json", source.file("again.bin"), receiver.address])
            #expect(third.status == 0, "\(third.stderr)")
            let again = EventLog(third.stdout).all("confirmed").first
            #expect(again?.bool("already_committed") == true, "\(third.stdout)")
            #expect(again?.int("bytes") == 1 << 20, "\(third.stdout)")
        }

        @Test("A resumed send says 'resumed', reports resumed_from, and does not count kept bytes as sent")
        func resumeVisible() throws {
            let source = TemporaryDirectory()
            let first = TemporaryDirectory()
            let copy = TemporaryDirectory()
            let size = 300 << 20
            let file = source.file("resume.bin")
            makeRandomFile(file, mebibytes: 300)
            do {
                let receiver = ReceiverProcess(directory: first.path)
                let sender = XferProcess(["send", "--json", file, receiver.address])
                // Killed mid-way: the receiver's PROGRESS comes every 0.25 s, too late on a fast
                // loopback, so what the sender has written stands for what arrived.
                let midway = sender.stdout.wait(seconds: 60) { text in
                    jsonEvents(text).contains { ($0["sent"] as? Int ?? 0) >= 64 << 20 }
                }
                receiver.xfer.kill(SIGKILL)
                receiver.xfer.process.waitUntilExit()
                let interrupted = finish(sender, within: 60)
                try #require(midway && interrupted.status != 0, "not interrupted: \(interrupted.stdout)")
            }
            let partials = try FileManager.default.contentsOfDirectory(atPath: first.file(".xfer")).filter {
                $0.hasSuffix(".part")
            }
            try #require(partials.count == 1, "\(partials)")
            let held =
                (try FileManager.default.attributesOfItem(atPath: first.file(".xfer/" + partials[0]))[.size] as? Int)
                ?? 0
            try #require(held > 0 && held < size, "the receiver kept \(held) bytes")
            // Two receivers holding the same partial: one for the summary, one for --json.
            try #require(shell("cp -a '\(first.path)/.' '\(copy.path)/'").status == 0)

            let plainReceiver = ReceiverProcess(directory: first.path)
            let plain = xfer(["send", file, plainReceiver.address])
            #expect(plain.status == 0, "\(plain.stderr)")
            #expect(plain.stderr.lowercased().contains("resumed"), "\(plain.stderr)")
            #expect(shell("cmp -s '\(file)' '\(first.file("resume.bin"))'").status == 0)

            let jsonReceiver = ReceiverProcess(directory: copy.path)
            let json = xfer(["send", "--json", file, jsonReceiver.address])
            #expect(json.status == 0, "\(json.stderr)")
            #expect(shell("cmp -s '\(file)' '\(copy.file("resume.bin"))'").status == 0)
            let log = EventLog(json.stdout)
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            #expect(
                log.all("started").contains { ($0.int("resumed_from") ?? 0) > 0 },
                "a started event carries resumed_from: \(json.stdout)"
            )
            let confirmed = log.all("confirmed").first
            let resumedFrom = confirmed?.int("resumed_from") ?? 0
            #expect(resumedFrom > 0 && resumedFrom <= held, "confirmed: \(confirmed?.line ?? json.stdout)")
            #expect(confirmed?.bool("already_committed") == false, "\(json.stdout)")
            let lastCount = (log.all("progress") + log.all("done")).last { $0.int("sent") != nil }
            let sent = lastCount?.int("sent") ?? Int.max
            #expect(
                sent + resumedFrom == size || sent < size,
                "sent \(sent) + resumed_from \(resumedFrom), size \(size): kept bytes counted as sent"
            )
        }

        // MARK: Ctrl-C

        @Test("SIGINT mid-way: exit 130, and stderr says the receiver keeps what arrived and a rerun resumes")
        func interrupted() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let file = source.file("interrupt.bin")
            makeRandomFile(file, mebibytes: 300)
            let receiver = ReceiverProcess(directory: target.path)
            // Spawned with no signal blocked: a child of a test thread inherits its mask,
            // in which SIGINT is blocked, and would never see the signal.
            let sender = UnmaskedProcess(["send", "--json", file, receiver.address])
            let midway = sender.stdout.wait(seconds: 60) { text in
                jsonEvents(text).contains { ($0["sent"] as? Int ?? 0) >= 64 << 20 }
            }
            sender.signal(SIGINT)
            let result = sender.wait(within: 20)
            #expect(midway)
            #expect(result.exit == 130, "\(result): \(result.stderr)")
            let message = result.stderr.lowercased()
            #expect(message.contains("resume"), "\(result.stderr)")
            #expect(message.contains("receiver"), "\(result.stderr)")
            let log = EventLog(result.stdout)
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            #expect(log.last?.kind == "done" && log.last?.int("exit") == 130, "\(result.stdout)")
        }

        // MARK: The JSON stream, whole

        @Test("A --json run of two files: every line an event, connected first, done last, full confirmed events")
        func jsonSchema() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("one.txt", count: 1000)
            source.makeFile("two.bin", count: 3 << 20)
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(["send", "--json", source.file("one.txt"), source.file("two.bin"), receiver.address])
            #expect(result.status == 0, "\(result.stderr)")
            let log = EventLog(result.stdout)
            #expect(log.invalid.isEmpty, "lines that are not JSON events: \(log.invalid)")
            let known: Set = ["connected", "started", "progress", "confirmed", "failed", "skipped", "done"]
            #expect(log.events.allSatisfy { known.contains($0.kind) }, "\(result.stdout)")
            #expect(log.events.first?.kind == "connected", "\(result.stdout)")
            #expect(log.events.first?.string("receiver") != nil, "\(result.stdout)")
            #expect(log.all("done").count == 1 && log.last?.kind == "done", "\(result.stdout)")

            let names = ["one.txt", "two.bin"]
            for name in names {
                let started = log.events.firstIndex { $0.kind == "started" && $0.string("name") == name }
                let confirmed = log.events.firstIndex { $0.kind == "confirmed" && $0.string("name") == name }
                #expect(started != nil && confirmed != nil && started! < confirmed!, "\(name): \(result.stdout)")
                if let started { #expect(log.events[started].int("size") != nil, "\(log.events[started].line)") }
            }
            let confirmed = log.all("confirmed")
            #expect(confirmed.count == 2)
            for event in confirmed {
                #expect(event.string("name") != nil, "\(event.line)")
                #expect(event.int("bytes") != nil, "\(event.line)")
                #expect(event.bool("durable") == true, "\(event.line)")
                #expect(event.bool("already_committed") == false, "\(event.line)")
            }
            #expect(!log.all("progress").isEmpty)
            // The current file; once every file is confirmed there may be none (null).
            #expect(log.all("progress").contains { $0.string("name") != nil }, "\(result.stdout)")
            for event in log.all("progress") {
                #expect(event.fields.keys.contains("name"), "progress names the current file: \(event.line)")
                if let name = event.string("name") { #expect(names.contains(name), "\(event.line)") }
                for key in ["sent", "received", "confirmed", "total"] {
                    #expect(event.int(key) != nil, "progress has no '\(key)': \(event.line)")
                }
            }
            let done = log.last
            #expect(done?.int("exit") == 0 && done?.int("confirmed") == 2, "\(done?.line ?? "")")
            #expect(done?.int("failed") == 0 && done?.int("skipped") == 0, "\(done?.line ?? "")")
            #expect(done?.int("bytes") == 1000 + 3 << 20, "\(done?.line ?? "")")
            #expect(done?.fields["seconds"] is NSNumber, "\(done?.line ?? "")")
            #expect(done?.fields["error"] == nil, "\(done?.line ?? "")")
        }
    }
}

// MARK: - Helpers

/// Whether util-linux `script` is there to run the sender under a pseudo-terminal.
private let hasScript = commandExists("script") && commandExists("stty")

/// `--json` output read strictly: every line must be a JSON object with a string "event".
struct EventLog {
    struct Event {
        let line: String
        let fields: [String: Any]

        var kind: String { fields["event"] as? String ?? "" }
        func string(_ key: String) -> String? { fields[key] as? String }
        func int(_ key: String) -> Int? { (fields[key] as? NSNumber)?.intValue }

        /// A JSON `true` or `false`, read from the line itself (a number 1 is not a boolean).
        func bool(_ key: String) -> Bool? {
            guard let pattern = try? Regex("\"\(key)\"\\s*:\\s*(true|false)"),
                let match = line.firstMatch(of: pattern)
            else { return nil }
            return match.output[1].substring == "true"
        }
    }

    var events: [Event] = []
    /// Lines that are not a JSON object with an "event".
    var invalid: [String] = []

    init(_ text: String) {
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        for line in lines {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["event"] is String
            {
                events.append(Event(line: line, fields: object))
            } else {
                invalid.append(line)
            }
        }
    }

    var last: Event? { events.last }

    func all(_ kind: String) -> [Event] { events.filter { $0.kind == kind } }
}

/// A loopback TCP socket bound to a kernel-chosen port.
private func boundLoopbackSocket() -> (fd: CInt, port: UInt16) {
    let fd = socket(AF_INET, streamSocketType, 0)
    precondition(fd >= 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            precondition(bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0)
        }
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// A port that listens and never answers, and counts who connected: a sender that must
/// not connect leaves its accept queue empty.
private final class SilentListener {
    let fd: CInt
    let port: UInt16

    init() {
        (fd, port) = boundLoopbackSocket()
        precondition(listen(fd, 64) == 0)
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Accepts (and closes) every connection the kernel completed so far.
    func connectionsMade() -> Int {
        var count = 0
        while true {
            let connection = accept(fd, nil, nil)
            guard connection >= 0 else { return count }
            close(connection)
            count += 1
        }
    }

    deinit { close(fd) }
}

/// A port bound but not listening: connecting is refused at once.
private final class ClosedPort {
    let fd: CInt
    let port: UInt16

    init() { (fd, port) = boundLoopbackSocket() }

    var address: String { "127.0.0.1:\(port)" }

    deinit { close(fd) }
}

/// Calls `body` with a NUL-terminated copy of raw path bytes (not necessarily UTF-8).
@discardableResult
private func withRawPath<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    (bytes + [0]).withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
}

/// Creates a file at raw path bytes.
private func writeRawFile(_ path: [UInt8], _ contents: [UInt8]) {
    let fd = withRawPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
    precondition(fd >= 0, "cannot create a file with a raw name: errno \(errno)")
    contents.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// A large file of random bytes, written by the kernel's generator without passing
/// through the test's memory.
func makeRandomFile(_ path: String, mebibytes: Int) {
    try! FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent,
        withIntermediateDirectories: true
    )
    let made = shell("head -c \(mebibytes << 20) /dev/urandom > '\(path)'")
    precondition(made.status == 0, made.stderr)
}

/// Waits for a sender to exit, at most `seconds`: its stdout closes when it does (then
/// waiting for the exit itself is short). One still running at the deadline is killed and
/// recorded as an issue.
func finish(_ process: XferProcess, within seconds: Double) -> Finished {
    let deadline = Date(timeIntervalSinceNow: seconds)
    _ = process.stdout.waitForEnd(seconds: seconds)
    if Date() >= deadline && process.process.isRunning {
        Issue.record("xfer send did not exit within \(Int(seconds)) s; killed")
        process.kill(SIGKILL)
    }
    return process.finish()
}

/// `xfer` started with posix_spawn, every signal unblocked and SIGINT and SIGPIPE at their
/// defaults, as a shell would start it (Foundation's Process passes on the spawning
/// thread's mask, and test threads block SIGINT).
final class UnmaskedProcess {
    struct Result: CustomStringConvertible {
        /// The exit status, or nil when a signal ended the process.
        var exit: Int32?
        var signal: Int32?
        var stdout: String
        var stderr: String

        var description: String { exit.map { "exit \($0)" } ?? "killed by signal \(signal ?? 0)" }
    }

    let pid: pid_t
    let stdout: PipeCollector
    let stderr: PipeCollector

    init(_ arguments: [String]) {
        let out = Pipe()
        let err = Pipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out.fileHandleForWriting.fileDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, err.fileHandleForWriting.fileDescriptor, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([xferBinary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, xferBinary, &actions, &attributes, argv, environ)
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attributes)
        precondition(status == 0, "posix_spawn: \(String(cString: strerror(status)))")
        self.pid = pid
        try? out.fileHandleForWriting.close()
        try? err.fileHandleForWriting.close()
        stdout = PipeCollector(out)
        stderr = PipeCollector(err)
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the exit, at most `seconds` (its pipes close when it exits); one still
    /// running then is killed and recorded as an issue.
    func wait(within seconds: Double) -> Result {
        let deadline = Date(timeIntervalSinceNow: seconds)
        _ = stdout.waitForEnd(seconds: seconds)
        var status: CInt = 0
        if Date() >= deadline && waitpid(pid, &status, WNOHANG) == 0 {
            Issue.record("xfer send did not exit within \(Int(seconds)) s; killed")
            kill(pid, SIGKILL)
        }
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        return Result(
            exit: signal == 0 ? (status >> 8) & 0xFF : nil,
            signal: signal == 0 ? nil : signal,
            stdout: stdout.waitForEnd(),
            stderr: stderr.waitForEnd()
        )
    }

    deinit {
        var status: CInt = 0
        if waitpid(pid, &status, WNOHANG) == 0 {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
    }
}

/// What a terminal shows of the lines that were redrawn in place: the transcript with
/// "\r\n" (the terminal's newline) as line ends, each line cut at carriage returns (and
/// cursor-to-column moves), escape sequences removed. Every piece but a line's last was
/// overwritten; those are returned, blank ones left out.
private func redrawnSegments(of transcript: String) -> [String] {
    var text = transcript.replacingOccurrences(of: "\r\n", with: "\n")
    text = text.replacingOccurrences(of: "\u{1B}\\[[0-9]*G", with: "\r", options: .regularExpression)
    text = text.replacingOccurrences(
        of: "\u{1B}(\\[[0-9;?]*[ -/]*[@-~]|[78=>])",
        with: "",
        options: .regularExpression
    )
    var segments: [String] = []
    for line in text.components(separatedBy: "\n") {
        let pieces = line.components(separatedBy: "\r")
        segments += pieces.dropLast().filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
    return segments
}
