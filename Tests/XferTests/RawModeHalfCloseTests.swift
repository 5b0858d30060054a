import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration.RawMode {
    /// scripts/half-close-peer.py: a peer whose end of stream comes before our data.
    static let halfClosePeer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/half-close-peer.py").path

    /// The peer script, ready once it printed its port.
    final class HalfClosePeer {
        let process = Process()
        let output: PipeCollector
        let port: UInt16

        init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", halfClosePeer] + arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            output = PipeCollector(pipe)
            try process.run()
            // The whole line: the port may arrive in a later read than "listening ".
            try #require(
                output.wait { text in
                    text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().contains {
                        $0.hasPrefix("listening ")
                    }
                },
                "the peer did not start: \(output.text)"
            )
            let line = output.text.split(separator: "\n").first { $0.hasPrefix("listening ") }!
            port = try #require(UInt16(line.split(separator: " ").last!))
        }

        /// Waits until the peer has half-closed `count` connections in all.
        func waitForHalfClose(_ count: Int) -> Bool {
            output.wait(seconds: 10) { $0.components(separatedBy: "half-closed").count - 1 >= count }
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    @Test(
        "A peer that half-closes at once, never reads and closes 200 ms later: 78 (its reset is waited for), never 0",
        .enabled(if: rawToolUsable("python3"))
    )
    func halfCloseThenReset() throws {
        let runs = 4
        let peer = try HalfClosePeer(["--connections", "\(runs)", "--close-after", "0.2"])
        for run in 1...runs {
            // The source (standard input) stays quiet until the peer's FIN is out: its end of
            // stream comes before any of our data, the order the runs showed.
            let sender = XferProcess(["send", "--raw", "--json", "-", "127.0.0.1:\(peer.port)"])
            try #require(peer.waitForHalfClose(run), "run \(run): \(peer.output.text)")
            let bytes = [UInt8](repeating: 0x5A, count: 16 << 10)
            try sender.stdin.fileHandleForWriting.write(contentsOf: Data(bytes))
            let result = sender.finish()
            #expect(result.status == 78, "run \(run): \(result.stderr)")
            #expect(!result.stderr.contains("closed the connection without a reset"), "run \(run): \(result.stderr)")
            let events = jsonEvents(result.stdout)
            let done = try #require(events.last)
            #expect(done["verdict"] as? String == "reset", "run \(run): \(done)")
            #expect(done["peer_closed"] as? Bool == true, "run \(run): \(done)")
            #expect(result.stderr.contains("after closing its side"), "run \(run): \(result.stderr)")
        }
    }

    @Test(
        "A peer that half-closes at once, then reads everything: 80, 'only half-closed', after the bounded wait",
        .enabled(if: rawToolUsable("python3"))
    )
    func halfCloseThenRead() throws {
        let peer = try HalfClosePeer(["--read"])
        let sender = XferProcess(["send", "--raw", "--json", "-", "127.0.0.1:\(peer.port)"])
        try #require(peer.waitForHalfClose(1), "\(peer.output.text)")
        let bytes = [UInt8](repeating: 0xA5, count: 100_000)
        let started = Date()
        try sender.stdin.fileHandleForWriting.write(contentsOf: Data(bytes))
        let result = sender.finish()
        let seconds = Date().timeIntervalSince(started)
        // Its close after reading cannot be seen (its FIN came long before): what was seen is
        // every byte acknowledged and no reset within the wait.
        #expect(result.status == 80, "\(result.stderr)")
        #expect(result.stderr.contains("only half-closed"), "\(result.stderr)")
        let done = try #require(jsonEvents(result.stdout).last)
        #expect(done["verdict"] as? String == "acknowledged_not_closed")
        #expect(done["acknowledged"] as? Int == bytes.count)
        #expect(seconds >= 1.9 && seconds < 10, "decided after the 2 s wait for a reset: \(seconds) s")
        #expect(peer.output.wait(for: "read \(bytes.count) bytes"), "\(peer.output.text)")
    }
}
