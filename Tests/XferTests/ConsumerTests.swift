import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Issue 19 item 4: `xfer receive --exec COMMAND` hands each committed file to COMMAND
    /// on its standard input and sends the ACK only when COMMAND exits 0 (SPEC.md §7.3).
    @Suite struct Consumer {
        /// A consumer that copies what it reads to `OUT/<n>` (n counting its runs) and writes
        /// its variables to `OUT/<n>.env`; it exits with the status in `OUT/status` (0 if
        /// absent) for a name listed there.
        private static func consumer(_ out: String) -> String {
            "n=$(ls '\(out)' | grep -c '\\.env$'); cat > '\(out)'/$n; "
                + "printf '%s\\n' \"$XFER_NAME\" \"$XFER_PATH\" \"$XFER_SIZE\" \"$XFER_PEER\" > '\(out)'/$n.env; "
                + "if [ -f '\(out)/status' ]; then exit $(cat '\(out)/status'); fi"
        }

        /// The sockets a process holds, as `readlink` shows them (`socket:[INODE]`).
        private static func sockets(of pid: pid_t) -> Set<String> {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return Set(
                names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
                    .filter { $0.hasPrefix("socket:") }
            )
        }

        private static func runs(_ out: String) -> [[String]] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
            return (0..<names.filter { $0.hasSuffix(".env") }.count).map { run in
                ((try? String(contentsOfFile: "\(out)/\(run).env", encoding: .utf8)) ?? "")
                    .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            }
        }

        @Test("Each committed file reaches the program on stdin, its name only in the environment; exit 0 only then")
        func consumerSucceeds() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let out = TemporaryDirectory()
            // A name a shell would expand, were it ever put in the command line.
            let tricky = "d/it's $(touch \(out.path)/pwned) `id`.bin"
            try FileManager.default.createDirectory(atPath: source.file("d"), withIntermediateDirectories: true)
            let first = source.makeFile("plain.bin", count: 2 << 20)
            let second = source.makeFile(tricky, count: 70_000)
            let receiver = ReceiverProcess(directory: target.path, extra: ["--exec", Self.consumer(out.path)])
            let sent = xfer(["send", source.file("plain.bin"), source.file("d"), receiver.address])
            #expect(sent.status == 0, "\(sent.stderr)")
            let runs = Self.runs(out.path)
            try #require(runs.count == 2, "\(runs) \(receiver.log)")
            // In offer order, each file's bytes as committed, its variables exact.
            expectSameBytes(out.contents("0"), first, "plain.bin on stdin")
            expectSameBytes(out.contents("1"), second, "the tricky name on stdin")
            #expect(runs[0] == ["plain.bin", target.path + "/plain.bin", "\(2 << 20)", runs[0][3]])
            #expect(runs[1] == [tricky, target.path + "/" + tricky, "70000", runs[1][3]])
            #expect(runs[0][3].hasPrefix("127.0.0.1:"), "XFER_PEER: \(runs[0][3])")
            #expect(!out.exists("pwned"), "a name reached a shell's command line")
            // Committed too: the ACK's durable flag is the commit's.
            expectSameBytes(target.contents("plain.bin"), first, "the committed file")
        }

        @Test(
            "A program that fails: no ACK, exit 71 naming its status; a retry runs it again; once it succeeds, not again",
            arguments: [("3", "exited with status 3"), ("kill", "was killed by signal 9")]
        )
        func consumerFails(status: String, words: String) throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let out = TemporaryDirectory()
            let bytes = source.makeFile("nightly.sql", count: 300_000)
            // "kill": the program's shell kills itself, as the OOM killer would.
            let command =
                status == "kill"
                ? "if [ -f '\(out.path)/status' ]; then cat > /dev/null; kill -9 $$; fi; " + Self.consumer(out.path)
                : Self.consumer(out.path)
            try Data(status.utf8).write(to: URL(fileURLWithPath: out.file("status")))
            let receiver = ReceiverProcess(directory: target.path, extra: ["--exec", command])
            let failed = xfer(["send", source.file("nightly.sql"), receiver.address])
            #expect(failed.status == 71, "\(failed.stderr)")
            #expect(failed.stderr.contains(words), "\(failed.stderr)")
            #expect(failed.stderr.contains("consumer failed"), "\(failed.stderr)")
            #expect(!failed.stderr.contains("confirmed 1"), "\(failed.stderr)")
            // The program's verdict is not the commit's: the file is there, synced.
            expectSameBytes(target.contents("nightly.sql"), bytes, "the committed file")

            try FileManager.default.removeItem(atPath: out.file("status"))
            let before = Self.runs(out.path).count
            let retried = xfer(["send", source.file("nightly.sql"), receiver.address])
            #expect(retried.status == 0, "\(retried.stderr)")
            #expect(Self.runs(out.path).count == before + 1, "the retry did not run the program again")
            expectSameBytes(out.contents("\(before)"), bytes, "the retry's stdin")
            // Now recorded: a third send is already committed and runs nothing.
            let third = xfer(["send", source.file("nightly.sql"), receiver.address])
            #expect(third.status == 0, "\(third.stderr)")
            #expect(third.stderr.contains("already there"), "\(third.stderr)")
            #expect(Self.runs(out.path).count == before + 1, "an already committed file was handed over again")
        }

        @Test("A file committed without --exec, or for another command, is handed over, not 'already there'")
        func alreadyThereIsPerCommand() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let out = TemporaryDirectory()
            source.makeFile("db.sql", count: 5000)
            do {
                let plain = ReceiverProcess(directory: target.path)
                #expect(xfer(["send", source.file("db.sql"), plain.address]).status == 0)
            }
            for (round, command) in [Self.consumer(out.path), "true; " + Self.consumer(out.path)].enumerated() {
                let receiver = ReceiverProcess(directory: target.path, extra: ["--exec", command])
                let sent = xfer(["send", source.file("db.sql"), receiver.address])
                #expect(sent.status == 0, "\(sent.stderr)")
                #expect(!sent.stderr.contains("already there"), "\(sent.stderr)")
                #expect(Self.runs(out.path).count == round + 1, "the program did not run for command \(round)")
                // The same command again: now it is already there.
                let again = xfer(["send", source.file("db.sql"), receiver.address])
                #expect(again.stderr.contains("already there"), "\(again.stderr)")
                #expect(Self.runs(out.path).count == round + 1)
            }
        }

        @Test("SIGTERM: a program still running when the receiver stops is stopped with it, its file not acknowledged")
        func consumerStoppedWithTheReceiver() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let out = TemporaryDirectory()
            source.makeFile("slow.bin", count: 1000)
            let receiver = ReceiverProcess(
                directory: target.path,
                extra: ["--exec", "echo $$ > '\(out.path)/pid'; exec sleep 600"]
            )
            let sender = XferProcess(["send", source.file("slow.bin"), receiver.address])
            try #require(waitUntil { out.exists("pid") && !(out.contents("pid") ?? []).isEmpty })
            let pid = try #require(
                pid_t(
                    String(decoding: out.contents("pid")!, as: UTF8.self).trimmingCharacters(
                        in: .whitespacesAndNewlines
                    )
                )
            )
            receiver.xfer.kill(SIGTERM)
            let result = sender.finish()
            #expect(result.status != 0, "the sender was told its file was accepted: \(result.stderr)")
            #expect(waitUntil { kill(pid, 0) != 0 }, "the program outlived the receiver")
            if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }

        @Test("The program inherits no connection, no state file: only its stdin, stdout and stderr")
        func consumerInheritsNothing() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let out = TemporaryDirectory()
            source.makeFile("f.bin", count: 1000)
            // Another sender's connection, open while the program runs.
            let receiver = ReceiverProcess(
                directory: target.path,
                extra: [
                    "--exec", "cat > /dev/null; for f in /proc/$$/fd/*; do readlink \"$f\"; done > '\(out.path)/fds'",
                ]
            )
            // The sockets the receiver has before any connection: whatever it inherited from
            // this test process (which does not mark all its descriptors close-on-exec) and
            // its listener. Every connection it accepts comes after.
            let before = Self.sockets(of: receiver.xfer.process.processIdentifier)
            let other = RawClient(port: receiver.port)
            other.send(Preamble().bytes)
            let sent = xfer(["send", source.file("f.bin"), receiver.address])
            #expect(sent.status == 0, "\(sent.stderr)")
            let fds = String(decoding: out.contents("fds") ?? [], as: UTF8.self)
            #expect(!fds.isEmpty)
            let inherited = Set(fds.split(separator: "\n").map(String.init).filter { $0.hasPrefix("socket:") })
            #expect(inherited.isSubset(of: before), "the program inherited connections: \(fds)")
            #expect(!fds.contains(".xfer"), "the program inherited the receiver's state files: \(fds)")
        }

        @Test("A program slower than the sender's timeout: PROGRESS keeps the sender waiting, then exit 0")
        func slowConsumer() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let out = TemporaryDirectory()
            source.makeFile("slow.bin", count: 1000)
            // The work of a slow consumer (a database load), not a synchronisation.
            let receiver = ReceiverProcess(
                directory: target.path,
                extra: ["--exec", "sleep 4; " + Self.consumer(out.path)]
            )
            let sent = xfer(["send", "--timeout", "2", source.file("slow.bin"), receiver.address])
            #expect(sent.status == 0, "\(sent.stderr)")
            #expect(Self.runs(out.path).count == 1)
        }
    }
}
