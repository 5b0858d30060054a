import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// The receiver's commit path (SPEC.md §7.3) against what a power loss would take: every
// directory on a file's path must have its entry made durable before the ACK, whoever made
// it and whatever failed before. The real receiver runs under strace, which records the
// order of its syncs and socket writes and delays or fails chosen calls; the senders are
// real (`xfer send`, or scripts/xfer-steps.py for one commit per file).

extension Integration {
    @Suite(.enabled(if: commitStrace != nil || ProcessInfo.processInfo.environment["CI"] != nil, "needs strace"))
    struct CommitPath {
        @Test(
            "Durable path (a): a directory another connection made and has not synced yet is synced by the commit that uses it"
        )
        func directoryOfAnotherConnection() throws {
            let strace = try #require(commitStrace, "strace is required")
            let work = TemporaryDirectory()
            let target = try makeTarget(in: work)
            // Connection A makes x, x/y and x/y/z and is held (strace delays its third mkdirat:
            // the receiver's start makes two in its own thread) before any of its syncs.
            let receiver = try #require(
                TracedReceiver(
                    strace: strace,
                    log: work.file("trace"),
                    options: ["-e", "inject=mkdirat:delay_exit=4000000:when=3"],
                    target: target,
                    extra: []
                )
            )
            let source = TemporaryDirectory()
            let bytesA = source.makeFile("x/y/z/a", count: 5000)
            let sourceB = TemporaryDirectory()
            let bytesB = sourceB.makeFile("x/b", count: 7000)
            // A first connection (which syncs the target for its file and the journal's place
            // at its end): after it, only the rule under test can sync the target for x.
            let warm = TemporaryDirectory()
            _ = warm.makeFile("warm", count: 100)
            #expect(xfer(["send", warm.file("warm"), receiver.address]).status == 0)
            let senderA = XferProcess(["send", source.file("x"), receiver.address])
            // Ready when x/y/z exists: A is inside its delayed mkdirat, x is not synced.
            try #require(waitUntil { FileManager.default.fileExists(atPath: target + "/x/y/z") })
            let senderB = xfer(["send", sourceB.file("x"), receiver.address])
            let finishedA = senderA.finish()
            let trace = receiver.stop()
            #expect(senderB.status == 0, "\(senderB.stderr)")
            #expect(finishedA.status == 0, "\(finishedA.stderr)")
            #expect(FileManager.default.contents(atPath: target + "/x/b").map { [UInt8]($0) } == bytesB)
            #expect(FileManager.default.contents(atPath: target + "/x/y/z/a").map { [UInt8]($0) } == bytesA)
            let made = try #require(trace.firstIndex { $0.name == "mkdirat" && $0.string(1) == "x" }, "no mkdirat of x")
            let ack = try #require(trace.ackCarrier(afterRenameOf: "b"), "no rename of b and socket write after it")
            #expect(
                trace.successfulSync(of: target, between: made, and: ack),
                "x (made by connection A, line \(trace[made].line)) has no synced entry in the target before B's ACK (line \(trace[ack].line))"
            )
        }

        @Test("Durable path (b): a directory left by a receiver killed after its mkdir is synced before the next ACK")
        func directoryOfKilledReceiver() throws {
            let strace = try #require(commitStrace, "strace is required")
            let work = TemporaryDirectory()
            let target = try makeTarget(in: work)
            let source = TemporaryDirectory()
            _ = source.makeFile("x/a", count: 5000)
            let sourceB = TemporaryDirectory()
            let bytesB = sourceB.makeFile("x/b", count: 7000)
            do {
                // The first receiver makes x (its third mkdirat, held) and is killed there.
                let first = try #require(
                    TracedReceiver(
                        strace: strace,
                        log: work.file("trace1"),
                        options: ["-e", "inject=mkdirat:delay_exit=20000000:when=3"],
                        target: target,
                        extra: ["--once"]
                    )
                )
                let sender = XferProcess(["send", source.file("x"), first.address])
                try #require(waitUntil { FileManager.default.fileExists(atPath: target + "/x") })
                first.kill()
                #expect(sender.finish().status != 0)
            }
            let second = try #require(
                TracedReceiver(strace: strace, log: work.file("trace2"), options: [], target: target, extra: ["--once"])
            )
            // A first commit (warm) syncs the target: after it, only the rule under test can
            // sync the target for x.
            _ = bytesB
            let steps = shell("python3 '\(scriptPath("xfer-steps.py"))' 127.0.0.1 \(second.port) warm:100 x/b:7000")
            let trace = second.stop()
            #expect(steps.status == 0, "\(steps.stdout) \(steps.stderr)")
            #expect(FileManager.default.fileExists(atPath: target + "/x/b"))
            let warm = try #require(trace.ackCarrier(afterRenameOf: "warm"), "no rename of warm and write after it")
            let ack = try #require(trace.ackCarrier(afterRenameOf: "b"), "no rename of b and socket write after it")
            #expect(
                trace.successfulSync(of: target, between: warm, and: ack),
                "x (left by a killed receiver) has no synced entry in the target before the ACK (line \(trace[ack].line))"
            )
        }

        @Test(
            "Durable path (c): after the sync of a new directory's parent failed, the next commit into it syncs the parent"
        )
        func directoryWhoseParentSyncFailed() throws {
            let strace = try #require(commitStrace, "strace is required")
            let work = TemporaryDirectory()
            let target = try makeTarget(in: work)
            // One connection, one commit per file. warm: fsync 1 its data, 2 the target (its
            // parent); x/a: 3 its data, 4 the target's for the new x (made to fail), 5 x's;
            // the test checks that the failure hit the target after x was made.
            let receiver = try #require(
                TracedReceiver(
                    strace: strace,
                    log: work.file("trace"),
                    options: ["-e", "inject=fsync:error=EIO:when=4"],
                    target: target,
                    extra: ["--once"]
                )
            )
            let steps = shell(
                "python3 '\(scriptPath("xfer-steps.py"))' 127.0.0.1 \(receiver.port) warm:100 x/a:1000 x/b:2000"
            )
            let trace = receiver.stop()
            let lines = steps.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 3 && lines[1].hasPrefix("error x/a "), "\(steps.stdout) \(steps.stderr)")
            #expect(lines.last == "ack x/b 2000", "\(steps.stdout) \(steps.stderr)")
            let made = try #require(trace.firstIndex { $0.name == "mkdirat" && $0.string(1) == "x" }, "no mkdirat of x")
            let failed = try #require(
                trace.firstIndex { $0.name == "fsync" && $0.injected && $0.path(0) == target },
                "the injected failure did not hit the target's fsync"
            )
            try #require(failed > made, "the injected failure hit the target's fsync before x was made")
            let ack = try #require(trace.ackCarrier(afterRenameOf: "b"), "no rename of b and socket write after it")
            #expect(
                trace.successfulSync(of: target, between: failed, and: ack),
                "the target's sync failed (line \(trace[failed].line)) and was not done again before b's ACK (line \(trace[ack].line))"
            )
        }
    }
}

