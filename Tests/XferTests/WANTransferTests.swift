import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Issue 18 over the project's WAN emulator (scripts/wan/wan.sh: two network namespaces
// joined by a TUN relay that delays every packet, since this kernel has no netem): a 20 ms
// round trip, so the sender's round-trip rule chooses several connections by itself.

extension Integration {
    @Suite(.enabled(if: wanUsable, "the WAN emulator needs root, /dev/net/tun, ip and cc (and CI is not set)"))
    struct WANTransfer {
        @Test(
            "Over a 20 ms path the default sender uses 4 or 5 connections: the file arrives intact and confirmed, every joined connection carried blocks, no RST on the path"
        )
        func defaultOverTheEmulator() throws {
            let wan = try #require(WANEmulator(delayMilliseconds: 10))
            let files = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = files.makeFile("big.bin", count: 24 << 20)
            let receiver = try wan.startReceiver(into: target, blockSize: 1 << 20)
            defer { wan.stop(receiver) }
            let capture = wan.start(
                in: wan.b,
                [
                    "tcpdump", "-Z", "root", "-i", "wan0", "-n", "-U", "--immediate-mode", "-w", files.file("wan.pcap"),
                    "tcp port 7390",
                ]
            )
            let capturing = commandExists("tcpdump") && capture.errors.wait(for: "listening on")
            let sent = wan.run(in: wan.a, [xferBinary, "send", "--json", files.file("big.bin"), "10.77.0.2:7390"])
            #expect(sent.status == 0, "\(sent.stderr)")
            expectSameBytes(target.contents("big.bin"), bytes)
            #expect(receiver.errors.wait(for: "1 file(s), 25165824 bytes committed"), "\(receiver.errors.text)")
            // A 20 ms round trip (a little more as measured): one connection per 5 ms, so 4 or 5.
            let joined = MultiConnection.joinedBlocks(receiver.errors.text)
            #expect((3...4).contains(joined.count), "\(joined.count + 1) connections: \(receiver.errors.text)")
            #expect(joined.allSatisfy { $0 > 0 }, "a joined connection carried no block: \(joined)")
            if capturing {
                kill(capture.process.processIdentifier, SIGINT)
                capture.process.waitUntilExit()
                let resets = shell(
                    "tcpdump -n -r '\(files.file("wan.pcap"))' 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null"
                )
                let fins = shell("tcpdump -n -r '\(files.file("wan.pcap"))' 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null")
                #expect(
                    fins.stdout.split(separator: "\n").count >= 2 * (joined.count + 1),
                    "both FINs of every connection: \(fins.stdout)\n\(fins.stderr)\n\(capture.errors.text)"
                )
                #expect(resets.stdout.isEmpty, "RST seen:\n\(resets.stdout)")
            } else {
                wan.stop(capture)
            }
        }

        @Test(
            "Over the emulator, the first connection cut mid-file (RST): the sender fails, nothing under the final name; the rerun sends only the missing blocks"
        )
        func firstConnectionCutOverTheEmulator() throws {
            let wan = try #require(WANEmulator(delayMilliseconds: 10))
            let files = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = files.makeFile("big.bin", count: 32 << 20)
            let receiver = try wan.startReceiver(into: target, blockSize: 256 << 10)
            defer { wan.stop(receiver) }
            // The relay runs beside the sender and cuts the first connection it forwards.
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/cut-relay.py").path
            let relay = wan.start(
                in: wan.a,
                [
                    "python3", "-u", script, "--upstream", "10.77.0.2:7390", "--cut", "1", "--after", "\(3 << 20)",
                    "--reset",
                ],
                output: true
            )
            defer { wan.stop(relay) }
            try #require(relay.output?.wait(for: "listening on") == true, "\(relay.errors.text)")
            let port = relay.output!.text.split(separator: "\n").first { $0.contains("listening on") }!
                .split(separator: ":").last!
            let cut = wan.run(
                in: wan.a,
                [xferBinary, "send", "--streams", "4", files.file("big.bin"), "127.0.0.1:\(port)"]
            )
            #expect(cut.status != 0, "confirmed although its first connection was cut: \(cut.stderr)")
            #expect(!target.exists("big.bin"), "a partial file under its final name")
            #expect(receiver.errors.wait(for: "of 'big.bin' to resume"), "\(receiver.errors.text)")
            let before = receiver.errors.text.count
            let again = wan.run(
                in: wan.a,
                [xferBinary, "send", "--streams", "4", files.file("big.bin"), "10.77.0.2:7390"]
            )
            #expect(again.status == 0, "\(again.stderr)")
            expectSameBytes(target.contents("big.bin"), bytes)
            #expect(
                receiver.errors.wait { String($0.dropFirst(before)).contains("1 file(s), 33554432 bytes committed") }
            )
            let rerun = String(receiver.errors.text.dropFirst(before))
            #expect(rerun.contains("blocks kept from an earlier connection verified"), "\(rerun)")
        }
    }
}

