import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Black-box durability tests: the real receiver binary runs under strace, which records the
// order of its sync, rename, mkdir and socket calls and makes chosen calls fail. The sender
// is the real `xfer send --json`; its `confirmed` events name what the receiver ACKed.

extension Integration {
    /// What the receiver does before an ACK, and what it does when a sync or rename fails.
    @Suite(.enabled(if: straceRunnable, "strace is not installed (and CI is not set)")) struct Durability {
        // MARK: A. Fault injection

        @Test("Injected sync/rename failures: one 20 MiB file (sync_file_range every 8 MiB)")
        func faultsOnLargeFile() {
            guard let strace = requireStrace() else { return }
            checkFaults(DurabilityScenario.largeFile(), strace: strace)
        }

        @Test("Injected sync/rename failures: twelve small files in a new directory tree, one batch")
        func faultsOnBatchInNewTree() {
            guard let strace = requireStrace() else { return }
            checkFaults(DurabilityScenario.batchInNewTree(), strace: strace)
        }

        @Test("Injected sync/rename failures: one file into new nested directories")
        func faultsOnFileInNewDirectories() {
            guard let strace = requireStrace() else { return }
            checkFaults(DurabilityScenario.fileInNewDirectories(), strace: strace)
        }

        // MARK: B. Order of syncs, renames and ACKs

        @Test("Order before the ACK: one file at the top of the target")
        func orderForTopLevelFile() {
            guard let strace = requireStrace() else { return }
            checkOrder(DurabilityScenario.topLevelFile(), strace: strace)
        }

        @Test("Order before the ACK: one file into new nested directories")
        func orderForFileInNewDirectories() {
            guard let strace = requireStrace() else { return }
            checkOrder(DurabilityScenario.fileInNewDirectories(), strace: strace)
        }

        @Test("Order before the ACK: three small files, synced file by file (no syncfs for a few)")
        func orderForSmallBatch() {
            guard let strace = requireStrace() else { return }
            checkOrder(DurabilityScenario.smallBatchInNewTree(), strace: strace)
        }

        @Test("Order before the ACK: twelve small files in a new directory tree, one batch")
        func orderForBatchInNewTree() {
            guard let strace = requireStrace() else { return }
            checkOrder(DurabilityScenario.batchInNewTree(), strace: strace)
        }

        @Test("The strace log reader: interrupted calls joined, paths and strings decoded, injections seen")
        func straceLogReader() {
            let log = [
                #"100  fsync(8<\x2f\x61\x2f\x62> <unfinished ...>"#,
                #"101  sendto(7<\x73\x6f\x63\x6b\x65\x74\x3a\x5b\x31\x5d>, "\x09\x01", 2, MSG_NOSIGNAL, NULL, 0) = 2"#,
                #"100  <... fsync resumed>) = -1 EIO (Input/output error) (INJECTED)"#,
                #"100  renameat(4<\x2f\x61>, "\x78\x2e\x70\x61\x72\x74", 5<\x2f\x62>, "\x79") = 0"#,
                #"100  openat(4<\x2f\x61>, "\x78", O_RDONLY|O_CLOEXEC) = 9<\x2f\x61\x2f\x78>"#,
                "100  --- SIGCHLD {si_signo=SIGCHLD} ---",
            ].joined(separator: "\n")
            let calls = StraceCall.parse(log)
            #expect(calls.map(\.name) == ["sendto", "fsync", "renameat", "openat"])
            guard calls.count == 4 else { return }
            let (sendto, fsync, rename, open) = (calls[0], calls[1], calls[2], calls[3])
            #expect(sendto.path(0) == "socket:[1]" && sendto.quotedBytes == [9, 1] && sendto.ok)
            #expect(fsync.line == 0 && fsync.endLine == 2 && fsync.pid == 100 && fsync.path(0) == "/a/b")
            #expect(fsync.injected && !fsync.ok && fsync.result == -1)
            #expect(
                rename.isRename && rename.string(1) == "x.part" && rename.path(2) == "/b" && rename.string(3) == "y"
            )
            #expect(open.result == 9 && open.resultPath == "/a/x")
        }
    }
}

// MARK: - strace availability

/// strace on PATH (or in /usr/bin), if installed.
private let stracePath: String? = {
    let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    return (directories + ["/usr/bin"]).map { "\($0)/strace" }.first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}()

