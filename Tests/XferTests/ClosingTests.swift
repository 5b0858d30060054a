import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// SPEC.md §7.4: in a normal transfer the client closes first, after reading the
    /// server's GOODBYE, so no side closes with unread data (no RST) and TIME_WAIT stays on
    /// the client.
    @Suite struct Closing {
        @Test("Normal transfers leave TIME_WAIT on the client only", .enabled(if: commandExists("ss")))
        func timeWaitOnClientOnly() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("a", count: 5 << 20)
            source.makeFile("b", count: 1000)
            let receiver = ReceiverProcess(directory: target.path)
            for _ in 0..<5 {
                #expect(xfer(["send", "--quiet", source.file("a"), source.file("b"), receiver.address]).status == 0)
            }
            // Matched on whole addresses, not ports alone: another program's connection may
            // have been given the receiver's port number as its ephemeral port.
            let sockets = shell("ss -Htan state time-wait").stdout.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            }
            let address = "127.0.0.1:\(receiver.port)"
            let server = sockets.filter { $0.count >= 4 && $0[2] == address }
            let client = sockets.filter { $0.count >= 4 && $0[3] == address && $0[2].hasPrefix("127.0.0.1:") }
            #expect(server.isEmpty, "server side in TIME_WAIT: \(server)")
            #expect(client.count == 5, "client side TIME_WAIT: \(client)")
        }

        @Test("Normal transfers put no RST on the wire", .enabled(if: commandExists("tcpdump")))
        func noReset() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let capture = TemporaryDirectory()
            source.makeFile("a", count: 20 << 20)
            source.makeFile("b", count: 1)
            let receiver = ReceiverProcess(directory: target.path)
            let dump = Process()
            // Test threads block most signals and children inherit that mask; unblock it so
            // that tcpdump ends on SIGINT and writes out its capture.
            dump.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            dump.arguments = [
                "python3", "-c",
                "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
                "tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-w", capture.file("lo.pcap"),
                "tcp port \(receiver.port)",
            ]
            let errors = Pipe()
            dump.standardError = errors
            dump.standardOutput = Pipe()
            let dumpLog = PipeCollector(errors)
            try dump.run()
            // tcpdump says "listening on lo" once it captures: the readiness signal.
            #expect(dumpLog.wait(for: "listening on"), "\(dumpLog.text)")
            for _ in 0..<5 {
                #expect(xfer(["send", "--quiet", source.file("a"), source.file("b"), receiver.address]).status == 0)
            }
            // The receiver logs a connection's summary after it closed its side: then both
            // FINs of every connection are on the wire.
            #expect(receiver.xfer.stderr.wait { $0.components(separatedBy: "bytes committed").count > 5 })
            dump.interrupt()
            dump.waitUntilExit()
            let resets = shell("tcpdump -n -r '\(capture.file("lo.pcap"))' 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null")
                .stdout
            let fins = shell("tcpdump -n -r '\(capture.file("lo.pcap"))' 'tcp[tcpflags] & tcp-fin != 0' 2>/dev/null")
                .stdout
            #expect(fins.split(separator: "\n").count >= 10, "the capture saw both FINs of each connection:\n\(fins)")
            #expect(resets.isEmpty, "RST seen:\n\(resets)")
        }
    }
}