extension Integration.CommitPath {
    @Test("A tool that truncates .xfer/ID.part mid-stream: the commit finds the size wrong, no ACK, nothing committed")
    func partialTruncatedMidStream() throws {
        let target = TemporaryDirectory()
        let receiver = ReceiverProcess(directory: target.path, extra: ["--once"])
        let sender = XferProcess(["send", "--name", "cut.bin", "-", receiver.address])
        let half = [UInt8](repeating: 0x5A, count: 1 << 20)
        try sender.stdin.fileHandleForWriting.write(contentsOf: Data(half))
        // Ready when the first half is in the partial file.
        var partial = ""
        try #require(
            waitUntil {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: target.file(".xfer"))) ?? []
                guard let name = names.first(where: { $0.hasSuffix(".part") }) else { return false }
                partial = target.file(".xfer/" + name)
                let size = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0
                return size == half.count
            },
            "the first MiB never reached the partial file"
        )
        #expect(truncate(partial, 0) == 0)
        try sender.stdin.fileHandleForWriting.write(contentsOf: Data(half))
        let result = sender.finish()
        #expect(result.status != 0, "the sender exited 0 after its partial file was truncated: \(result.stderr)")
        #expect(!target.exists("cut.bin"), "a file was committed under the final name")
        #expect(receiver.xfer.finish().stderr.contains("not the"), "the receiver's log does not say why")
    }

    @Test("A name of 2,048 levels under RLIMIT_NOFILE 256: committed with a bounded number of descriptors")
    func deepNameFewDescriptors() throws {
        try #require(commandExists("prlimit"), "needs prlimit")
        let target = TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "prlimit", "--nofile=256:256", xferBinary, "receive", "--dir", target.path, "--listen", "127.0.0.1:0",
            "--once",
        ]
        let log = Pipe()
        process.standardError = log
        let collector = PipeCollector(log)
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        try #require(collector.wait(for: "listening on"), "\(collector.text)")
        let line = collector.text.split(separator: "\n").first { $0.contains("listening on") }!
        let port = try #require(UInt16(line.split(separator: ":").last!))
        // 2,047 directories and the file: 4,095 bytes, within the 4,096 of a name.
        let name = String(repeating: "d/", count: 2047) + "f"
        let steps = shell("python3 '\(scriptPath("xfer-steps.py"))' 127.0.0.1 \(port) '\(name):3000'")
        process.waitUntilExit()
        #expect(steps.status == 0, "\(steps.stdout) \(steps.stderr)\nreceiver: \(collector.text.suffix(2000))")
        #expect(steps.stdout.hasPrefix("ack "), "\(steps.stdout)")
        let found = shell("cd '\(target.path)' && find d -name f -type f | wc -l")
        #expect(found.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(found.stdout) \(found.stderr)")
    }

    @Test("A directory moved out of the target during the commit: its file gets an error, never an ACK")
    func directoryMovedOutMidCommit() throws {
        let strace = try #require(commitStrace, "strace is required")
        let work = TemporaryDirectory()
        let target = try makeTarget(in: work)
        // The commit's rename into x is held (strace delays it) while the test moves x out.
        let receiver = try #require(
            TracedReceiver(
                strace: strace,
                log: work.file("trace"),
                options: ["-e", "inject=renameat:delay_exit=1500000:when=1"],
                target: target,
                extra: ["--once"]
            )
        )
        let source = TemporaryDirectory()
        _ = source.makeFile("x/f", count: 4000)
        let sender = XferProcess(["send", "--json", source.file("x"), receiver.address])
        // Ready when the file is in x: the rename happened, its syscall is held.
        try #require(waitUntil { FileManager.default.fileExists(atPath: target + "/x/f") })
        #expect(rename(target + "/x", work.file("outside")) == 0)
        let result = sender.finish()
        _ = receiver.stop()
        let confirmed = jsonEvents(result.stdout).filter { $0["event"] as? String == "confirmed" }
        #expect(result.status != 0, "the sender exited 0 for a file moved out of the target: \(result.stdout)")
        #expect(confirmed.isEmpty, "confirmed although its directory left the target: \(confirmed)")
        #expect(result.stderr.contains("moved"), "\(result.stderr)")
    }

    @Test("Where syncfs is no barrier (FUSE, forced by XFER_TEST_FILESYSTEM_TYPE): a batch is synced file by file")
    func batchOnFuseSyncedPerFile() throws {
        let strace = try #require(commitStrace, "strace is required")
        let work = TemporaryDirectory()
        let target = try makeTarget(in: work)
        let receiver = try #require(
            TracedReceiver(
                strace: strace,
                log: work.file("trace"),
                options: [],
                target: target,
                extra: ["--once"],
                environment: ["XFER_TEST_FILESYSTEM_TYPE": "65735546"]
            )
        )
        let source = TemporaryDirectory()
        for index in 1...12 { _ = source.makeFile("batch/f\(index)", count: 1000 + index) }
        let result = xfer(["send", source.file("batch"), receiver.address])
        let trace = receiver.stop()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(trace.firstIndex { $0.name == "syncfs" } == nil, "syncfs used on a file system where it is no barrier")
        let synced = Set(
            trace.calls.filter { ["fsync", "fdatasync"].contains($0.name) && $0.ok }.compactMap { $0.path(0) }
                .filter { $0.hasSuffix(".part") }
        )
        #expect(synced.count == 12, "partial files synced one by one: \(synced.count) of 12")
    }
}