/// Without strace the tests are skipped, except in CI, where they run to fail.
private let straceRunnable: Bool = {
    if stracePath != nil { return true }
    if ProcessInfo.processInfo.environment["CI"] != nil { return true }
    print("Durability tests skipped: strace is not installed (and CI is not set)")
    return false
}()

private func requireStrace() -> String? {
    if stracePath == nil { Issue.record("strace is required when CI is set, and it is not installed") }
    return stracePath
}

// MARK: - Scenarios

/// Files to send with one `xfer send`, and what the receiver must end up with.
private struct DurabilityScenario {
    var label: String
    let source = TemporaryDirectory()
    /// Contents by the name the sender gives them (relative to the target).
    var files: [String: [UInt8]] = [:]
    /// What to name on the sender's command line.
    var paths: [String] = []

    init(_ label: String) { self.label = label }

    mutating func add(_ name: String, count: Int) { files[name] = source.makeFile(name, count: count) }

    static func largeFile() -> DurabilityScenario {
        var scenario = DurabilityScenario("one 20 MiB file")
        scenario.add("big.bin", count: 20 << 20)
        scenario.paths = [scenario.source.file("big.bin")]
        return scenario
    }

    static func batchInNewTree() -> DurabilityScenario {
        // Twelve: a batch that large is synced with one syncfs (smaller ones file by file).
        var scenario = DurabilityScenario("batch of 12 in newdir/sub")
        for index in 1...12 { scenario.add("newdir/sub/f\(index)", count: 1000 + index) }
        scenario.paths = [scenario.source.file("newdir")]
        return scenario
    }

    static func smallBatchInNewTree() -> DurabilityScenario {
        var scenario = DurabilityScenario("batch of 3 in small/tree")
        for index in 1...3 { scenario.add("small/tree/f\(index)", count: 500 + index) }
        scenario.paths = [scenario.source.file("small")]
        return scenario
    }

    static func fileInNewDirectories() -> DurabilityScenario {
        var scenario = DurabilityScenario("one file in deep/er/est")
        scenario.add("deep/er/est/one.bin", count: 300_000)
        scenario.paths = [scenario.source.file("deep")]
        return scenario
    }

    static func topLevelFile() -> DurabilityScenario {
        var scenario = DurabilityScenario("one top-level file")
        scenario.add("plain.bin", count: 100_000)
        scenario.paths = [scenario.source.file("plain.bin")]
        return scenario
    }
}

// MARK: - A. Fault injection

/// The calls made to fail, with the errors tried for each, at each of their first eight calls (every
/// directory fsync of a deep new tree included).
private let injections: [(call: String, errors: [String])] = [
    ("fsync", ["EIO", "ENOSPC", "EDQUOT"]),
    ("fdatasync", ["EIO", "ENOSPC", "EDQUOT"]),
    ("syncfs", ["EIO", "ENOSPC", "EDQUOT"]),
    ("sync_file_range", ["EIO"]),
    ("renameat", ["EIO"]),
    ("renameat2", ["EIO"]),
]

private let syncCalls = ["fsync", "fdatasync", "syncfs", "sync_file_range"]
private let commitCalls = syncCalls + ["renameat", "renameat2", "mkdirat"]
private let fileWriteCalls = ["write", "pwrite64", "writev", "pwritev", "pwritev2"]

private func checkFaults(_ scenario: DurabilityScenario, strace: String) {
    var fired: Set<String> = []
    for (call, errors) in injections {
        for error in errors {
            for when in 1...8 {
                let combination = "\(call):error=\(error):when=\(when)"
                let traced = commitCalls + ["openat"] + fileWriteCalls
                guard
                    let run = TracedRun(scenario, strace: strace, traced: traced, stringLimit: 64, inject: combination)
                else { return }
                run.checkConfirmedContents()
                let injected = run.calls.filter(\.injected)
                // Not reached: this call does not happen that often (or at all) here.
                if injected.isEmpty { break }
                fired.insert(combination)
                checkInjected(run, injected: injected, combination: combination, error: error)
            }
        }
    }
    // The guard against a vacuous test: some sync was reached and made to fail.
    let firstSyncs = ["fsync", "fdatasync", "syncfs"].map { "\($0):error=EIO:when=1" }
    #expect(
        !fired.isDisjoint(with: firstSyncs),
        "\(scenario.label): no fsync/fdatasync/syncfs injection fired at all; fired: \(fired.sorted())"
    )
}