/// Whether scripts/wan/wan.sh can run here; in CI it must.
let wanUsable: Bool = {
    if getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/net/tun") && commandExists("ip")
        && (commandExists("cc") || commandExists("clang"))
    {
        return true
    }
    return ProcessInfo.processInfo.environment["CI"] != nil
}()

/// The WAN emulator under a name of its own (WAN_NAME), taken down at deinit.
/// Why the emulator could not set up what a test needs.
enum WANEmulatorError: Error {
    case receiverDidNotListen(String)
}

final class WANEmulator {
    let name = "xfer-t\(getpid() % 100_000)"
    var a: String { name + "-a" }
    var b: String { name + "-b" }
    private static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/wan/wan.sh").path

    init?(delayMilliseconds: Int) {
        let up = shell("WAN_NAME=\(name) bash '\(Self.script)' up --delay-ms \(delayMilliseconds)")
        guard up.status == 0 else {
            Issue.record("wan.sh up failed: \(up.stdout)\(up.stderr)")
            return nil
        }
    }

    deinit { shell("WAN_NAME=\(name) bash '\(Self.script)' down") }

    struct Started {
        let process: Process
        let errors: PipeCollector
        var output: PipeCollector?
    }

    /// Starts `command` in `namespace`, its stderr (and with `output`, its stdout) collected.
    /// `xfer receive` in namespace b on 10.77.0.2:7390 into `target`, granting sessions of
    /// `blockSize`-byte blocks; returns once it listens.
    func startReceiver(into target: TemporaryDirectory, blockSize: Int) throws -> Started {
        let receiver = start(
            in: b,
            [
                xferBinary, "receive", "--no-auth", "--listen", "10.77.0.2:7390", "--dir", target.path,
                "--block-size", "\(blockSize)",
            ]
        )
        guard receiver.errors.wait(for: "listening on") else {
            stop(receiver)
            throw WANEmulatorError.receiverDidNotListen(receiver.errors.text)
        }
        return receiver
    }

    func start(in namespace: String, _ command: [String], output: Bool = false) -> Started {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Test threads block signals and children inherit the mask: unblock it, so SIGINT
        // ends tcpdump with its capture written.
        process.arguments =
            [
                "python3", "-c",
                "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
                "ip", "netns", "exec", namespace,
            ] + command
        let out = Pipe()
        process.standardOutput = output ? out : FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        let collector = PipeCollector(errors)
        let outCollector = output ? PipeCollector(out) : nil
        try! process.run()
        return Started(process: process, errors: collector, output: outCollector)
    }

    func stop(_ started: Started) {
        if started.process.isRunning { kill(started.process.processIdentifier, SIGKILL) }
        started.process.waitUntilExit()
    }

    /// Runs `command` in `namespace` to completion (at most 120 s).
    func run(in namespace: String, _ command: [String]) -> Finished {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", namespace] + command
        let (out, err) = collectOutput(of: process)
        try! process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        process.waitUntilExit()
        watchdog.cancel()
        return Finished(status: process.terminationStatus, stdout: out.waitForEnd(), stderr: err.waitForEnd())
    }
}
