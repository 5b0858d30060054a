import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Running a receiver as an operator would: safe defaults, logs, state, stopping.
    @Suite struct ReceiverOperation {
        @Test("Protected mode: no non-loopback listening without authentication unless --no-auth")
        func protectedMode() {
            let target = TemporaryDirectory()
            for listen in [nil, "0.0.0.0:0", "[::]:0"] {
                let result = xfer(["receive", "--dir", target.path] + (listen.map { ["--listen", $0] } ?? []))
                #expect(result.status == 64, "\(String(describing: listen)): \(result.stderr)")
                #expect(result.stderr.contains("without authentication"), "\(result.stderr)")
                #expect(result.stderr.contains("--no-auth"), "\(result.stderr)")
            }
            // Told explicitly, it listens.
            let open = XferProcess(["receive", "--dir", target.path, "--listen", "0.0.0.0:0", "--no-auth"])
            #expect(open.stderr.wait(for: "listening on"), "\(open.stderr.text)")
            open.kill(SIGTERM)
            #expect(open.finish().status == 0)
        }

        @Test("[::]:0 serves IPv4 and IPv6 senders on one socket")
        func dualStack() throws {
            let target = TemporaryDirectory()
            let receiver = XferProcess(["receive", "--dir", target.path, "--listen", "[::]:0", "--no-auth"])
            #expect(receiver.stderr.wait(for: "listening on"))
            let line = receiver.stderr.text.split(separator: "\n").first { $0.contains("listening on") }!
            let port = try #require(line.split(separator: ":").last.map(String.init))
            for (address, name) in [("127.0.0.1:\(port)", "four.txt"), ("[::1]:\(port)", "six.txt")] {
                let result = xfer(["send", "--name", name, "-", address], input: Data(name.utf8))
                #expect(result.status == 0, "\(address): \(result.stderr)")
                expectSameBytes(target.contents(name), Array(name.utf8))
            }
            receiver.kill(SIGTERM)
            _ = receiver.finish()
        }

        @Test("--log-json: one JSON object per line, a line per file (committed, already committed, refused)")
        func jsonLog() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("one.bin", count: 1000)
            let receiver = ReceiverProcess(directory: target.path, extra: ["--log-json"])
            #expect(xfer(["send", source.file("one.bin"), receiver.address]).status == 0)
            #expect(xfer(["send", source.file("one.bin"), receiver.address]).status == 0)
            // A name that is a directory on the receiver: refused.
            try FileManager.default.createDirectory(atPath: target.file("dir.bin"), withIntermediateDirectories: false)
            source.makeFile("dir.bin", count: 10)
            #expect(xfer(["send", source.file("dir.bin"), receiver.address]).status == 71)
            #expect(receiver.xfer.stderr.wait { $0.contains("\"refused\"") })
            let events = receiver.log.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(
                events.count == receiver.log.split(separator: "\n").filter { $0.hasPrefix("{") }.count,
                "a line is not JSON"
            )
            let kinds = events.compactMap { $0["event"] as? String }
            #expect(kinds.contains("committed") && kinds.contains("already_committed") && kinds.contains("refused"))
            let committed = events.first { $0["event"] as? String == "committed" }
            #expect(committed?["name"] as? String == "one.bin")
            #expect(committed?["bytes"] as? Int == 1000)
            #expect(committed?["peer"] as? String != nil && committed?["time"] as? Double != nil)
        }

        @Test("SIGTERM mid-transfer: the receiver stops, keeps the verified partial, exits 0; a resume finishes it")
        func gracefulStop() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            // 2 GiB (sparse: cheap to make, slow enough to send that the stop lands mid-file).
            source.makeFile("head.bin", count: 1 << 20)
            #expect(
                shell(
                    "cat '\(source.file("head.bin"))' > '\(source.file("big.bin"))' && truncate -s 2G '\(source.file("big.bin"))'"
                ).status == 0
            )
            let receiver = ReceiverProcess(directory: target.path)
            let sender = XferProcess(["send", "--json", source.file("big.bin"), receiver.address])
            #expect(sender.stdout.wait { jsonEvents($0).contains { ($0["sent"] as? Int ?? 0) >= 32 << 20 } })
            receiver.xfer.kill(SIGTERM)
            let stopped = receiver.xfer.finish()
            #expect(stopped.status == 0, "\(stopped.stderr)")
            #expect(stopped.stderr.contains("kept"), "\(stopped.stderr)")
            #expect(sender.finish().status != 0)
            let partials = try FileManager.default.contentsOfDirectory(atPath: target.file(".xfer")).filter {
                $0.hasSuffix(".part")
            }
            #expect(partials.count == 1, "\(partials)")
            let again = ReceiverProcess(directory: target.path)
            let result = xfer(["send", "--json", source.file("big.bin"), again.address])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(jsonEvents(result.stdout).contains { ($0["resumed_from"] as? Int ?? 0) > 0 })
            #expect(
                shell("cmp '\(source.file("big.bin"))' '\(target.file("big.bin"))'").status == 0,
                "the resumed file differs"
            )
        }

        @Test(
            "Partials that filled a small file system are expired and capped when the receiver starts",
            .enabled(if: getuid() == 0, "needs root for a tmpfs")
        )
        func partialsDoNotFillTheDisk() throws {
            let target = TemporaryDirectory()
            let mounted = shell("mount -t tmpfs -o size=4m tmpfs '\(target.path)'")
            try #require(mounted.status == 0, "\(mounted.stderr)")
            defer { shell("umount -l '\(target.path)'") }
            try FileManager.default.createDirectory(atPath: target.file(".xfer"), withIntermediateDirectories: false)
            // What an attacker left: partials of aborted transfers, 3.5 MiB of a 4 MiB disk.
            for index in 0..<7 {
                let name = String(format: "%032x.part", index)
                #expect(
                    FileManager.default.createFile(
                        atPath: target.file(".xfer/" + name),
                        contents: Data(count: 512 << 10)
                    )
                )
                let age = Date(timeIntervalSinceNow: Double(-3600 * (index + 1)))
                try FileManager.default.setAttributes(
                    [.modificationDate: age],
                    ofItemAtPath: target.file(".xfer/" + name)
                )
            }
            let receiver = ReceiverProcess(directory: target.path, extra: ["--keep-partials", "12600s"])
            // Older than 3.5 h: 4 of them; then the cap (a quarter of 4 MiB) leaves at most 1 MiB.
            let left = try FileManager.default.contentsOfDirectory(atPath: target.file(".xfer")).filter {
                $0.hasSuffix(".part")
            }
            #expect(left.count <= 2, "\(left)")
            #expect(
                left.allSatisfy { $0 < String(format: "%032x.part", 3) },
                "the newest must be the ones kept: \(left)"
            )
            let source = TemporaryDirectory()
            let bytes = source.makeFile("fits.bin", count: 2 << 20)
            let result = xfer(["send", source.file("fits.bin"), receiver.address])
            #expect(result.status == 0, "\(result.stderr)")
            expectSameBytes(target.contents("fits.bin"), bytes)
        }

        @Test("xfer state lists the partial files kept for resumes, and --clean removes them")
        func state() throws {
            let target = TemporaryDirectory()
            _ = ReceiverProcess(directory: target.path)  // creates .xfer
            for name in ["0123456789abcdef0123456789abcdef.part", "fedcba9876543210fedcba9876543210.part"] {
                #expect(
                    FileManager.default.createFile(atPath: target.file(".xfer/" + name), contents: Data(count: 100))
                )
            }
            let listed = xfer(["state", "--dir", target.path])
            #expect(listed.status == 0)
            #expect(listed.stdout.split(separator: "\n").count == 2, "\(listed.stdout)")
            // Partials made by hand carry no recorded name (a receiver records it on the file).
            let line = listed.stdout.split(separator: "\n").first {
                $0.contains("0123456789abcdef0123456789abcdef.part")
            }
            #expect(line?.hasPrefix("(name unknown)  100 bytes") == true, "\(listed.stdout)")
            let cleaned = xfer(["state", "--dir", target.path, "--clean"])
            #expect(cleaned.status == 0)
            #expect(cleaned.stdout.contains("removed"))
            #expect(xfer(["state", "--dir", target.path]).stdout.isEmpty)
        }
    }
}
