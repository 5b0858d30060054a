import Foundation
import Testing

extension Integration {
    /// Real transfers between two xfer processes on loopback; bytes compared exactly.
    @Suite struct Transfers {
        @Test("Files of 0 B, 1 B, 1 MiB and 300 MiB in one command")
        func filesOfEverySize() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let sizes = ["empty": 0, "one": 1, "mebi": 1 << 20, "large": 300 << 20]
            var expected: [String: [UInt8]] = [:]
            for (name, size) in sizes { expected[name] = source.makeFile(name, count: size) }
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(["send", "--json"] + sizes.keys.sorted().map(source.file) + [receiver.address])
            #expect(result.status == 0, "\(result.stderr)")
            for (name, bytes) in expected {
                expectSameBytes(target.contents(name), bytes, "\(name) differs")
            }
            let confirmed = jsonEvents(result.stdout).filter { $0["event"] as? String == "confirmed" }
            #expect(confirmed.count == 4)
            #expect(confirmed.allSatisfy { $0["durable"] as? Bool == true })
            // Nothing is left behind in the receiver's state directory.
            let state = try FileManager.default.contentsOfDirectory(atPath: target.file(".xfer"))
            #expect(state.sorted() == ["commits", "lock"])
        }

        @Test("A directory tree with spaces and non-ASCII names keeps its relative paths")
        func directoryTree() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let names = ["tree/a.txt", "tree/with space/ü ñ 日本.bin", "tree/deep/er/still/x", "tree/deep/empty"]
            var expected: [String: [UInt8]] = [:]
            for (index, name) in names.enumerated() {
                expected[name] = source.makeFile(name, count: name.hasSuffix("empty") ? 0 : 1000 * index + 1)
            }
            symlink("/etc/passwd", source.file("tree/link"))
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(["send", source.file("tree"), receiver.address])
            #expect(result.status == 0, "\(result.stderr)")
            for (name, bytes) in expected { expectSameBytes(target.contents(name), bytes, "\(name)") }
            #expect(!target.exists("tree/link"), "symbolic links inside directories are skipped")
            #expect(result.stderr.contains("skipping"))
            #expect(result.stderr.contains("confirmed 4 file(s)"))
        }

        @Test(
            "Permission bits (through the receiver's umask, never o+w) and modification time arrive, alone and in a batch"
        )
        func metadata() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let files = FileManager.default
            let when = Date(timeIntervalSince1970: 1_500_000_000.25)
            for (index, name) in ["alone", "batch/1", "batch/2", "batch/3"].enumerated() {
                source.makeFile(name, count: 10 + index)
                try files.setAttributes(
                    [.posixPermissions: 0o640 + index, .modificationDate: when],
                    ofItemAtPath: source.file(name)
                )
            }
            let receiver = ReceiverProcess(directory: target.path)
            #expect(xfer(["send", source.file("alone"), receiver.address]).status == 0)
            #expect(xfer(["send", source.file("batch"), receiver.address]).status == 0)
            for (index, name) in ["alone", "batch/1", "batch/2", "batch/3"].enumerated() {
                let attributes = try files.attributesOfItem(atPath: target.file(name))
                // 0o642 and 0o643 are world-writable at the source: never on the receiver.
                let umask = Int(Glibc.umask(0o022))
                Glibc.umask(mode_t(umask))
                #expect(attributes[.posixPermissions] as? Int == (0o640 + index) & ~(umask | 0o002), "\(name)")
                #expect(attributes[.modificationDate] as? Date == when, "\(name)")
            }
        }

        @Test("Standard input of unknown length, named with --name")
        func standardInput() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            var input = Data()
            for line in 0..<200_000 { input.append(contentsOf: "line \(line) ünïcode\n".utf8) }
            let result = xfer(["send", "--name", "logs/today.log", "-", receiver.address], input: input)
            #expect(result.status == 0, "\(result.stderr)")
            expectSameBytes(target.contents("logs/today.log"), [UInt8](input))
        }

        @Test("A quiet standard input is kept alive past the receiver's idle timeout")
        func quietStreamKeptAlive() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--timeout", "1"])
            let sender = XferProcess([
                "send", "--json", "--keepalive", "0.2", "--name", "slow.txt", "-", receiver.address,
            ])
            try? sender.stdin.fileHandleForWriting.write(contentsOf: Data("first\n".utf8))
            #expect(sender.stdout.wait { jsonEvents($0).contains { ($0["sent"] as? Int ?? 0) >= 6 } })
            // The scenario: the stream goes quiet for twice the receiver's idle timeout.
            usleep(2_000_000)
            try? sender.stdin.fileHandleForWriting.write(contentsOf: Data("second\n".utf8))
            let result = sender.finish()
            #expect(result.status == 0, "\(result.stderr)")
            expectSameBytes(target.contents("slow.txt"), Array("first\nsecond\n".utf8))
        }

        @Test("A sender written in Python from SPEC.md alone interoperates", .enabled(if: commandExists("python3")))
        func pythonSender() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("from python.bin", count: 300_000)
            let receiver = ReceiverProcess(directory: target.path)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/xfer-send.py").path
            let result = shell(
                "python3 '\(script)' 127.0.0.1 \(receiver.port) '\(source.file("from python.bin"))' 'py/ünï.bin'"
            )
            #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("durable True"))
            expectSameBytes(target.contents("py/ünï.bin"), bytes)
        }

        @Test("Eight senders at once are all served")
        func concurrentSenders() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            var expected: [String: [UInt8]] = [:]
            for index in 0..<8 {
                expected["c\(index).bin"] = source.makeFile("c\(index).bin", count: (index + 1) << 20)
            }
            let senders = expected.keys.map { XferProcess(["send", "--quiet", source.file($0), receiver.address]) }
            for sender in senders {
                let result = sender.finish()
                #expect(result.status == 0, "\(result.stderr)")
            }
            for (name, bytes) in expected { expectSameBytes(target.contents(name), bytes, "\(name)") }
        }

        @Test("Sending the same file again after a commit sends no data: already committed")
        func alreadyCommitted() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("again.bin", count: 8 << 20)
            let receiver = ReceiverProcess(directory: target.path)
            #expect(xfer(["send", source.file("again.bin"), receiver.address]).status == 0)
            let second = xfer(["send", "--json", source.file("again.bin"), receiver.address])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(receiver.xfer.stderr.wait(for: "already committed"))
            expectSameBytes(target.contents("again.bin"), bytes)
            let confirmed = jsonEvents(second.stdout).first { $0["event"] as? String == "confirmed" }
            #expect(confirmed?["bytes"] as? Int == 8 << 20)
        }

        @Test("A file whose receiver was killed resumes from what it kept, verified")
        func resumeAfterReceiverKilled() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("big.bin", count: 400 << 20)
            // Kill the receiver once the sender has sent half the file.
            let receiver = ReceiverProcess(directory: target.path)
            let first = XferProcess(["send", "--json", source.file("big.bin"), receiver.address])
            let midway = first.stdout.wait { text in
                jsonEvents(text).contains { ($0["sent"] as? Int ?? 0) >= 200 << 20 }
            }
            receiver.xfer.kill(SIGKILL)
            let firstResult = first.finish()
            // A first send that finished before the kill landed leaves nothing to resume, and
            // the rest of this test would pass without resuming anything: that is a failure.
            try #require(midway, "the sender never reported 200 MiB sent: \(firstResult.stdout.suffix(500))")
            try #require(firstResult.status != 0, "the first send finished before the kill: nothing was resumed")
            #expect(firstResult.status == 70, "\(firstResult.stderr)")
            #expect(!target.exists("big.bin"), "no file under its final name before the ACK")
            let kept = try FileManager.default.contentsOfDirectory(atPath: target.file(".xfer")).filter {
                $0.hasSuffix(".part")
            }
            try #require(kept.count == 1, "\(kept)")
            let held =
                (try FileManager.default.attributesOfItem(atPath: target.file(".xfer/" + kept[0]))[.size] as? Int) ?? 0
            try #require(held > 0 && held < 400 << 20, "the receiver kept \(held) bytes: the kill was not mid-stream")

            let again = ReceiverProcess(directory: target.path)
            let second = xfer(["send", "--json", source.file("big.bin"), again.address])
            #expect(second.status == 0, "\(second.stderr)")
            expectSameBytes(target.contents("big.bin"), bytes)
            let done = jsonEvents(second.stdout).last { $0["event"] as? String == "progress" }
            let sent = done?["sent"] as? Int ?? Int.max
            #expect(sent < 400 << 20, "resumed: sent \(sent) bytes, not the whole file")
            // The first offer starts at 0; the receiver asks to resume, and the re-offer says from where.
            let resumedFrom = jsonEvents(second.stdout).compactMap { $0["resumed_from"] as? Int }.max() ?? 0
            #expect(resumedFrom > 0 && resumedFrom <= held, "resumed from \(resumedFrom) of \(held) kept bytes")
        }
    }
}
