import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Threads that cannot start (RLIMIT_NPROC): each is a clear local failure, never a
    /// hang. The real binary runs as an unprivileged user (root ignores the limit) whose
    /// thread count is capped at exactly what the process has before the thread in question.
    @Suite(
        .enabled(
            if: getuid() == 0 && commandExists("setpriv") && commandExists("prlimit"),
            "needs root, setpriv, prlimit"
        )
    )
    struct ThreadStart {
        @Test("The sender's reply reader cannot start: exit 74 at once, naming the thread; nothing is committed")
        func senderReaderCannotStart() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--once"])
            let source = TemporaryDirectory()
            chmod(source.path, 0o755)
            source.makeFile("payload", count: 100_000)
            // Two threads: the main one and the signal watcher; the reader would be the third.
            let started = Date()
            let sender = Unprivileged(
                uid: ThreadStart.senderUser,
                threads: 2,
                ["send", "--timeout", "5", "--json", source.file("payload"), receiver.address],
                in: source
            )
            let result = sender.finish(seconds: 30)
            let seconds = Date().timeIntervalSince(started)
            #expect(result.status == 74, "\(result.stderr)")
            #expect(seconds < 3, "a sender without its reader ran \(seconds) s (--timeout 5)")
            #expect(result.stderr.contains("cannot start a thread for the reply reader"), "\(result.stderr)")
            let done = try #require(jsonEvents(result.stdout).last)
            #expect(done["event"] as? String == "done")
            #expect(done["exit"] as? Int == 74)
            #expect((done["error"] as? String ?? "").contains("cannot start a thread"), "\(done)")
            #expect(receiver.xfer.stderr.wait(for: "0 file(s), 0 bytes committed", seconds: 10), "\(receiver.log)")
            #expect(!target.exists("payload"))
        }

        @Test(
            "The receiver's commit heartbeat cannot start: the batch is committed without keep-alives, acknowledged, and the receiver ends"
        )
        func receiverHeartbeatCannotStart() throws {
            let target = TemporaryDirectory()
            chmod(target.path, 0o755)
            let inbox = target.file("inbox")
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: false)
            chown(inbox, ThreadStart.receiverUser, ThreadStart.receiverUser)
            // --once serves on the main thread: with the signal watcher, two threads; the
            // commit's heartbeat would be the third.
            let receiver = Unprivileged(
                uid: ThreadStart.receiverUser,
                threads: 2,
                ["receive", "--dir", inbox, "--listen", "127.0.0.1:0", "--once"],
                in: target
            )
            defer { receiver.kill() }
            try #require(receiver.stderr.wait(for: "listening on"), "\(receiver.stderr.text)")
            let line = receiver.stderr.text.split(separator: "\n").first { $0.contains("listening on") }!
            let port = try #require(UInt16(line.split(separator: ":").last!))
            let source = TemporaryDirectory()
            let bytes = source.makeFile("payload", count: 1 << 20)
            let started = Date()
            let result = xfer(["send", "--timeout", "5", source.file("payload"), "127.0.0.1:\(port)"])
            let seconds = Date().timeIntervalSince(started)
            // Before the fix the commit waited forever for a heartbeat that never ran: the
            // sender timed out (75) and the receiver never ended.
            #expect(result.status == 0, "\(result.stderr)\nreceiver: \(receiver.stderr.text)")
            #expect(seconds < 4, "\(seconds) s")
            let ended = receiver.finish(seconds: 10)
            #expect(ended.status == 0, "the receiver did not end: \(ended.stderr)")
            #expect(ended.stderr.contains("cannot start a thread for keep-alives"), "\(ended.stderr)")
            #expect(sameBytes(target.contents("inbox/payload"), bytes))
        }

        @Test(
            "A resume whose kept prefix would be hashed without keep-alives is refused busy (71), naming the thread; the partial stays and a later resume works"
        )
        func resumeHeartbeatCannotStart() throws {
            let target = TemporaryDirectory()
            chmod(target.path, 0o755)
            let inbox = target.file("inbox")
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: false)
            let source = TemporaryDirectory()
            chmod(source.path, 0o755)
            let bytes = source.makeFile("big.bin", count: 200 << 20)
            // A partial to resume: the receiver is killed mid-stream.
            do {
                let receiver = ReceiverProcess(directory: inbox)
                let first = XferProcess(["send", "--json", source.file("big.bin"), receiver.address])
                let midway = first.stdout.wait { jsonEvents($0).contains { ($0["sent"] as? Int ?? 0) >= 64 << 20 } }
                receiver.xfer.kill(SIGKILL)
                receiver.xfer.process.waitUntilExit()
                try #require(midway && first.finish().status != 0, "the first send was not cut mid-stream")
            }
            let partials = try FileManager.default.contentsOfDirectory(atPath: inbox + "/.xfer").filter {
                $0.hasSuffix(".part")
            }
            try #require(partials.count == 1, "\(partials)")
            #expect(shell("chown -R \(ThreadStart.receiverUser):\(ThreadStart.receiverUser) '\(inbox)'").status == 0)
            let receiver = Unprivileged(
                uid: ThreadStart.receiverUser,
                threads: 2,
                ["receive", "--dir", inbox, "--listen", "127.0.0.1:0", "--once"],
                in: target
            )
            defer { receiver.kill() }
            try #require(receiver.stderr.wait(for: "listening on"), "\(receiver.stderr.text)")
            let line = receiver.stderr.text.split(separator: "\n").first { $0.contains("listening on") }!
            let port = try #require(UInt16(line.split(separator: ":").last!))
            let refused = xfer(["send", "--timeout", "5", source.file("big.bin"), "127.0.0.1:\(port)"])
            #expect(refused.status == 71, "\(refused.stderr)\nreceiver: \(receiver.stderr.text)")
            #expect(refused.stderr.contains("cannot start a thread for keep-alives"), "\(refused.stderr)")
            // --once ends with 71 when it refused a stream (and -1 here if it never ended).
            #expect(receiver.finish(seconds: 10).status == 71, "the receiver did not end with the refusal")
            #expect(FileManager.default.fileExists(atPath: inbox + "/.xfer/" + partials[0]), "the partial was dropped")
            // With threads to be had, the same command resumes from it.
            let again = ReceiverProcess(directory: inbox)
            let resumed = xfer(["send", "--json", source.file("big.bin"), again.address])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect((jsonEvents(resumed.stdout).compactMap { $0["resumed_from"] as? Int }.max() ?? 0) > 0)
            expectSameBytes(target.contents("inbox/big.bin"), bytes)
        }

        @Test("The signal watcher cannot start: a warning says so, and SIGTERM still ends the receiver")
        func signalWatcherCannotStart() throws {
            let target = TemporaryDirectory()
            chmod(target.path, 0o755)
            let inbox = target.file("inbox")
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: false)
            chown(inbox, ThreadStart.receiverUser, ThreadStart.receiverUser)
            // One thread, the main one: the watcher cannot start. Before, SIGINT and SIGTERM
            // stayed blocked with nobody waiting for them, and the receiver ignored both.
            let receiver = Unprivileged(
                uid: ThreadStart.receiverUser,
                threads: 1,
                ["receive", "--dir", inbox, "--listen", "127.0.0.1:0", "--once"],
                in: target
            )
            defer { receiver.kill() }
            try #require(receiver.stderr.wait(for: "listening on"), "\(receiver.stderr.text)")
            #expect(
                receiver.stderr.text.contains("cannot start a thread for Ctrl-C and SIGTERM"),
                "\(receiver.stderr.text)"
            )
            receiver.signal(SIGTERM)
            let ended = receiver.finish(seconds: 10)
            #expect(ended.status != -1, "SIGTERM did not end the receiver")
        }

        /// Users no other test runs as: RLIMIT_NPROC counts every thread of the real user.
        static let senderUser: uid_t = 61_235
        static let receiverUser: uid_t = 61_234
    }
}

/// The xfer binary run as `uid` (a copy the user can execute) with RLIMIT_NPROC `threads`.
final class Unprivileged {
    private let process = Process()
    let stdout: PipeCollector
    let stderr: PipeCollector

    init(uid: uid_t, threads: Int, _ arguments: [String], in directory: TemporaryDirectory) {
        let binary = directory.file("xfer-unprivileged-\(uid)")
        if !FileManager.default.fileExists(atPath: binary) {
            try! FileManager.default.copyItem(atPath: xferBinary, toPath: binary)
        }
        chmod(binary, 0o755)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments =
            ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "prlimit", "--nproc=\(threads)", binary] + arguments
        (stdout, stderr) = collectOutput(of: process)
        try! process.run()
    }

    /// Waits at most `seconds` for the process to exit (status -1 if it did not; it is
    /// then killed).
    func finish(seconds: Double) -> Finished {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let status = process.isRunning ? Int32(-1) : process.terminationStatus
        kill()
        return Finished(status: status, stdout: stdout.waitForEnd(seconds: 5), stderr: stderr.waitForEnd(seconds: 5))
    }

    func signal(_ number: Int32) { Glibc.kill(process.processIdentifier, number) }

    func kill() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