extension Integration.CommitPath {
    @Test("Resume survives a power loss: a kept partial, its name in .xfer and .xfer's in the target are synced")
    func keptPartialSynced() throws {
        let strace = try #require(commitStrace, "strace is required")
        let work = TemporaryDirectory()
        let target = try makeTarget(in: work)
        let receiver = try #require(
            TracedReceiver(strace: strace, log: work.file("trace"), options: [], target: target, extra: [])
        )
        // A first connection ends with the journal's place synced (.xfer included): after
        // it, only the rule under test syncs .xfer for a kept partial.
        let warm = TemporaryDirectory()
        _ = warm.makeFile("warm", count: 100)
        #expect(xfer(["send", warm.file("warm"), receiver.address]).status == 0)
        let source = TemporaryDirectory()
        _ = source.makeFile("big.bin", count: 64 << 20)
        let sender = XferProcess(["send", source.file("big.bin"), receiver.address])
        // Cut when the first MiB is in the partial file: the receiver keeps it for a resume.
        try #require(
            waitUntil {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: target + "/.xfer")) ?? []
                guard let name = names.first(where: { $0.hasSuffix(".part") }) else { return false }
                let size = (try? FileManager.default.attributesOfItem(atPath: target + "/.xfer/" + name)[.size] as? Int)
                return (size ?? 0) >= 1 << 20
            }
        )
        sender.kill()
        _ = sender.finish()
        // The receiver says when it kept the partial.
        #expect(receiver.errors.wait(for: "kept", seconds: 20), "\(receiver.errors.text)")
        let trace = receiver.stop()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: target + "/.xfer")) ?? []
        let part = try #require(names.first { $0.hasSuffix(".part") }, "no partial kept: \(names)")
        let partPath = target + "/.xfer/" + part
        let lastOpen = try #require(trace.calls.lastIndex { $0.name == "openat" && $0.text.contains(part) })
        let end = trace.calls.count
        for path in [partPath, target + "/.xfer"] {
            #expect(
                trace.successfulSync(of: path, between: lastOpen, and: end),
                "\(path) is not synced after the stream was cut: the kept partial may not survive a power loss"
            )
        }
        // .xfer's own entry: synced once in the process, before or after.
        #expect(trace.successfulSync(of: target, between: -1, and: end), "the target is never synced")
    }

    @Test(
        "Already-committed survives a power loss: the journal line, its bucket's name and .xfer are synced before GOODBYE"
    )
    func journalSynced() throws {
        let strace = try #require(commitStrace, "strace is required")
        let work = TemporaryDirectory()
        let target = try makeTarget(in: work)
        let receiver = try #require(
            TracedReceiver(strace: strace, log: work.file("trace"), options: [], target: target, extra: ["--once"])
        )
        let source = TemporaryDirectory()
        _ = source.makeFile("j.bin", count: 3000)
        let result = xfer(["send", source.file("j.bin"), receiver.address])
        let trace = receiver.stop()
        #expect(result.status == 0, "\(result.stderr)")
        // The receiver's last socket write is its GOODBYE.
        let goodbye = try #require(trace.calls.lastIndex { ["sendto", "sendmsg"].contains($0.name) })
        let bucket = try #require(
            trace.firstIndex {
                $0.name == "openat" && $0.ok && $0.text.contains("O_CREAT") && $0.text.contains(".log\"")
            },
            "no journal bucket created"
        )
        let bucketName = try #require(trace[bucket].string(1))
        let rename = try #require(trace.firstIndex { $0.name.hasPrefix("renameat") && $0.string(3) == "j.bin" })
        for path in [target + "/.xfer/commits/" + bucketName, target + "/.xfer/commits", target + "/.xfer", target] {
            #expect(
                trace.successfulSync(of: path, between: rename, and: goodbye),
                "\(path) is not synced between the commit and the receiver's GOODBYE"
            )
        }
    }
}

