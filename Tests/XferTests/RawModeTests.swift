import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// `xfer send --raw` against real plain-TCP peers: netcat, and peers played by a thread
    /// of this process that greet, read part, never read, or reset. The peers' own view
    /// (what they read, how their connection ended) is checked against xfer's verdict.
    @Suite struct RawMode {
        // MARK: Delivered (0)

        @Test("To nc -l: the bytes arrive identical and the exit is 0", .enabled(if: rawToolUsable("nc")))
        func toNetcat() throws {
            let files = TemporaryDirectory()
            let bytes = files.makeFile("payload", count: 3 << 20)
            let port = RawListener().port
            let netcat = Process()
            netcat.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            netcat.arguments = ["nc", "-v", "-l", "127.0.0.1", "\(port)"]
            _ = FileManager.default.createFile(atPath: files.file("received"), contents: nil)
            netcat.standardOutput = FileHandle(forWritingAtPath: files.file("received"))
            netcat.standardInput = FileHandle.nullDevice
            let errors = Pipe()
            netcat.standardError = errors
            let log = PipeCollector(errors)
            try netcat.run()
            defer {
                if netcat.isRunning { kill(netcat.processIdentifier, SIGKILL) }
                netcat.waitUntilExit()
            }
            // nc says "Listening" once it listens: the readiness signal.
            try #require(log.wait(for: "Listening"), "\(log.text)")
            let result = xfer(["send", "--raw", "--json", files.file("payload"), "127.0.0.1:\(port)"])
            netcat.waitUntilExit()
            #expect(result.status == 0, "\(result.stderr)")
            expectSameBytes(files.contents("received"), bytes)
            let events = jsonEvents(result.stdout)
            #expect(events.first?["event"] as? String == "connected")
            let done = try #require(events.last)
            #expect(done["event"] as? String == "done")
            #expect(done["verdict"] as? String == "delivered")
            #expect(done["acknowledged"] as? Int == bytes.count)
            #expect(done["written"] as? Int == bytes.count)
            #expect(done["peer_closed"] as? Bool == true)
            Self.expectSaneProgress(events, total: bytes.count)
        }

        @Test(
            "To a peer that greets and reads everything: 0, the greeting drained, and no RST on the wire",
            .enabled(if: rawToolUsable("tcpdump"))
        )
        func greetingPeerNoReset() throws {
            let files = TemporaryDirectory()
            let bytes = files.makeFile("payload", count: 1_000_000)
            let runs = 3
            // One more connection at the end: a naive client, whose reset shows that the
            // capture would see one.
            let peer = PlainPeer(.greetAndReadAll, connections: runs + 1)
            let dump = Process()
            // Test threads block most signals and children inherit that mask; unblock it so
            // that tcpdump ends on SIGINT (as ClosingTests does).
            dump.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            dump.arguments = [
                "python3", "-c",
                "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
                "tcpdump", "-i", "lo", "-n", "-l", "-s", "128", "-B", "8192", "--immediate-mode", "port \(peer.port)",
            ]
            let errors = Pipe()
            let output = Pipe()
            dump.standardError = errors
            dump.standardOutput = output
            let dumpLog = PipeCollector(errors)
            let packets = PipeCollector(output)
            try dump.run()
            defer {
                if dump.isRunning { dump.interrupt() }
                dump.waitUntilExit()
            }
            // tcpdump says "listening on lo" once it captures: the readiness signal.
            try #require(dumpLog.wait(for: "listening on"), "\(dumpLog.text)")
            for run in 0..<runs {
                let arguments =
                    run == 0
                    ? ["send", "--raw", "--show-reply", files.file("payload"), peer.address]
                    : ["send", "--raw", "--json", files.file("payload"), peer.address]
                let result = xfer(arguments)
                #expect(result.status == 0, "run \(run): \(result.stderr)")
                if run == 0 {
                    #expect(result.stdout == PlainPeer.greeting, "--show-reply prints what the peer sent")
                    #expect(result.stderr.contains("delivered to the peer's TCP"), "\(result.stderr)")
                    #expect(result.stderr.contains("cannot tell whether the peer application"))
                } else {
                    let done = jsonEvents(result.stdout).last
                    #expect(done?["reply_bytes"] as? Int == PlainPeer.greeting.utf8.count, "the greeting was drained")
                }
            }
            let naive = RawClient(port: peer.port, sendBuffer: 2 << 20)
            var local = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(naive.fd, $0, &length) }
            }
            let naivePort = UInt16(bigEndian: local.sin_port)
            naive.send([UInt8](repeating: 0x61, count: 1_000_000))
            naive.close()  // the greeting unread: this close sends RST
            let ends = peer.finish()
            #expect(ends.count == runs + 1)
            for end in ends.prefix(runs) {
                expectSameBytes(end.bytes, bytes, "the peer read every byte")
                #expect(
                    end.error == 0,
                    "the peer saw a clean end of stream, not \(String(cString: strerror(end.error)))"
                )
            }
            // Every xfer has exited, so any RST its close caused is on the wire. A UDP datagram
            // to the same port marks the end: once tcpdump shows it, it has shown all before it.
            let marker = socket(AF_INET, CInt(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = peer.port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(marker, "end", 3, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(marker)
            #expect(packets.wait(for: "UDP"), "tcpdump did not show the marker:\n\(packets.text)")
            let lines = packets.text.split(separator: "\n")
            let naiveLines = lines.filter { $0.contains("127.0.0.1.\(naivePort) ") }
            let xferLines = lines.filter { !$0.contains("127.0.0.1.\(naivePort) ") }
            let fins = xferLines.filter { $0.contains("Flags [F") }
            let resets = xferLines.filter { $0.contains("Flags [R") }
            #expect(fins.count == 2 * runs, "both FINs of each connection:\n\(xferLines.joined(separator: "\n"))")
            #expect(resets.isEmpty, "RST seen:\n\(resets.joined(separator: "\n"))")
            #expect(naiveLines.contains { $0.contains("Flags [R") }, "the naive client's RST:\n\(naiveLines)")
        }

        @Test("Standard input of unknown length: streamed whole, exit 0, no total")
        func standardInput() throws {
            let peer = PlainPeer(.greetAndReadAll)
            let process = XferProcess(["send", "--raw", "--json", "-", peer.address])
            // Written in pieces while xfer already sends: a stream whose length nobody knows.
            let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
            var sent: [UInt8] = []
            for _ in 0..<40 {
                let chunk = random.readData(ofLength: 50 << 10)
                sent += chunk
                try process.stdin.fileHandleForWriting.write(contentsOf: chunk)
            }
            let result = process.finish()
            #expect(result.status == 0, "\(result.stderr)")
            let end = try #require(peer.finish().first)
            expectSameBytes(end.bytes, sent)
            let events = jsonEvents(result.stdout)
            let done = try #require(events.last)
            #expect(done["verdict"] as? String == "delivered")
            #expect(done["total"] is NSNull, "standard input has no known size")
            #expect(done["acknowledged"] as? Int == sent.count)
            Self.expectSaneProgress(events, total: sent.count)
        }

        @Test("A quiet standard input is no timeout: waiting for the source is not waiting for the peer")
        func quietStandardInput() throws {
            let peer = PlainPeer(.greetAndReadAll)
            let process = XferProcess(["send", "--raw", "--json", "--timeout", "0.3", "-", peer.address])
            try process.stdin.fileHandleForWriting.write(contentsOf: Data("first\n".utf8))
            // Readiness: the first line is acknowledged. Then the source stays quiet for
            // longer than the timeout (the pause is the scenario, a slow source).
            try #require(process.stdout.wait { jsonEvents($0).contains { $0["acknowledged"] as? Int == 6 } })
            usleep(800_000)
            try process.stdin.fileHandleForWriting.write(contentsOf: Data("second\n".utf8))
            let result = process.finish()
            #expect(result.status == 0, "\(result.stderr)")
            let end = try #require(peer.finish().first)
            expectSameBytes(end.bytes, Array("first\nsecond\n".utf8))
        }

        // MARK: Never 0

        @Test(
            "To a peer that reads part and closes with unread data: never 0, a reset with what was acknowledged",
            arguments: [1, 64 << 10, 1 << 20, (2 << 20) - 1]
        )
        func partialReader(readLimit: Int) throws {
            let files = TemporaryDirectory()
            files.makeFile("payload", count: 2 << 20)
            let peer = PlainPeer(.readThenClose(readLimit))
            let result = xfer(["send", "--raw", "--json", files.file("payload"), peer.address])
            let end = try #require(peer.finish().first)
            #expect(end.bytes.count == readLimit)
            #expect(result.status != 0, "exit 0 for a peer that read \(readLimit) of \(2 << 20) bytes")
            #expect(result.status == 78, "\(result.stderr)")
            let done = try #require(jsonEvents(result.stdout).last)
            #expect(done["verdict"] as? String == "reset")
            let acknowledged = done["acknowledged"] as? Int ?? -1
            let written = done["written"] as? Int ?? -1
            // Even when every byte was acknowledged (the peer's kernel had them all, its
            // application did not read the last), the reset makes it 78.
            #expect(acknowledged >= 0 && acknowledged <= written && written <= 2 << 20, "\(done)")
            #expect(result.stderr.contains("reset the connection"), "\(result.stderr)")
            #expect(result.stderr.contains("\(acknowledged) of the \(written) bytes"), "\(result.stderr)")
        }

        @Test("To a peer that accepts and resets at once: 78, and the message says so")
        func resetAtOnce() throws {
            let files = TemporaryDirectory()
            files.makeFile("payload", count: 2 << 20)
            // Several runs: the reset may come before the connect call returns (ECONNRESET in
            // SO_ERROR: still a reset, not "cannot connect") or after the first writes.
            let runs = 8
            let peer = PlainPeer(.resetAtOnce, connections: runs)
            for run in 0..<runs {
                let result = xfer(["send", "--raw", "--json", files.file("payload"), peer.address])
                #expect(result.status == 78, "run \(run): \(result.stderr)")
                let done = try #require(jsonEvents(result.stdout).last)
                #expect(done["verdict"] as? String == "reset")
                #expect((done["acknowledged"] as? Int ?? Int.max) <= (done["written"] as? Int ?? -1), "\(done)")
                #expect(result.stderr.contains("the peer reset the connection"), "\(result.stderr)")
            }
            _ = peer.finish()
        }

        @Test("To a peer that never reads and never closes, small enough for its kernel: 80, acknowledged")
        func acknowledgedNotClosed() throws {
            let files = TemporaryDirectory()
            let bytes = files.makeFile("payload", count: 100_000)
            let peer = PlainPeer(.holdUnread, receiveBuffer: 1 << 20)
            let started = Date()
            let result = xfer(["send", "--raw", "--json", "--timeout", "1", files.file("payload"), peer.address])
            let seconds = Date().timeIntervalSince(started)
            #expect(result.status == 80, "\(result.stderr)")
            let done = try #require(jsonEvents(result.stdout).last)
            #expect(done["verdict"] as? String == "acknowledged_not_closed")
            #expect(done["acknowledged"] as? Int == bytes.count)
            #expect(result.stderr.contains("reached the peer's kernel"), "\(result.stderr)")
            #expect(seconds >= 1 && seconds < 10, "decided after the 1 s timeout: \(seconds) s")
            // The peer's kernel did have every byte: read now, they are all there, and the
            // connection ends cleanly (xfer closed normally after its FIN).
            let end = try #require(peer.finish().first)
            expectSameBytes(end.bytes, bytes)
            #expect(end.error == 0)
        }

        @Test("To a peer that never reads a large stream: 79, the window named, and the peer sees a reset")
        func notAcknowledged() throws {
            let files = TemporaryDirectory()
            files.makeFile("payload", count: 16 << 20)
            let peer = PlainPeer(.holdUnread, receiveBuffer: 64 << 10)
            let result = xfer(["send", "--raw", "--json", "--timeout", "1", files.file("payload"), peer.address])
            #expect(result.status == 79, "\(result.stderr)")
            let done = try #require(jsonEvents(result.stdout).last)
            #expect(done["verdict"] as? String == "not_acknowledged")
            #expect((done["acknowledged"] as? Int ?? Int.max) < 16 << 20)
            #expect(done["peer_window_closed"] as? Bool == true, "\(done)")
            #expect(result.stderr.contains("receive window is closed"), "\(result.stderr)")
            #expect(result.stderr.contains("not fully sent"), "\(result.stderr)")
            // Given up before the whole source was written: the peer must not see a clean end.
            let end = try #require(peer.finish().first)
            #expect(end.error == ECONNRESET, "the peer saw \(end.error == 0 ? "a clean end" : "errno \(end.error)")")
            #expect(end.bytes.count < 16 << 20)
        }

        @Test("To a dead port: 69, nothing sent")
        func deadPort() {
            let files = TemporaryDirectory()
            files.makeFile("payload", count: 1000)
            let dead = BoundPort()
            let result = xfer(["send", "--raw", "--json", files.file("payload"), "127.0.0.1:\(dead.port)"])
            #expect(result.status == 69, "\(result.stderr)")
            #expect(result.stderr.contains("cannot connect"), "\(result.stderr)")
            #expect(jsonEvents(result.stdout).last?["verdict"] as? String == "cannot_connect")
        }

        @Test("Ctrl-C while the source is not fully written: 130, and the peer sees a reset, not a short stream")
        func interruptResets() throws {
            let files = TemporaryDirectory()
            files.makeFile("payload", count: 16 << 20)
            let peer = PlainPeer(.holdUnread, receiveBuffer: 64 << 10)
            let sender = UnblockedXfer(["send", "--raw", "--json", files.file("payload"), peer.address])
            // Readiness: a progress event, so the connection is up and bytes are written.
            try #require(sender.stdout.wait(for: "\"event\":\"progress\""), "\(sender.stderr.text)")
            sender.signal(SIGINT)
            let status = sender.wait()
            #expect(status == 130, "\(sender.stderr.text)")
            #expect(sender.stderr.text.contains("connection was reset"), "\(sender.stderr.text)")
            #expect(jsonEvents(sender.stdout.text).last?["verdict"] as? String == "interrupted")
            let end = try #require(peer.finish().first)
            #expect(end.error == ECONNRESET, "the peer saw \(end.error == 0 ? "a clean end" : "errno \(end.error)")")
        }

        // MARK: The command line

        @Test(
            "Raw usage errors exit 64 with one sentence and the raw usage line",
            arguments: [
                (["send", "--raw"], "missing PATH"),
                (["send", "--raw", "/etc/hostname"], "missing HOST:PORT"),
                (["send", "--raw", "/etc/hostname", "/etc/hosts", "127.0.0.1:9"], "one stream"),
                (["send", "--raw", "/etc/hostname", "localhost"], "needs a port"),
                (["send", "--raw", "/etc", "127.0.0.1:9"], "is a directory"),
                (["send", "--raw", "--name", "x", "-", "127.0.0.1:9"], "'--name' has no meaning with --raw"),
                (["send", "--raw", "--no-resume", "-", "127.0.0.1:9"], "'--no-resume' has no meaning"),
                (["send", "--raw", "--json", "--show-reply", "-", "127.0.0.1:9"], "--show-reply"),
                (["send", "--raw", "--timeout", "0", "-", "127.0.0.1:9"], "--timeout"),
            ]
        )
        func usageErrors(arguments: [String], message: String) {
            let result = xfer(arguments)
            #expect(result.status == 64, "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stderr.contains("USAGE: xfer send --raw"), "\(result.stderr)")
        }

        @Test("A missing file exits 74 before connecting; --json still ends with done")
        func missingFile() {
            let result = xfer(["send", "--raw", "--json", "/no/such/file", "127.0.0.1:9"])
            #expect(result.status == 74)
            #expect(result.stderr.contains("'/no/such/file'"))
            let done = jsonEvents(result.stdout).last
            #expect(done?["event"] as? String == "done" && done?["exit"] as? Int == 74, "\(result.stdout)")
        }

        @Test("Help documents raw mode, its exit codes and what it cannot prove")
        func help() {
            let raw = xfer(["send", "--raw", "--help"])
            #expect(raw.status == 0)
            for needle in ["SIOCOUTQ", "78", "79", "80", "application", "--show-reply", "PATH|- HOST:PORT"] {
                #expect(raw.stdout.contains(needle), "\(needle)")
            }
            let root = xfer(["--help"])
            for needle in ["send --raw", "demo --naive", "78", "79", "80"] {
                #expect(root.stdout.contains(needle), "\(needle)")
            }
            #expect(xfer(["send", "--help"]).stdout.contains("--raw"))
        }

        // MARK: The seed failure on screen

        @Test("xfer demo --naive: its numbers are printed here; raw mode and xfer send tell the truth")
        func naiveDemo() {
            let result = xfer(["demo", "--naive"])
            print(result.stdout)
            #expect(result.status == 0, "the demo found a claim that did not hold:\n\(result.stdout)\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            // Five naive runs, each saying what write() returned and what the receiver got.
            let naive = lines.filter { $0.contains("write() returned 1000000; the receiver got") }
            #expect(naive.count == 5, "\(result.stdout)")
            // xfer's verdicts, not the kernel's loss: raw mode says 0 for the receiver that read
            // everything, 78 for the one that quit early; xfer's protocol confirms.
            #expect(result.stdout.contains("The raw verdicts here: 0, 78; xfer send: 0."), "\(result.stdout)")
            #expect(result.stdout.contains("the receiver got 1000000 bytes, then end of stream"))
            #expect(result.stdout.contains("byte-for-byte identical"))
            #expect(!result.stdout.contains("WRONG"))
        }

        // MARK: Helpers

        /// Progress events: acknowledged never decreases, never passes written, and ends at the total.
        static func expectSaneProgress(_ events: [[String: Any]], total: Int) {
            let progress = events.filter { $0["event"] as? String == "progress" }
            #expect(!progress.isEmpty)
            var last = 0
            for event in progress {
                let acknowledged = event["acknowledged"] as? Int ?? -1
                let written = event["written"] as? Int ?? -1
                #expect(acknowledged >= last && acknowledged <= written && written <= total, "\(event)")
                last = acknowledged
            }
            #expect(last == total, "the last progress event shows every byte acknowledged")
        }
    }
}