private func checkInjected(_ run: TracedRun, injected: [StraceCall], combination: String, error: String) {
    let label = "\(run.scenario.label), \(combination)"
    var hit: [String] = []
    for call in injected {
        for name in run.filesHit(by: call) where !hit.contains(name) { hit.append(name) }
    }
    let summary =
        "\(label): injected into \(injected.map(\.brief).joined(separator: "; ")); files hit: \(hit); "
        + "sender exit \(run.sender.status); confirmed \(run.confirmed)"
    print("Durability: " + summary)
    guard !hit.isEmpty else {
        // The failed call was not part of any file's commit (the journal, say): nothing to require.
        return
    }
    var problems: [String] = []
    if run.sender.status == 0 { problems.append("the sender exited 0 although a commit failed") }
    let confirmedHit = hit.filter(run.confirmed.contains)
    if !confirmedHit.isEmpty { problems.append("confirmed although its commit hit the error: \(confirmedHit)") }
    let code = "(\(ErrorCode.noSpace), code \(ErrorCode.noSpace.rawValue))"
    if (error == "ENOSPC" || error == "EDQUOT")
        && (run.sender.status != 71 || !(run.sender.stdout + run.sender.stderr).contains(code))
    {
        problems.append("\(error) must reach the sender as the receiver's \(code), exit 71")
    }
    guard !problems.isEmpty else { return }
    let list = problems.joined(separator: "\n- ")
    Issue.record("\(summary)\n- \(list)\nsender stderr: \(run.sender.stderr)\n\(run.excerpt())")
}

// MARK: - B. Order

private func checkOrder(_ scenario: DurabilityScenario, strace: String) {
    let traced = commitCalls + ["openat"] + fileWriteCalls + ["sendto", "sendmsg"]
    guard let run = TracedRun(scenario, strace: strace, traced: traced, stringLimit: 1 << 20, inject: nil) else {
        return
    }
    #expect(run.sender.status == 0, "\(scenario.label): \(run.sender.stderr)")
    run.checkConfirmedContents()
    let stream = run.socketStream()
    #expect(!stream.truncated, "\(scenario.label): strace cut a socket write short; raise its -s limit")
    #expect(stream.acks.count == scenario.files.count, "\(scenario.label): ACKs found: \(stream.acks.count)")
    // What happened, in order, for the log (and the report): commit calls and ACK writes.
    var sequence = run.calls.filter { commitCalls.contains($0.name) }.map { (line: $0.line, text: $0.brief) }
    for carrier in Set(stream.acks.map(\.carrier.line)).sorted() {
        let names = stream.acks.filter { $0.carrier.line == carrier }.map { ack in
            run.files.first { $0.id == ack.id }?.name ?? ack.id
        }
        sequence.append((carrier, "\(carrier): socket write carrying the ACK of \(names)"))
    }
    let lines = sequence.sorted { $0.line < $1.line }.map(\.text)
    print("Durability: \(scenario.label), commit sequence:\n  " + lines.joined(separator: "\n  "))
    for file in run.files {
        var problems: [String] = []
        defer {
            if !problems.isEmpty {
                let excerpt = run.excerpt(ack: stream.acks.first { $0.id == file.id }?.carrier)
                let list = problems.joined(separator: "\n- ")
                Issue.record("\(scenario.label): '\(file.name)' (\(file.part)):\n- \(list)\n\(excerpt)")
            }
        }
        guard let ack = stream.acks.first(where: { $0.id == file.id })?.carrier else {
            problems.append("no ACK record for transfer \(file.id) in the receiver's socket writes")
            continue
        }
        guard
            let rename = run.calls.last(where: {
                $0.isRename && $0.ok && $0.string(1) == file.partName && $0.endLine < ack.line
            })
        else {
            problems.append("no successful rename of \(file.partName) before its ACK (\(ack.brief))")
            continue
        }
        let destination = (rename.path(2) ?? "?") + "/" + (rename.string(3) ?? "?")
        if destination != file.final { problems.append("renamed to \(destination), not \(file.final)") }
        let lastWrite = run.lastWrite(to: file)
        let dataSynced = run.calls.contains {
            $0.ok && $0.line > lastWrite && $0.endLine < rename.line
                && ($0.name == "syncfs" || ($0.isFileSync && [file.part, file.final].contains($0.path(0))))
        }
        if !dataSynced {
            problems.append(
                "no fsync/fdatasync of its file (nor syncfs) after its last write (line \(lastWrite)) "
                    + "and before the rename (line \(rename.line))"
            )
        }
        let directory = parentPath(file.final)
        if run.sync(of: [directory], after: rename.endLine, before: ack.line) == nil {
            problems.append(
                "no fsync of \(directory) (nor syncfs) after the rename (line \(rename.line)) "
                    + "and before the ACK (line \(ack.line))"
            )
        }
        for (made, created) in run.unsyncedDirectories(of: file, before: ack.line) {
            problems.append(
                "created directory \(created) (line \(made.line)) is not made durable before the ACK "
                    + "(line \(ack.line)): no fsync of it or of \(parentPath(created)), nor syncfs, in between"
            )
        }
    }
}

