import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Issue 20: the command line says what it does. A bare number is never a host; logs
    /// and events a program can parse; verdicts that name the side that gave them.
    @Suite struct CommandLineHonesty {
        // MARK: 1. Destinations

        @Test(
            "A bare number or an inet_aton shorthand is a usage error naming the likely intent, and nothing connects",
            arguments: [
                (["send", "/etc/hostname", "7396"], "did you mean 127.0.0.1:7396?"),
                (["send", "/etc/hostname", "127.1"], "did you mean 127.0.0.1:7390?"),
                (["send", "/etc/hostname", "10.1:9"], "did you mean 10.0.0.1:9?"),
                (["send", "/etc/hostname", "0x7f.1"], "did you mean 127.0.0.1:7390?"),
                (["send", "/etc/hostname", "0177.0.0.1"], "did you mean 127.0.0.1:7390?"),
                (["send", "/etc/hostname", "1.2.3.256"], "four decimal numbers"),
                (["send", "--raw", "/etc/hostname", "7396:9100"], "did you mean 127.0.0.1:7396?"),
                (["receive", "--listen", "7396"], "did you mean 127.0.0.1:7396?"),
                (["receive", "--listen", "127.1:0"], "did you mean 127.0.0.1:0?"),
            ]
        )
        func bareNumberIsNotAHost(arguments: [String], suggestion: String) throws {
            let work = TemporaryDirectory()
            let started = Date()
            let result: Finished
            var connects: [String] = []
            // In a network namespace of its own with no interface up (when root can make one):
            // a binary that does try to connect reaches nothing off this machine.
            let isolated = getuid() == 0 && commandExists("unshare") ? "unshare -n " : ""
            let quoted = ([xferBinary] + arguments).map { "'\($0)'" }.joined(separator: " ")
            if commandExists("strace") {
                // Every connect(2) of the process and its threads, recorded by the kernel's
                // tracer: an AF_INET or AF_INET6 one would be a connection attempt.
                let log = work.file("strace.log")
                result = shell("\(isolated)strace -f -e trace=connect,bind -o '\(log)' \(quoted) < /dev/null")
                let text = try #require(try? String(contentsOfFile: log, encoding: .utf8), "strace wrote nothing")
                #expect(text.contains("+++ exited with 64 +++"), "strace did not follow the process: \(text)")
                connects = text.split(separator: "\n").map(String.init).filter {
                    $0.contains("AF_INET")
                }
            } else {
                result = shell("\(isolated)\(quoted) < /dev/null")
            }
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(suggestion), "\(result.stderr)")
            #expect(result.stderr.contains("USAGE"), "\(result.stderr)")
            #expect(connects.isEmpty, "the socket calls of a usage error: \(connects)")
            #expect(Date().timeIntervalSince(started) < 5, "a usage error is immediate")
        }

        @Test("Strict addresses that are right still work: dotted quads, [IPv6], host names")
        func strictAddressesStillWork() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("a.txt", count: 10)
            let receiver = ReceiverProcess(directory: target.path)
            for address in ["127.0.0.1:\(receiver.port)", "localhost:\(receiver.port)"] {
                let result = xfer(["send", source.file("a.txt"), address])
                #expect(result.status == 0, "\(address): \(result.stderr)")
            }
            let other = TemporaryDirectory()
            let six = XferProcess(["receive", "--listen", "[::1]:0", "--dir", other.path, "--once"])
            #expect(six.stderr.wait(for: "listening on"), "\(six.stderr.text)")
            six.kill()
        }

        // MARK: 2. --log-json, 6. timestamps

        @Test("--log-json: every line on stderr is JSON, the listening line (host, port) and the stop line too")
        func logJSONEveryLine() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("one.bin", count: 1000)
            let receiver = ReceiverProcess(directory: target.path, extra: ["--log-json"])
            #expect(xfer(["send", source.file("one.bin"), receiver.address]).status == 0)
            receiver.xfer.kill(SIGTERM)
            let stopped = receiver.xfer.finish()
            #expect(stopped.status == 0, "\(stopped.stderr)")
            let lines = stopped.stderr.split(separator: "\n")
            let objects = lines.map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            for (line, object) in zip(lines, objects) { #expect(object != nil, "not JSON: \(line)") }
            let first = try #require(objects.first ?? nil, "\(stopped.stderr)")
            #expect(first["event"] as? String == "listening", "\(first)")
            #expect(first["host"] as? String == "127.0.0.1", "\(first)")
            #expect(first["port"] as? Int == Int(receiver.port), "\(first)")
            #expect(objects.contains { $0?["event"] as? String == "committed" }, "\(stopped.stderr)")
            let last = try #require(objects.last ?? nil, "\(stopped.stderr)")
            #expect((last["detail"] as? String ?? "").hasPrefix("stopped"), "\(last)")
        }

        @Test("The text log starts each line with an ISO 8601 UTC time in milliseconds; 'listening on' still parses")
        func textLogTimestamps() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("one.bin", count: 1000)
            let receiver = ReceiverProcess(directory: target.path)
            #expect(xfer(["send", source.file("one.bin"), receiver.address]).status == 0)
            receiver.xfer.kill(SIGTERM)
            let stopped = receiver.xfer.finish()
            let stamp = try Regex(#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z xfer: "#)
            let lines = stopped.stderr.split(separator: "\n")
            #expect(lines.count >= 3, "\(stopped.stderr)")
            for line in lines { #expect(line.firstMatch(of: stamp) != nil, "no timestamp: \(line)") }
            // The time is now, in UTC.
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let time = try #require(formatter.date(from: String(lines[0].prefix(24))), "\(lines[0])")
            #expect(abs(time.timeIntervalSinceNow) < 60, "\(lines[0])")
            // What scripts do: the port after the last colon of the "listening on" line.
            let listening = try #require(lines.first { $0.contains("listening on") })
            #expect(UInt16(listening.split(separator: ":").last!) == receiver.port, "\(listening)")
        }

        @Test("A partial run (exit 23) ends with a line that says PARTIAL, not one that reads like success")
        func partialRunLastLine() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("box/ok.txt", count: 10)
            // A name that cannot go on the wire (not UTF-8): skipped, a loss.
            let raw = Array(source.file("box/").utf8) + [0xFF]
            let fd = (raw + [0]).withUnsafeBufferPointer {
                $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) }
            }
            try #require(fd >= 0)
            close(fd)
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(["send", source.file("box"), receiver.address])
            #expect(result.status == 23, "\(result.stderr)")
            let last = result.stderr.split(separator: "\n").last ?? ""
            #expect(!last.hasPrefix("xfer: confirmed"), "the last line reads like success: \(result.stderr)")
            #expect(last.contains("PARTIAL") && last.contains("23"), "\(result.stderr)")
        }

        // MARK: 3. Wrong keys

        @Test("A wrong key: the sender says it refused the receiver's proof; the receiver's log says so in its words")
        func wrongKeyNamesTheRightSide() {
            let keys = TemporaryDirectory()
            let (right, _) = Integration.Authentication.keyFile(keys, "right")
            let (wrong, _) = Integration.Authentication.keyFile(keys, "wrong")
            let source = TemporaryDirectory()
            source.makeFile("f.bin", count: 1000)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", right])
            let result = xfer(["send", "--key", wrong, source.file("f.bin"), receiver.address])
            #expect(result.status == 77, "\(result.stderr)")
            #expect(!result.stderr.contains("receiver refused"), "the sender blames the receiver: \(result.stderr)")
            #expect(result.stderr.contains("refused by this sender"), "\(result.stderr)")
            #expect(result.stderr.contains("proof does not match"), "\(result.stderr)")
            #expect(receiver.xfer.stderr.wait(for: "refused this receiver's proof", seconds: 10), "\(receiver.log)")
            #expect(
                !receiver.log.contains("the receiver's proof does not match"),
                "the sender's sentence: \(receiver.log)"
            )
        }

        // MARK: 5. xfer state

        @Test("xfer state names each partial by the name it will be committed under, and --json says the same")
        func stateShowsNames() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let file = source.file("dir/named-big.bin")
            makeRandomFile(file, mebibytes: 300)
            do {
                let receiver = ReceiverProcess(directory: target.path)
                let sender = XferProcess(["send", "--json", source.file("dir"), receiver.address])
                let midway = sender.stdout.wait(seconds: 60) { text in
                    jsonEvents(text).contains { ($0["sent"] as? Int ?? 0) >= 64 << 20 }
                }
                receiver.xfer.kill(SIGKILL)
                receiver.xfer.process.waitUntilExit()
                let interrupted = finish(sender, within: 60)
                try #require(midway && interrupted.status != 0, "not interrupted: \(interrupted.stdout)")
            }
            let text = xfer(["state", "--dir", target.path])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("'dir/named-big.bin'"), "\(text.stdout)")
            let json = xfer(["state", "--json", "--dir", target.path])
            #expect(json.status == 0, "\(json.stderr)")
            let events = jsonEvents(json.stdout)
            #expect(events.count == json.stdout.split(separator: "\n").count, "a line is not JSON: \(json.stdout)")
            let partial = events.first { $0["event"] as? String == "partial" }
            #expect(partial?["name"] as? String == "dir/named-big.bin", "\(json.stdout)")
            #expect(((partial?["bytes"] as? Int) ?? 0) > 0, "\(json.stdout)")
            let partialFile = partial?["file"] as? String ?? ""
            #expect(partialFile.hasSuffix(".part"), "\(json.stdout)")
            #expect(events.last?["event"] as? String == "done", "\(json.stdout)")
            // The committed file keeps no trace of the bookkeeping.
            let receiver = ReceiverProcess(directory: target.path)
            #expect(xfer(["send", source.file("dir"), receiver.address]).status == 0)
            if commandExists("python3") {
                let check = shell(
                    "python3 -c 'import os, sys; sys.exit(\"user.xfer.name\" in os.listxattr(sys.argv[1]))' "
                        + "'\(target.file("dir/named-big.bin"))'"
                )
                #expect(check.status == 0, "the committed file carries user.xfer.name: \(check.stderr)")
            }
        }
    }
}
