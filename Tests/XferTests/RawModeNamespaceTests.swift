import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration.RawMode {
    /// A real link with a rate limit, so that acknowledgements lag writes: two network
    /// namespaces of our own joined by a veth pair, the sender's side shaped by `tbf`. Every
    /// packet stays inside the two namespaces (10.200.7.0/24 exists only there).
    @Test(
        "Over a tbf-limited namespace pair: progress counts acknowledged bytes, far behind written ones; 0 at the end",
        .enabled(if: namespacesUsable)
    )
    func rateLimitedLink() throws {
        guard rawToolUsable("nc"), let link = NamespacePair(rate: "24mbit") else { return }
        let files = TemporaryDirectory()
        let size = 3 << 20
        let bytes = files.makeFile("payload", count: size)
        _ = FileManager.default.createFile(atPath: files.file("received"), contents: nil)
        let netcat = link.start(
            in: link.receiver,
            ["nc", "-n", "-v", "-l", NamespacePair.receiverAddress, "9100"],
            output: files.file("received")
        )
        defer { link.stop(netcat) }
        // nc says "Listening" once it listens: the readiness signal.
        try #require(netcat.errors.wait(for: "Listening"), "\(netcat.errors.text)")
        let started = Date()
        let result = link.run(
            in: link.sender,
            [xferBinary, "send", "--raw", "--json", files.file("payload"), "\(NamespacePair.receiverAddress):9100"]
        )
        let seconds = Date().timeIntervalSince(started)
        netcat.process.waitUntilExit()
        #expect(result.status == 0, "\(result.stderr)")
        expectSameBytes(files.contents("received"), bytes)
        let events = jsonEvents(result.stdout)
        Self.expectSaneProgress(events, total: size)
        let progress = events.filter { $0["event"] as? String == "progress" }
        let lags = progress.map { ($0["written"] as? Int ?? 0) - ($0["acknowledged"] as? Int ?? 0) }
        let acknowledged = Set(progress.compactMap { $0["acknowledged"] as? Int })
        let maxLag = lags.max() ?? 0
        print(
            "RawMode tbf 24 Mbit/s: \(size) bytes in \(String(format: "%.2f", seconds)) s, \(progress.count) "
                + "progress events, \(acknowledged.count) distinct acknowledged figures, written ahead of "
                + "acknowledged by up to \(maxLag) bytes"
        )
        // 3 MiB at 24 Mbit/s takes about 1 s: the limit applied, and acknowledgements trailed.
        #expect(seconds >= 0.8, "the rate limit did not apply: \(seconds) s")
        #expect(maxLag >= 256 << 10, "written was never far ahead of acknowledged: \(lags)")
        #expect(acknowledged.count >= 3, "acknowledged bytes grew in steps: \(acknowledged.sorted())")
    }

    @Test(
        "On a terminal, the progress line counts acknowledged bytes, behind the written ones",
        .enabled(if: namespacesUsable && commandExists("script"))
    )
    func rateLimitedProgressLine() throws {
        guard rawToolUsable("nc"), let link = NamespacePair(rate: "24mbit") else { return }
        let files = TemporaryDirectory()
        files.makeFile("payload", count: 3 << 20)
        let netcat = link.start(
            in: link.receiver,
            ["nc", "-n", "-v", "-l", NamespacePair.receiverAddress, "9100"],
            output: nil
        )
        defer { link.stop(netcat) }
        try #require(netcat.errors.wait(for: "Listening"), "\(netcat.errors.text)")
        // util-linux script gives the sender a pseudo-terminal, so it draws its line.
        let command =
            "ip netns exec \(link.sender) \(xferBinary) send --raw \(files.file("payload")) "
            + "\(NamespacePair.receiverAddress):9100"
        let result = shell("script -qfec \"\(command)\" /dev/null </dev/null")
        #expect(result.stdout.contains("delivered to the peer's TCP"), "\(result.stdout.debugDescription)")
        // Each redraw starts with "\r\u{1B}[K": the lines the terminal showed in turn.
        let lines = result.stdout.components(separatedBy: "\r\u{1B}[K").filter { $0.contains("acknowledged (") }
        #expect(!lines.isEmpty, "no progress line: \(result.stdout.debugDescription)")
        // "xfer: 40% 1.2 MiB/3.0 MiB acknowledged (2.3 MiB written) 1.9 MiB/s": at some point
        // the acknowledged share is well below what was written.
        let behind = lines.contains { line in
            guard let percent = Int(line.split(separator: " ").dropFirst().first?.dropLast() ?? "") else {
                return false
            }
            return percent < 100 && line.contains("written)")
        }
        #expect(behind, "\(lines)")
        print("RawMode progress line, as drawn: \(lines.prefix(3).map(\.debugDescription))")
    }

    @Test(
        "Over the tbf-limited pair, a peer that quits early: 78, with what was acknowledged, not what was written",
        .enabled(if: namespacesUsable)
    )
    func rateLimitedEarlyQuit() throws {
        guard rawToolUsable("python3"), let link = NamespacePair(rate: "24mbit") else { return }
        let files = TemporaryDirectory()
        let size = 3 << 20
        files.makeFile("payload", count: size)
        let read = 256 << 10
        let script = """
            import socket, sys
            listener = socket.create_server(("\(NamespacePair.receiverAddress)", 9100))
            print("listening", file=sys.stderr, flush=True)
            connection, _ = listener.accept()
            got = 0
            while got < \(read):
                chunk = connection.recv(\(read) - got)
                if not chunk: break
                got += len(chunk)
            print("read", got, file=sys.stderr, flush=True)
            connection.close()
            """
        let peer = link.start(in: link.receiver, ["python3", "-c", script], output: nil)
        defer { link.stop(peer) }
        try #require(peer.errors.wait(for: "listening"), "\(peer.errors.text)")
        let result = link.run(
            in: link.sender,
            [xferBinary, "send", "--raw", "--json", files.file("payload"), "\(NamespacePair.receiverAddress):9100"]
        )
        #expect(result.status == 78, "\(result.stderr)")
        #expect(peer.errors.wait(for: "read \(read)"), "\(peer.errors.text)")
        let done = try #require(jsonEvents(result.stdout).last)
        let acknowledged = done["acknowledged"] as? Int ?? -1
        let written = done["written"] as? Int ?? -1
        print(
            "RawMode tbf early quit: the peer read \(read) bytes; xfer wrote \(written), acknowledged \(acknowledged)"
        )
        #expect(done["verdict"] as? String == "reset")
        #expect(acknowledged >= 0 && acknowledged < written, "\(done)")
        #expect(result.stderr.contains("\(acknowledged) of the \(written) bytes"), "\(result.stderr)")
    }
}