// MARK: - One traced run

/// One `xfer receive --once` under strace, one `xfer send --json` to it, and the trace.
private final class TracedRun {
    let scenario: DurabilityScenario
    let work = TemporaryDirectory()
    /// The target directory, as strace spells paths (symbolic links resolved).
    let target: String
    var sender = Finished(status: -1, stdout: "", stderr: "")
    var receiver = Finished(status: -1, stdout: "", stderr: "")
    var calls: [StraceCall] = []
    var started: [String] = []
    var confirmed: [String] = []
    var files: [TracedFile] = []

    init?(_ scenario: DurabilityScenario, strace: String, traced: [String], stringLimit: Int, inject: String?) {
        self.scenario = scenario
        let directory = work.file("target")
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        target = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let log = work.file("strace.log")
        var arguments = ["-f", "-qq", "-y", "-xx", "-s", "\(stringLimit)", "-o", log]
        arguments += ["-e", "trace=" + traced.map { "?" + $0 }.joined(separator: ",")]
        if let inject { arguments += ["-e", "inject=?" + inject] }
        arguments += [
            xferBinary, "receive", "--once", "--listen", "127.0.0.1:0", "--dir", directory, "--timeout", "10",
        ]
        guard let process = TracedProcess(strace, arguments) else { return nil }
        guard let port = process.port else {
            receiver = process.finish(log: log)
            Issue.record("the receiver under strace did not start: \(receiver.stderr)")
            return nil
        }
        sender = xfer(["send", "--json", "--timeout", "10"] + scenario.paths + ["127.0.0.1:\(port)"])
        receiver = process.finish(log: log)
        calls = StraceCall.parse((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        let events = jsonEvents(sender.stdout)
        started = events.filter { $0["event"] as? String == "started" }.compactMap { $0["name"] as? String }
        confirmed = events.filter { $0["event"] as? String == "confirmed" }.compactMap { $0["name"] as? String }
        #expect(
            Set(started) == Set(scenario.files.keys),
            "\(scenario.label): the sender offered \(started), expected \(scenario.files.keys.sorted())"
        )
        // The receiver opens one partial file per accepted offer, in the order of the offers.
        var parts: [(path: String, line: Int)] = []
        for call in calls where call.name == "openat" && call.ok {
            guard let path = call.resultPath, path.hasPrefix(target + "/.xfer/"), path.hasSuffix(".part"),
                !parts.contains(where: { $0.path == path })
            else { continue }
            parts.append((path, call.line))
        }
        #expect(
            parts.count <= started.count,
            "\(scenario.label): more partial files (\(parts.map(\.path))) than offers (\(started))"
        )
        files = zip(started, parts).map {
            TracedFile(name: $0, part: $1.path, final: target + "/" + $0, opened: $1.line)
        }
    }

    /// Every file the sender reports confirmed is there under its final name, byte for byte.
    func checkConfirmedContents() {
        for name in confirmed {
            let actual = FileManager.default.contents(atPath: target + "/" + name).map { [UInt8]($0) }
            expectSameBytes(
                actual,
                scenario.files[name] ?? [],
                "\(scenario.label): '\(name)' confirmed, but differs or is missing"
            )
        }
    }

    func lastWrite(to file: TracedFile) -> Int {
        calls.filter { fileWriteCalls.contains($0.name) && [file.part, file.final].contains($0.path(0)) }
            .map(\.endLine).max() ?? -1
    }

