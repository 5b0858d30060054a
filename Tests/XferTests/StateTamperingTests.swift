import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// A tool with access to the receiver's state directory (`DIR/.xfer`) plants what a
    /// receiver must not trust: a FIFO where a journal bucket is, a hard link to a kept
    /// partial. No send may hang, and nothing confirmed may be reachable (or changeable)
    /// through a name outside the target (found by a black-box attacker).
    @Suite struct StateTampering {
        @Test("A FIFO in place of every journal bucket: later sends are confirmed, none hangs")
        func fifoJournalBuckets() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let first = source.makeFile("first.bin", count: 100_000)
            let receiver = ReceiverProcess(directory: target.path)
            #expect(xfer(["send", source.file("first.bin"), receiver.address]).status == 0)
            let commits = target.file(".xfer/commits")
            let buckets = try FileManager.default.contentsOfDirectory(atPath: commits).filter { $0.hasSuffix(".log") }
            try #require(!buckets.isEmpty, "no journal bucket was written")
            for bucket in buckets {
                try FileManager.default.removeItem(atPath: commits + "/" + bucket)
                #expect(mkfifo(commits + "/" + bucket, 0o600) == 0)
            }
            // Every bucket a new ID could land in, too.
            for digit in "0123456789abcdef" where !buckets.contains("\(digit).log") {
                #expect(mkfifo(commits + "/\(digit).log", 0o600) == 0)
            }
            let second = source.makeFile("second.bin", count: 100_000)
            // --timeout 5: a receiver blocked on a FIFO would leave the sender waiting (75).
            let sent = xfer([
                "send", "--timeout", "5", source.file("second.bin"), source.file("first.bin"), receiver.address,
            ])
            #expect(sent.status == 0, "\(sent.stderr)")
            expectSameBytes(target.contents("second.bin"), second)
            expectSameBytes(target.contents("first.bin"), first)
            #expect(receiver.xfer.stderr.wait(for: "not a regular file"), "\(receiver.log)")
        }

        @Test("A hard link planted as .xfer/lock: the receiver refuses to start and writes nothing through it")
        func hardLinkedLock() throws {
            let target = TemporaryDirectory()
            let outside = TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: target.file(".xfer"), withIntermediateDirectories: false)
            let precious = Array("important=1\nother=2\n".utf8)
            try Data(precious).write(to: URL(fileURLWithPath: outside.file("config")))
            try #require(link(outside.file("config"), target.file(".xfer/lock")) == 0)
            let receiver = XferProcess(["receive", "--listen", "127.0.0.1:0", "--dir", target.path, "--once"])
            // One that starts anyway listens (for ever, with --once and no sender): bounded.
            if receiver.stderr.wait(for: "listening on", seconds: 10) {
                Issue.record("the receiver started on a hard-linked lock: \(receiver.stderr.text)")
                receiver.kill()
            }
            let result = receiver.finish()
            #expect(result.status == 74, "\(result.stderr)")
            #expect(result.stderr.contains("other names"), "\(result.stderr)")
            #expect(outside.contents("config") == precious, "the receiver wrote through the link")
        }

        @Test("A hard link to a kept partial: the resume starts afresh, and the committed file has no other name")
        func hardLinkedPartial() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let outside = TemporaryDirectory()
            let bytes = source.makeFile("big.bin", count: 300 << 20)
            let receiver = ReceiverProcess(directory: target.path)
            let first = XferProcess(["send", "--json", source.file("big.bin"), receiver.address])
            let midway = first.stdout.wait { text in jsonEvents(text).contains { ($0["sent"] as? Int ?? 0) >= 20 << 20 }
            }
            first.kill(SIGKILL)
            _ = first.finish()
            try #require(midway, "the sender never reported 20 MiB sent")
            try #require(receiver.xfer.stderr.wait(for: "to resume"), "no partial kept: \(receiver.log)")
            let kept = try FileManager.default.contentsOfDirectory(atPath: target.file(".xfer")).filter {
                $0.hasSuffix(".part")
            }
            try #require(kept.count == 1, "\(kept)")
            // The attacker's second name for the partial, outside the target.
            try #require(link(target.file(".xfer/" + kept[0]), outside.file("stolen")) == 0)
            let stolenBefore = outside.contents("stolen")?.count ?? -1

            let second = xfer(["send", "--json", source.file("big.bin"), receiver.address])
            #expect(second.status == 0, "\(second.stderr)")
            expectSameBytes(target.contents("big.bin"), bytes)
            var committed = stat()
            var stolen = stat()
            #expect(stat(target.file("big.bin"), &committed) == 0 && stat(outside.file("stolen"), &stolen) == 0)
            #expect(committed.st_ino != stolen.st_ino, "the committed file is reachable from outside the target")
            #expect(committed.st_nlink == 1)
            #expect(outside.contents("stolen")?.count == stolenBefore, "bytes were written through the outside name")
            // Not resumed from the shared file: sent again from 0.
            #expect(
                !jsonEvents(second.stdout).contains { ($0["resumed_from"] as? Int ?? 0) > 0 },
                "\(second.stdout.suffix(400))"
            )
        }
    }
}