/// Whether a tool the raw-mode tests need can be used. Without it the test is skipped
/// with a printed reason, except in CI, where it runs to fail.
func rawToolUsable(_ name: String) -> Bool {
    if commandExists(name) { return true }
    if ProcessInfo.processInfo.environment["CI"] != nil { return true }
    print("RawMode: a test is skipped: \(name) is not installed (and CI is not set)")
    return false
}

/// A plain TCP peer played by threads of this process: accepts `connections` connections
/// on 127.0.0.1 one after another and treats each the same way.
final class PlainPeer: @unchecked Sendable {
    /// What the peer's application does with a connection.
    enum Behaviour {
        /// Sends ``greeting``, pauses 50 ms (a busy server: the scenario, not
        /// synchronisation), reads until end of stream, closes.
        case greetAndReadAll
        /// Reads exactly this many bytes, then closes with whatever else is queued unread.
        case readThenClose(Int)
        /// Neither reads nor closes until ``finish()``; then reads until the end.
        case holdUnread
        /// Accepts and resets at once (`SO_LINGER` 0).
        case resetAtOnce
    }

    /// How one connection ended for the peer: the bytes it read, and the error that ended
    /// its reading (0: end of stream or its own close).
    struct End {
        var bytes: [UInt8] = []
        var error: CInt = 0
    }

