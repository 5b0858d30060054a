import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Issue 19 item 3: `xfer send --run COMMAND --name NAME` runs the producer itself, so
    /// its exit status decides whether the stream is ended or cancelled: a dump that fails
    /// half-way is never committed under its name.
    @Suite struct ProducerCommand {
        /// Bytes that are not all alike, so a misplaced or missing piece shows.
        private func pattern(_ count: Int) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        }

        @Test("A producer that succeeds: exit 0, the receiver holds exactly its output under --name")
        func succeedingProducer() throws {
            let work = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = pattern(3 << 20)
            try Data(bytes).write(to: URL(fileURLWithPath: work.file("source.bin")))
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer([
                "send", "--run", "cat '\(work.file("source.bin"))'", "--name", "dump/out.bin", receiver.address,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            expectSameBytes(target.contents("dump/out.bin"), bytes, "the committed output")
        }

        @Test(
            "A producer that fails half-way: nothing under the name, no partial kept, exit 74 naming its status",
            arguments: [
                ("exit 3", "exited with status 3"),
                ("kill -9 $$", "was killed by signal 9"),
            ]
        )
        func failingProducer(ending: String, words: String) throws {
            let work = TemporaryDirectory()
            let target = TemporaryDirectory()
            try Data(pattern(2 << 20)).write(to: URL(fileURLWithPath: work.file("half.bin")))
            let receiver = ReceiverProcess(directory: target.path)
            // 2 MiB arrive (several DATA records) before the producer fails.
            let command = "cat '\(work.file("half.bin"))'; \(ending)"
            let result = xfer(["send", "--run", command, "--name", "nightly.sql", receiver.address])
            #expect(result.status == 74, "\(result.stderr)")
            #expect(result.stderr.contains(words), "\(result.stderr)")
            #expect(result.stderr.contains("not committed"), "\(result.stderr)")
            #expect(!target.exists("nightly.sql"), "a failed producer's output was committed")
            let partials = (try? FileManager.default.contentsOfDirectory(atPath: target.file(".xfer"))) ?? []
            #expect(!partials.contains { $0.hasSuffix(".part") }, "a cancelled stream left \(partials)")
            // The receiver goes on serving: the same name arrives whole from a producer that works.
            let again = xfer([
                "send", "--run", "cat '\(work.file("half.bin"))'", "--name", "nightly.sql", receiver.address,
            ])
            #expect(again.status == 0, "\(again.stderr)")
            expectSameBytes(target.contents("nightly.sql"), pattern(2 << 20), "the resend")
        }

        @Test(
            "The sender never leaves its producer running: a lost receiver stops it"
        )
        func producerIsStoppedWhenTheStreamEnds() throws {
            let target = TemporaryDirectory()
            let marker = "xfer-producer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let receiver = ReceiverProcess(directory: target.path, extra: ["--timeout", "30"])
            // An endless producer that ignores SIGPIPE: closing its pipe does not end it (a
            // sender that only closed would leave it running); only being stopped does. Its
            // errors (EPIPE, once per line) go nowhere: they would fill the sender's stderr.
            let sender = XferProcess([
                "send", "--json", "--run", "trap '' PIPE; while :; do echo \(marker); done 2>/dev/null", "--name",
                "endless.txt",
                receiver.address,
            ])
            #expect(sender.stdout.wait(for: "\"started\""), "\(sender.stderr.text)")
            receiver.xfer.kill()
            // A sender that only closed the pipe would wait for ever for a producer that never
            // ends: bounded here, so that it fails instead of hanging.
            let exited = waitUntil { !sender.process.isRunning }
            #expect(exited, "the sender did not exit: it waits for a producer it did not stop")
            if !exited { _ = shell("pkill -KILL -f '[x]\(marker.dropFirst())'") }
            let result = sender.finish()
            #expect(result.status != 0, "\(result.stderr)")
            // The sender has exited: its producer must not run on.
            // "[x]…": a pattern that does not match pgrep's own shell.
            let left = shell("pgrep -f '[x]\(marker.dropFirst())' || true").stdout.trimmingCharacters(
                in: .whitespacesAndNewlines
            )
            #expect(left.isEmpty, "the producer outlived the sender: pids \(left)")
            if !left.isEmpty { _ = shell("pkill -KILL -f '[x]\(marker.dropFirst())'") }
        }

        @Test("The producer starts with no signal ignored or blocked (the sender ignores SIGPIPE and blocks others)")
        func producerSignalState() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer([
                "send", "--run", "grep -E '^Sig(Ign|Blk)' /proc/self/status", "--name", "signals.txt", receiver.address,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            let text = String(decoding: target.contents("signals.txt") ?? [], as: UTF8.self)
            // SigBlk must be empty; in SigIgn, SIGPIPE (bit 13 − 1) must be clear. Other ignored
            // signals may come from whoever started this test run, and pass through as for any
            // program.
            var fields: [String: UInt64] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "\t")
                if parts.count == 2 { fields[String(parts[0])] = UInt64(parts[1], radix: 16) }
            }
            #expect(fields["SigBlk:"] == 0, "\(text)")
            #expect(fields["SigIgn:"].map { $0 & (1 << (UInt64(SIGPIPE) - 1)) == 0 } == true, "\(text)")
        }

        @Test(
            "--run without --name, with -, or empty: a usage error (64) naming the rule",
            arguments: [
                (["send", "--run", "true", "127.0.0.1:9"], "--run needs --name"),
                (["send", "--run", "true", "--name", "a", "-", "127.0.0.1:9"], "--run and -"),
                (["send", "--run", "", "--name", "a", "127.0.0.1:9"], "--run needs a command"),
            ]
        )
        func runUsage(arguments: [String], words: String) {
            let result = xfer(arguments)
            #expect(result.status == 64, "\(result.stderr)")
            #expect(result.stderr.contains(words), "\(result.stderr)")
        }
    }
}