    /// A successful fsync/fdatasync of one of `paths`, or a syncfs, strictly between two lines.
    func sync(of paths: [String], after: Int, before: Int) -> StraceCall? {
        calls.first {
            $0.ok && $0.line > after && $0.endLine < before
                && ($0.name == "syncfs" || ($0.isFileSync && paths.contains($0.path(0) ?? "")))
        }
    }

    /// Whether, before `line`, `file` was renamed into place, its directory synced, and every
    /// directory created on its path made durable.
    func settled(_ file: TracedFile, before line: Int) -> Bool {
        let renamed = calls.contains { rename in
            rename.isRename && rename.ok && rename.string(1) == file.partName && rename.endLine < line
                && sync(of: [parentPath(file.final)], after: rename.endLine, before: line) != nil
        }
        return renamed && unsyncedDirectories(of: file, before: line).isEmpty
    }

    /// The directories on `file`'s path created (mkdirat) before `line` and not made durable
    /// by then: no fsync of the new directory or of its parent after the mkdirat, nor syncfs.
    func unsyncedDirectories(of file: TracedFile, before line: Int) -> [(made: StraceCall, created: String)] {
        var unsynced: [(made: StraceCall, created: String)] = []
        for made in calls where made.name == "mkdirat" && made.ok && made.endLine < line {
            guard let parent = made.path(0), let component = made.string(1) else { continue }
            let created = parent + "/" + component
            if file.final.hasPrefix(created + "/"),
                sync(of: [created, parent], after: made.endLine, before: line) == nil
            {
                unsynced.append((made, created))
            }
        }
        return unsynced
    }

    /// The files whose commit a failed call belongs to.
    func filesHit(by call: StraceCall) -> [String] {
        // Files received completely and not yet settled: what a commit at this point covers.
        let pending = files.filter {
            $0.opened < call.line && lastWrite(to: $0) < call.line && !settled($0, before: call.line)
        }
        if call.isRename { return files.filter { $0.partName == call.string(1) }.map(\.name) }
        guard let path = call.path(0) else { return [] }
        switch call.name {
        case "fsync", "fdatasync", "sync_file_range":
            if let file = files.first(where: { $0.part == path || $0.final == path }) { return [file.name] }
            if call.name == "sync_file_range" { return [] }
            return pending.filter { $0.final.hasPrefix(path + "/") }.map(\.name)  // a directory
        case "syncfs":
            return pending.map(\.name)
        case "mkdirat":
            let created = path + "/" + (call.string(1) ?? "")
            return pending.filter { $0.final.hasPrefix(created + "/") }.map(\.name)
        default:
            return []
        }
    }

    /// The bytes the receiver wrote to its socket, and each ACK in them with the call that
    /// sent the ACK's first byte.
    func socketStream() -> (acks: [(id: String, carrier: StraceCall)], truncated: Bool) {
        var bytes: [UInt8] = []
        var chunks: [(offset: Int, call: StraceCall)] = []
        var truncated = false
        for call in calls where ["write", "sendto", "sendmsg", "writev"].contains(call.name) && call.ok {
            guard call.path(0)?.hasPrefix("socket:") == true, let count = call.result, count > 0 else { continue }
            let data = call.quotedBytes
            if data.count < count { truncated = true }
            chunks.append((bytes.count, call))
            bytes += data.prefix(count)
        }
        var acks: [(id: String, carrier: StraceCall)] = []
        guard bytes.count >= 8, bytes.starts(with: Array("XFER".utf8)) else { return (acks, truncated) }
        var offset = 8  // the preamble
        while offset + 10 <= bytes.count {
            let length = bytes[(offset + 2)..<(offset + 6)].reduce(0) { $0 << 8 | Int($1) }
            guard offset + 10 + length <= bytes.count else { break }
            if bytes[offset] == RecordKind.ack.rawValue, length >= 16 {
                let id = bytes[(offset + 10)..<(offset + 26)].map { hex2($0) }.joined()
                acks.append((id, chunks.last { $0.offset <= offset }!.call))
            }
            offset += 10 + length
        }
        return (acks, truncated)
    }

