import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Issue 18, SPEC.md §16: one transfer over several connections. The real sender and
// receiver over loopback, through a relay that cuts one connection, and a raw client that
// lies about blocks; the emulated long path is in WANTransferTests.

extension Integration {
    @Suite struct MultiConnection {
        /// The log lines of connections that joined a session, and the blocks each carried.
        static func joinedBlocks(_ log: String) -> [Int] {
            log.split(separator: "\n").compactMap { line in
                guard let range = line.range(of: "joined a session: ") else { return nil }
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }
        }

        @Test("A file split over 4 connections arrives intact and confirmed; every connection ends without RST")
        func fourConnections() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let capture = TemporaryDirectory()
            let bytes = source.makeFile("big.bin", count: 24 << 20)
            source.makeFile("small.txt", count: 3000)
            let receiver = ReceiverProcess(directory: target.path, extra: ["--block-size", "65536"])
            let dump = commandExists("tcpdump") ? try TCPDump(port: receiver.port, into: capture.file("lo.pcap")) : nil
            let sent = xfer([
                "send", "--streams", "4", source.file("big.bin"), source.file("small.txt"), receiver.address,
            ])
            #expect(sent.status == 0, "\(sent.stderr)")
            expectSameBytes(target.contents("big.bin"), bytes)
            #expect(target.contents("small.txt") == source.contents("small.txt"))
            // Four connections: the first committed both, three joined and carried blocks.
            #expect(receiver.xfer.stderr.wait { Self.joinedBlocks($0).count == 3 && $0.contains("2 file(s)") })
            let joined = Self.joinedBlocks(receiver.log)
            #expect(joined.reduce(0, +) > 0, "no block went over a joined connection:\n\(receiver.log)")
            #expect(!receiver.log.contains("ended early"), "\(receiver.log)")
            if let dump {
                let (fins, resets) = dump.stop()
                #expect(fins >= 8, "the capture saw both FINs of each of the 4 connections (\(fins))")
                #expect(resets.isEmpty, "RST seen:\n\(resets)")
            }
        }

        @Test("With a key every connection proves it: 4 connections, intact and confirmed")
        func keyed() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("big.bin", count: 6 << 20)
            #expect(xfer(["keygen", source.file("key")]).status == 0)
            let receiver = ReceiverProcess(
                directory: target.path,
                extra: ["--block-size", "65536", "--key", source.file("key")]
            )
            let sent = xfer([
                "send", "--key", source.file("key"), "--streams", "4", source.file("big.bin"), receiver.address,
            ])
            #expect(sent.status == 0, "\(sent.stderr)")
            expectSameBytes(target.contents("big.bin"), bytes)
            #expect(receiver.xfer.stderr.wait { Self.joinedBlocks($0).count == 3 })
        }

        @Test("A joined connection cut mid-transfer (RST): its blocks go over the others, the file is confirmed")
        func joinedConnectionCut() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("big.bin", count: 16 << 20)
            let receiver = ReceiverProcess(directory: target.path, extra: ["--block-size", "65536"])
            let relay = CutRelay(upstream: receiver.address, cut: 3, after: 1 << 20)
            let sent = boundedXfer(["send", "--streams", "4", source.file("big.bin"), relay.address])
            #expect(relay.output.wait(for: "cut connection 3"), "\(relay.output.text)")
            #expect(sent.status == 0, "\(sent.stderr)")
            expectSameBytes(target.contents("big.bin"), bytes)
        }

        @Test(
            "The first connection cut mid-transfer: nothing under the final name; the rerun sends only the blocks missing"
        )
        func firstConnectionCut() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("big.bin", count: 16 << 20)
            let receiver = ReceiverProcess(directory: target.path, extra: ["--block-size", "65536"])
            let relay = CutRelay(upstream: receiver.address, cut: 1, after: 2 << 20)
            let cut = xfer(["send", "--streams", "4", source.file("big.bin"), relay.address])
            #expect(relay.output.wait(for: "cut connection 1"), "\(relay.output.text)")
            #expect(cut.status != 0, "the sender confirmed a file whose connection was cut: \(cut.stderr)")
            #expect(!target.exists("big.bin"), "a partial file under its final name")
            #expect(receiver.xfer.stderr.wait(for: "of 'big.bin' to resume"), "\(receiver.log)")
            let before = receiver.log.count
            let again = xfer(["send", "--streams", "4", source.file("big.bin"), receiver.address])
            #expect(again.status == 0, "\(again.stderr)")
            expectSameBytes(target.contents("big.bin"), bytes)
            // The receiver verified what it kept and the rerun sent only the rest.
            let rerun = String(receiver.log.dropFirst(before))
            #expect(rerun.contains("blocks kept from an earlier connection"), "\(rerun)")
            #expect(
                receiver.xfer.stderr.wait {
                    String($0.dropFirst(before)).contains("block(s) of them on this connection")
                        || Self.joinedBlocks(String($0.dropFirst(before))).count == 3
                }
            )
            let total = 256
            let resent = Self.joinedBlocks(String(receiver.log.dropFirst(before))).reduce(0, +)
            #expect(resent < total, "the rerun sent \(resent) of \(total) blocks again over joined connections")
        }
    }
}

/// Runs xfer, killed after `seconds` if still running: a sender that waits for ever (a
/// lost block never sent again) fails its test instead of hanging the suite.
func boundedXfer(_ arguments: [String], seconds: Double = 60) -> Finished {
    let process = XferProcess(arguments)
    let watchdog = DispatchWorkItem { if process.process.isRunning { process.kill() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
    defer { watchdog.cancel() }
    return process.finish()
}

/// tcpdump on loopback for one port, until ``stop()``.
final class TCPDump {
    let process = Process()
    let file: String
    let log: PipeCollector

    init(port: UInt16, into file: String) throws {
        self.file = file
        // Test threads block most signals and children inherit that mask; unblock it so
        // that tcpdump ends on SIGINT and writes out its capture.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
            "tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-w", file, "tcp port \(port)",
        ]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        log = PipeCollector(errors)
        try process.run()
        // tcpdump says "listening on lo" once it captures: the readiness signal.
        precondition(log.wait(for: "listening on"), "tcpdump did not start: \(log.text)")
    }

    /// Stops the capture; the FIN count and the RST lines.
    func stop() -> (fins: Int, resets: String) {
        process.interrupt()
        process.waitUntilExit()
        let resets = shell("tcpdump -n -r '\(file)' 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null").stdout
        let fins = shell("tcpdump -n -r '\(file)' 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null").stdout
        return (fins.split(separator: "\n").count, resets)
    }
}

/// scripts/cut-relay.py: forwards connections to `upstream`, and cuts the `cut`-th with an
/// RST once `after` bytes of its client's went through.
final class CutRelay {
    let process = Process()
    let output: PipeCollector
    let port: UInt16

    init(upstream: String, cut: Int, after: Int) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/cut-relay.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, "--upstream", upstream, "--cut", "\(cut)", "--after", "\(after)", "--reset"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        output = PipeCollector(out)
        try! process.run()
        precondition(output.wait(for: "listening on"), "the relay did not start: \(output.text)")
        let line = output.text.split(separator: "\n").first { $0.contains("listening on") }!
        port = UInt16(line.split(separator: ":").last!)!
    }

    var address: String { "127.0.0.1:\(port)" }

    deinit {
        // SIGKILL: test threads block SIGTERM, and children inherit the mask.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