/// Whether network namespaces can be made here (root, and `ip netns` works). Without them
/// the tests are skipped with a printed reason, except in CI, where they run to fail.
let namespacesUsable: Bool = {
    if getuid() == 0 && commandExists("ip") && commandExists("tc") && shell("ip netns list").status == 0 {
        return true
    }
    if ProcessInfo.processInfo.environment["CI"] != nil { return true }
    print("RawMode namespace tests skipped: they need root, ip netns and tc (and CI is not set)")
    return false
}()

/// Two fresh network namespaces joined by a veth pair: the sender's end is 10.200.7.1 and
/// shaped by a `tbf` qdisc, the receiver's end is 10.200.7.2. Removed at deinit (with the
/// namespaces go the veth pair and the qdisc).
final class NamespacePair {
    static let senderAddress = "10.200.7.1"
    static let receiverAddress = "10.200.7.2"

    let sender = "xfer-raw-\(getpid())-s"
    let receiver = "xfer-raw-\(getpid())-r"
    private var created: [String] = []

    /// A process started inside a namespace, and its stderr.
    struct Started {
        let process: Process
        let errors: PipeCollector
    }

    /// Builds the pair; records an issue and returns nil when a step fails.
    /// - Parameter rate: The `tbf` rate of the sender's egress, as `tc` spells it.
    init?(rate: String) {
        let senderLink = "xr\(getpid())s"
        let receiverLink = "xr\(getpid())r"
        let steps = [
            "ip netns add \(sender)", "ip netns add \(receiver)",
            "ip link add \(senderLink) netns \(sender) type veth peer name \(receiverLink) netns \(receiver)",
            "ip -n \(sender) addr add \(Self.senderAddress)/24 dev \(senderLink)",
            "ip -n \(receiver) addr add \(Self.receiverAddress)/24 dev \(receiverLink)",
            "ip -n \(sender) link set lo up", "ip -n \(receiver) link set lo up",
            "ip -n \(sender) link set \(senderLink) up", "ip -n \(receiver) link set \(receiverLink) up",
            "tc -n \(sender) qdisc add dev \(senderLink) root tbf rate \(rate) burst 32kb latency 50ms",
        ]
        for step in steps {
            let result = shell(step)
            if step.hasPrefix("ip netns add") && result.status == 0 {
                created.append(String(step.split(separator: " ")[3]))
            }
            if result.status != 0 {
                Issue.record("namespace setup failed: \(step): \(result.stderr)")
                remove()
                return nil
            }
        }
    }

    deinit { remove() }

    /// Deletes the namespaces this object created (once).
    private func remove() {
        for name in created { shell("ip netns del \(name)") }
        created = []
    }

    /// Starts `command` inside `namespace`; its stdout goes to `output` (or nowhere).
    func start(in namespace: String, _ command: [String], output: String?) -> Started {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", namespace] + command
        process.standardOutput = output.flatMap { FileHandle(forWritingAtPath: $0) } ?? FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        let collector = PipeCollector(errors)
        try! process.run()
        return Started(process: process, errors: collector)
    }

    /// Ends a process started by ``start(in:_:output:)`` (by its ID) if it still runs.
    func stop(_ started: Started) {
        if started.process.isRunning { kill(started.process.processIdentifier, SIGKILL) }
        started.process.waitUntilExit()
    }

    /// Runs `command` inside `namespace` to completion.
    func run(in namespace: String, _ command: [String]) -> Finished {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", namespace] + command
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let stdout = PipeCollector(out)
        let stderr = PipeCollector(err)
        try! process.run()
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, stdout: stdout.waitForEnd(), stderr: stderr.waitForEnd())
    }
}