    /// The commit-related calls of the trace, for a human, with line numbers.
    func excerpt(ack: StraceCall? = nil) -> String {
        let parts = Set(files.map(\.part))
        let lines = calls.filter {
            commitCalls.contains($0.name) || $0.line == ack?.line
                || ($0.name == "openat" && parts.contains($0.resultPath ?? ""))
        }
        .sorted { $0.line < $1.line }
        .map { ($0.line == ack?.line ? "ACK→ " : "     ") + $0.brief }
        return "trace (receiver calls, by strace line):\n" + lines.prefix(80).joined(separator: "\n")
    }
}

/// A file of the scenario as the trace shows it.
private struct TracedFile {
    var name: String
    /// Absolute path of its partial file, `.xfer/<id>.part`.
    var part: String
    var final: String
    /// The trace line that opened the partial file.
    var opened: Int

    var partName: String { String(part[part.index(after: part.lastIndex(of: "/")!)...]) }
    var id: String { String(partName.dropLast(".part".count)) }
}

private func parentPath(_ path: String) -> String {
    String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
}

private func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}

// MARK: - strace as a process

/// strace running `xfer receive`; ready when the receiver has said where it listens.
private final class TracedProcess {
    let process = Process()
    let output: PipeCollector
    let errors: PipeCollector
    var port: UInt16?

    init?(_ strace: String, _ arguments: [String]) {
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: strace)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        output = PipeCollector(out)
        errors = PipeCollector(err)
        do {
            try process.run()
        } catch {
            Issue.record("cannot run \(strace): \(error)")
            return nil
        }
        // strace passes the receiver's stderr through: "xfer: listening on HOST:PORT".
        guard errors.wait(for: "listening on", seconds: 30),
            let line = errors.text.split(separator: "\n").first(where: { $0.contains("listening on") })
        else { return }
        port = line.split(separator: ":").last.flatMap { UInt16($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Waits for the receiver (`--once`) to exit; kills it and strace after 20 s.
    func finish(log: String) -> Finished {
        let deadline = Date(timeIntervalSinceNow: 20)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            // The traced receiver's pid starts every line of the log.
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let first = text.split(separator: " ").first, let pid = Int32(first) { kill(pid, SIGKILL) }
            kill(process.processIdentifier, SIGKILL)
            Issue.record("the receiver under strace did not exit within 20 s after the sender")
        }
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, stdout: output.waitForEnd(), stderr: errors.waitForEnd())
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

// MARK: - Reading strace output

/// One system call from `strace -f -qq -y -xx -o LOG` output: `PID name(args) = result`,
/// with strings as `"\xHH…"` and descriptors as `FD<\xHH…>` (their paths). A call another
/// thread interrupted (`<unfinished ...>` … `<... name resumed>`) is joined into one.
private struct StraceCall {
    /// The log line the call started on, and the one it returned on (the same unless interrupted).
    var line: Int
    var endLine: Int
    var pid: Int
    var name: String
    var arguments: [String]
    var argumentText: String
    var result: Int?
    /// The path of a returned descriptor (openat).
    var resultPath: String?
    var injected: Bool
    var raw: String

    /// Returned without error, and the error was not injected.
    var ok: Bool { !injected && (result ?? -1) >= 0 }
    var isRename: Bool { name == "renameat" || name == "renameat2" }
    var isFileSync: Bool { name == "fsync" || name == "fdatasync" }

    /// The path of the descriptor in argument `index`.
    func path(_ index: Int) -> String? {
        guard index < arguments.count else { return nil }
        let argument = arguments[index]
        guard let open = argument.firstIndex(of: "<"), argument.hasSuffix(">"),
            Int(argument[..<open]) != nil
        else { return nil }
        return String(
            decoding: unescape(argument[argument.index(after: open)..<argument.index(before: argument.endIndex)]),
            as: UTF8.self
        )
    }

    /// The string in argument `index`.
    func string(_ index: Int) -> String? {
        guard index < arguments.count, arguments[index].hasPrefix("\"") else { return nil }
        let argument = arguments[index].dropFirst()
        guard let close = argument.firstIndex(of: "\"") else { return nil }
        return String(decoding: unescape(argument[..<close]), as: UTF8.self)
    }

    /// Every string in the arguments, concatenated (the buffers of write, sendto, writev, sendmsg).
    var quotedBytes: [UInt8] {
        var bytes: [UInt8] = []
        var rest = argumentText[...]
        while let open = rest.firstIndex(of: "\"") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "\"") else { break }
            bytes += unescape(after[..<close])
            rest = after[after.index(after: close)...]
        }
        return bytes
    }