    static let greeting = "220 Welcome\r\n"

    let port: UInt16
    private let listener: RawListener
    private let release = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var ends: [End] = []

    var address: String { "127.0.0.1:\(port)" }

    init(_ behaviour: Behaviour, connections: Int = 1, receiveBuffer: CInt? = nil) {
        let listener = RawListener()
        if var size = receiveBuffer {
            setsockopt(listener.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        self.listener = listener
        port = listener.port
        Thread { [self] in
            for _ in 0..<connections {
                let client = accept(listener.fd, nil, nil)
                guard client >= 0 else { break }
                let end = serve(client, behaviour)
                lock.withLock { ends.append(end) }
            }
            done.signal()
        }.start()
    }

    private func serve(_ client: CInt, _ behaviour: Behaviour) -> End {
        var end = End()
        switch behaviour {
        case .greetAndReadAll:
            let greeting = Array(Self.greeting.utf8)
            _ = greeting.withUnsafeBytes { send(client, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
            usleep(50_000)
            end = Self.read(client, limit: nil)
            close(client)
        case .readThenClose(let limit):
            end = Self.read(client, limit: limit)
            close(client)
        case .holdUnread:
            release.wait()
            end = Self.read(client, limit: nil)
            close(client)
        case .resetAtOnce:
            var value = linger(l_onoff: 1, l_linger: 0)
            setsockopt(client, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
            close(client)
        }
        return end
    }

    private static func read(_ fd: CInt, limit: Int?) -> End {
        var end = End()
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while limit.map({ end.bytes.count < $0 }) ?? true {
            let want = min(buffer.count, (limit ?? Int.max) - end.bytes.count)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, 0) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                end.error = errno
                break
            }
            end.bytes += buffer[..<count]
        }
        return end
    }

    /// Lets a holding peer read, waits until every connection ended (at most 60 s), and
    /// returns how each ended.
    func finish() -> [End] {
        release.signal()
        if done.wait(timeout: .now() + 60) == .timedOut { Issue.record("the peer did not see its connections end") }
        return lock.withLock { ends }
    }
}

/// A port bound on 127.0.0.1 with nothing listening: connecting is refused.
final class BoundPort {
    let fd: CInt
    let port: UInt16

    init() {
        fd = socket(AF_INET, streamSocketType, 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let descriptor = fd
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(descriptor, $0, length)
                _ = getsockname(descriptor, $0, &length)
            }
        }
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }
}

/// `xfer` with no signal blocked, so that SIGINT reaches it (test threads block SIGINT and
/// children inherit the mask): started through python3, which clears the mask and execs.
final class UnblockedXfer {
    let process = Process()
    private let exited = DispatchSemaphore(value: 0)
    let stdout: PipeCollector
    let stderr: PipeCollector

    init(_ arguments: [String]) {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", "-c",
                "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                xferBinary,
            ] + arguments
        (stdout, stderr) = collectOutput(of: process)
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        try! process.run()
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit, at most 30 s (then it is killed and recorded), and returns the status.
    func wait() -> Int32 {
        if exited.wait(timeout: .now() + 30) == .timedOut {
            Issue.record("xfer did not exit within 30 s; killed")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