// MARK: - Helpers

/// strace, if installed.
let commitStrace: String? = ["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// A script of this package's `scripts` directory.
func scriptPath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/\(name)").path
}

/// A new target directory in `work`, as strace spells it (symbolic links resolved).
func makeTarget(in work: TemporaryDirectory) throws -> String {
    let directory = work.file("target")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    return URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
}

/// Polls `condition` (a readiness signal the test cannot be told of otherwise) for up to
/// 30 s.
func waitUntil(_ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: 30)
    while !condition() {
        if Date() > deadline { return false }
        usleep(2000)
    }
    return true
}

/// `xfer receive` under `strace -f`, ready once it has said where it listens.
final class TracedReceiver {
    let process = Process()
    let errors: PipeCollector
    let port: UInt16
    let log: String

    var address: String { "127.0.0.1:\(port)" }

    /// Traces the commit's calls and socket writes into `log`; `options` add strace's own
    /// (injections), `extra` the receiver's.
    init?(
        strace: String,
        log: String,
        options: [String],
        target: String,
        extra: [String],
        environment: [String: String] = [:]
    ) {
        signal(SIGPIPE, SIG_IGN)
        self.log = log
        process.executableURL = URL(fileURLWithPath: strace)
        process.arguments =
            ["-f", "-qq", "-y", "-s", "64", "-o", log]
            + [
                "-e",
                "trace=?fsync,?fdatasync,?syncfs,?mkdirat,?renameat,?renameat2,?sendto,?sendmsg,?openat,?ftruncate",
            ]
            + options + [xferBinary, "receive", "--listen", "127.0.0.1:0", "--dir", target, "--timeout", "10"] + extra
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        process.environment = merged
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        errors = PipeCollector(err)
        guard (try? process.run()) != nil, errors.wait(for: "listening on", seconds: 30),
            let line = errors.text.split(separator: "\n").first(where: { $0.contains("listening on") }),
            let port = line.split(separator: ":").last.flatMap({ UInt16($0.trimmingCharacters(in: .whitespaces)) })
        else {
            Issue.record("the receiver under strace did not start: \(errors.text)")
            return nil
        }
        self.port = port
    }