    /// `line: name(args) = result`, strings and paths decoded, long buffers abbreviated.
    var brief: String {
        var text = ""
        var index = raw.startIndex
        while index < raw.endIndex {
            let character = raw[index]
            if character == "\""
                || (character == "<" && index > raw.startIndex && raw[raw.index(before: index)].isNumber)
            {
                let closing: Character = character == "\"" ? "\"" : ">"
                let after = raw.index(after: index)
                guard let close = raw[after...].firstIndex(of: closing) else { break }
                let bytes = unescape(raw[after..<close])
                let printable = bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
                let shown =
                    printable && bytes.count <= 120
                    ? String(decoding: bytes, as: UTF8.self)
                    : bytes.prefix(12).map { hex2($0) }.joined(separator: " ") + "… (\(bytes.count) B)"
                text += character == "\"" ? "\"\(shown)\"" : "<\(shown)>"
                index = raw.index(after: close)
            } else {
                text.append(character)
                index = raw.index(after: index)
            }
        }
        return "\(line): [\(pid)] " + text
    }

    init?(pid: Int, text: String, line: Int, endLine: Int) {
        guard let open = text.firstIndex(of: "("), let close = text.range(of: ") = ", options: .backwards) else {
            return nil
        }
        let name = String(text[..<open])
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        self.line = line
        self.endLine = endLine
        self.pid = pid
        self.name = name
        raw = text
        argumentText = String(text[text.index(after: open)..<close.lowerBound])
        arguments = StraceCall.splitArguments(argumentText)
        let resultText = text[close.upperBound...]
        injected = resultText.contains("(INJECTED)")
        let number = resultText.prefix { $0 == "-" || $0.isNumber }
        result = Int(number)
        let afterNumber = resultText.dropFirst(number.count)
        if afterNumber.hasPrefix("<"), let end = afterNumber.firstIndex(of: ">") {
            resultPath = String(decoding: unescape(afterNumber.dropFirst()[..<end]), as: UTF8.self)
        }
    }

    /// Splits at the commas outside brackets and strings.
    static func splitArguments(_ text: String) -> [String] {
        var arguments: [String] = []
        var current = ""
        var depth = 0
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle() }
            if !quoted {
                if "([{".contains(character) { depth += 1 }
                if ")]}".contains(character) { depth -= 1 }
                if character == "," && depth == 0 {
                    arguments.append(current.trimmingCharacters(in: .whitespaces))
                    current = ""
                    continue
                }
            }
            current.append(character)
        }
        if !current.isEmpty { arguments.append(current.trimmingCharacters(in: .whitespaces)) }
        return arguments
    }

    static func parse(_ log: String) -> [StraceCall] {
        var calls: [StraceCall] = []
        var unfinished: [Int: (line: Int, text: String)] = [:]
        for (index, line) in log.split(separator: "\n").enumerated() {
            guard let space = line.firstIndex(of: " "), let pid = Int(line[..<space]) else { continue }
            let rest = line[space...].drop { $0 == " " }
            if rest.hasPrefix("<... ") {
                guard let resumed = rest.range(of: " resumed>"), let start = unfinished.removeValue(forKey: pid) else {
                    continue
                }
                let text = start.text + rest[resumed.upperBound...]
                if let call = StraceCall(pid: pid, text: text, line: start.line, endLine: index) { calls.append(call) }
            } else if rest.hasSuffix("<unfinished ...>") {
                let text = rest.dropLast("<unfinished ...>".count)
                unfinished[pid] = (index, String(text.hasSuffix(" ") ? text.dropLast() : text))
            } else if let call = StraceCall(pid: pid, text: String(rest), line: index, endLine: index) {
                calls.append(call)
            }
        }
        return calls
    }
}

/// Decodes strace's `\xHH` escapes (all bytes are escaped with -xx); other characters as UTF-8.
private func unescape(_ text: Substring) -> [UInt8] {
    var bytes: [UInt8] = []
    let utf8 = Array(text.utf8)
    var index = 0
    func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    while index < utf8.count {
        if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count, utf8[index + 1] == UInt8(ascii: "x"),
            let high = nibble(utf8[index + 2]), let low = nibble(utf8[index + 3])
        {
            bytes.append(high << 4 | low)
            index += 4
        } else {
            bytes.append(utf8[index])
            index += 1
        }
    }
    return bytes
}