    /// The receiver's process ID (strace's child).
    private var receiverID: pid_t? {
        let pid = process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").first.flatMap { pid_t($0) }
    }

    /// Kills the receiver (SIGKILL), as a crash would.
    func kill() {
        if let id = receiverID { Glibc.kill(id, SIGKILL) }
        // strace would hold on until a delay it injected ends.
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops the receiver and returns the trace: one started with `--once` is waited for
    /// (20 s at most), any other is sent SIGTERM (it lets running commits finish).
    func stop() -> Trace {
        if !(process.arguments?.contains("--once") ?? false), let id = receiverID { Glibc.kill(id, SIGTERM) }
        let deadline = Date(timeIntervalSinceNow: 20)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning, let id = receiverID {
            Issue.record("the receiver under strace did not exit within 20 s")
            Glibc.kill(id, SIGKILL)
        }
        process.waitUntilExit()
        return Trace((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    deinit {
        if process.isRunning {
            if let id = receiverID { Glibc.kill(id, SIGKILL) }
            process.waitUntilExit()
        }
    }
}

/// The calls of a `strace -f -qq -y -o LOG` log, a call interrupted by another thread's
/// (`<unfinished ...>` … `<... name resumed>`) joined into one.
struct Trace {
    struct Call {
        /// Line of the call's start, and of its end.
        var line: Int
        var endLine: Int
        var pid: Int
        var name: String
        /// Everything between the name's parenthesis and the result.
        var text: String
        var result: Int?
        var injected: Bool

        var ok: Bool { !injected && (result ?? -1) >= 0 }

        /// The path strace shows for descriptor argument `index` (`3</a/b>`).
        func path(_ index: Int) -> String? {
            let arguments = text.components(separatedBy: ", ")
            guard index < arguments.count, let open = arguments[index].firstIndex(of: "<"),
                let close = arguments[index].lastIndex(of: ">"), open < close
            else { return nil }
            return String(arguments[index][arguments[index].index(after: open)..<close])
        }

        /// String argument `index` (`"name"`), unquoted.
        func string(_ index: Int) -> String? {
            let arguments = text.components(separatedBy: ", ")
            guard index < arguments.count, arguments[index].hasPrefix("\""), arguments[index].count >= 2 else {
                return nil
            }
            return String(arguments[index].dropFirst().prefix { $0 != "\"" })
        }
    }

    private(set) var calls: [Call] = []

    init(_ log: String) {
        var pending: [Int: (line: Int, head: String)] = [:]
        for (number, raw) in log.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            guard let space = line.firstIndex(of: " "), let pid = Int(line[..<space]) else { continue }
            var body = String(line[line.index(after: space)...]).trimmingCharacters(in: .whitespaces)
            var start = number
            if body.hasSuffix("<unfinished ...>") {
                pending[pid] = (number, String(body.dropLast("<unfinished ...>".count)))
                continue
            }
            if body.hasPrefix("<... "), let resumed = body.range(of: " resumed>") {
                guard let head = pending.removeValue(forKey: pid) else { continue }
                start = head.line
                body = head.head + body[resumed.upperBound...]
            }
            guard let open = body.firstIndex(of: "("), let equals = body.range(of: ") = ", options: .backwards)
            else { continue }
            let resultText = body[equals.upperBound...]
            calls.append(
                Call(
                    line: start,
                    endLine: number,
                    pid: pid,
                    name: String(body[..<open]),
                    text: String(body[body.index(after: open)..<equals.lowerBound]),
                    result: Int(resultText.prefix { $0 == "-" || $0.isNumber }),
                    injected: resultText.contains("(INJECTED)")
                )
            )
        }
    }

    subscript(index: Int) -> Call { calls[index] }

    func firstIndex(where predicate: (Call) -> Bool) -> Int? { calls.firstIndex(where: predicate) }

    /// The first socket write of the thread that renamed a file to `leaf`, after that
    /// rename: the write that carries its ACK (the receiver ACKs right after the commit).
    func ackCarrier(afterRenameOf leaf: String) -> Int? {
        guard
            let rename = calls.lastIndex(where: {
                ($0.name == "renameat2" || $0.name == "renameat") && $0.ok && $0.string(3) == leaf
            })
        else { return nil }
        return calls.indices.first {
            $0 > rename && calls[$0].pid == calls[rename].pid && ["sendto", "sendmsg"].contains(calls[$0].name)
                && calls[$0].line > calls[rename].endLine
        }
    }

    /// Whether an fsync (or fdatasync) of the directory `path` succeeded, or a syncfs, after
    /// call `after` ended (-1: from the start) and before call `before` started (past the
    /// last call: to the end).
    func successfulSync(of path: String, between after: Int, and before: Int) -> Bool {
        let from = after < 0 ? -1 : calls[after].endLine
        let to = before < calls.count ? calls[before].line : Int.max
        return calls.contains {
            $0.ok && $0.line > from && $0.endLine < to
                && ($0.name == "syncfs" || (["fsync", "fdatasync"].contains($0.name) && $0.path(0) == path))
        }
    }
}

extension Trace: CustomTestStringConvertible {
    /// Short, for expectation messages: a trace has thousands of calls.
    var testDescription: String { "a trace of \(calls.count) calls" }
}
