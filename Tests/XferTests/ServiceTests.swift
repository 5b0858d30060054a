import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// `xfer receive` as a systemd service: socket activation, readiness notification and
    /// journal priorities, with scripts/socket-activate.py playing systemd's part (it binds
    /// the socket, passes it as descriptor 3 with LISTEN_FDS and LISTEN_PID, and keeps its
    /// own copy), and the unit files in contrib/systemd checked by systemd-analyze.
    @Suite(.enabled(if: serviceToolsPresent(), "python3 is not installed (and CI is not set)"))
    struct Service {
        @Test("A listening socket passed as systemd does is served; READY=1 once it serves, STOPPING=1 on SIGTERM")
        func socketActivationAndReadiness() throws {
            let notify = try NotifySocket(abstract: true)
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("nightly.dump", count: 3 << 20)
            let service = ActivatedReceiver(
                ["receive", "--dir", target.path],
                environment: ["NOTIFY_SOCKET": notify.address]
            )
            let port = try #require(service.port, "\(service.stdout.text)\(service.stderr.text)")
            let ready = notify.receive()
            #expect(ready?.split(separator: "\n").contains("READY=1") == true, "got \(ready ?? "nothing")")
            #expect(ready?.contains("STATUS=listening on 127.0.0.1:\(port)") == true)
            // READY=1 comes after the listening line: a unit ordered after this one finds it serving.
            #expect(service.stderr.text.contains("xfer: listening on 127.0.0.1:\(port)"), "\(service.stderr.text)")

            let sent = xfer(["send", source.file("nightly.dump"), "127.0.0.1:\(port)"])
            #expect(sent.status == 0, "\(sent.stderr)")
            expectSameBytes(target.contents("nightly.dump"), bytes)

            service.send(SIGTERM)
            #expect(notify.receive() == "STOPPING=1")
            let ended = service.finish()
            #expect(ended.status == 0, "\(ended.stderr)")
            // The manager's socket survives the service, as the next activation needs.
            #expect(ended.stdout.contains("manager: socket still listening"), "\(ended.stdout)")
            // Not on the journal: plain lines with their own time stamps, no priorities.
            #expect(!ended.stderr.contains("<5>"))
            #expect(ended.stderr.contains("Z xfer: listening on 127.0.0.1:\(port)"))
        }

        @Test("Activation meant for another process is ignored; a datagram or non-listening socket is refused")
        func activationChecks() throws {
            let target = TemporaryDirectory()
            // LISTEN_PID names the manager, not xfer: xfer listens where --listen says.
            let other = ActivatedReceiver(
                ["receive", "--dir", target.path, "--listen", "127.0.0.1:0"],
                options: ["--pid", "other"]
            )
            let passed = try #require(other.port)
            #expect(other.stderr.wait(for: "listening on"), "\(other.stderr.text)")
            #expect(!other.stderr.text.contains("listening on 127.0.0.1:\(passed)"), "\(other.stderr.text)")
            other.send(SIGTERM)
            #expect(other.finish().status == 0)

            for (kind, problem) in [("udp", "is not a stream socket"), ("bound", "is not listening")] {
                let refused = ActivatedReceiver(["receive", "--dir", target.path], options: ["--kind", kind]).finish()
                #expect(refused.status == 74, "\(kind): \(refused.stderr)")
                #expect(refused.stderr.contains("socket activation: descriptor 3 \(problem)"), "\(refused.stderr)")
            }

            // --listen and a passed socket contradict each other.
            let both = ActivatedReceiver(["receive", "--dir", target.path, "--listen", "127.0.0.1:0"]).finish()
            #expect(both.status == 64, "\(both.stderr)")
            #expect(both.stderr.contains("LISTEN_FDS"), "\(both.stderr)")
        }

        @Test("On the journal, every line starts with its syslog priority; NOTIFY_SOCKET may be a path")
        func journalPriorities() throws {
            let notify = try NotifySocket(abstract: false)
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            source.makeFile("ok", count: 1000)
            let service = ActivatedReceiver(
                ["receive", "--dir", target.path],
                options: ["--journal"],
                environment: ["NOTIFY_SOCKET": notify.address]
            )
            let port = try #require(service.port)
            #expect(notify.receive()?.hasPrefix("READY=1") == true)
            let sent = xfer(["send", source.file("ok"), "127.0.0.1:\(port)"])
            #expect(sent.status == 0, "\(sent.stderr)")
            // A file the receiver refuses (a directory holds its name): a warning.
            source.makeFile("taken", count: 10)
            mkdir(target.file("taken"), 0o755)
            let refused = xfer(["send", source.file("taken"), "127.0.0.1:\(port)"])
            #expect(refused.status != 0)
            service.send(SIGTERM)
            #expect(notify.receive() == "STOPPING=1")
            let log = service.finish().stderr
            let lines = log.split(separator: "\n")
            #expect(lines.contains("<5>xfer: listening on 127.0.0.1:\(port)"), "\(log)")
            #expect(lines.contains { $0.hasPrefix("<6>xfer: ") && $0.contains("committed 'ok'") }, "\(log)")
            #expect(lines.contains { $0.hasPrefix("<4>xfer: ") && $0.contains("refused") }, "\(log)")
            #expect(lines.contains { $0.hasPrefix("<5>xfer: stopped") }, "\(log)")
            #expect(lines.allSatisfy { $0.hasPrefix("<") }, "every line has a priority: \(log)")

            // A failure to start is an error (3); with --log-json the prefix comes before the object.
            let failed = ActivatedReceiver(
                ["receive", "--dir", target.file("missing"), "--log-json"],
                options: ["--journal"]
            )
            .finish()
            #expect(failed.status == 74)
            #expect(failed.stderr.hasPrefix("<3>{"), "\(failed.stderr)")
        }

        @Test("A manager whose notification queue is full neither stops the receiver serving nor stopping")
        func fullNotifyQueue() throws {
            let notify = try NotifySocket(abstract: true)
            #expect(notify.fill() > 0)
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("f.bin", count: 100_000)
            let service = ActivatedReceiver(
                ["receive", "--dir", target.path],
                environment: ["NOTIFY_SOCKET": notify.address]
            )
            let port = try #require(service.port)
            let sent = xfer(["send", "--timeout", "5", source.file("f.bin"), "127.0.0.1:\(port)"])
            #expect(sent.status == 0, "\(sent.stderr)")
            expectSameBytes(target.contents("f.bin"), bytes)
            service.send(SIGTERM)
            let ended = service.finish()
            #expect(ended.status == 0, "\(ended.stderr)")
            #expect(ended.stderr.contains("cannot notify the service manager"), "\(ended.stderr)")
        }

        @Test("The unit files pass systemd-analyze verify and carry the sandbox")
        func unitFiles() throws {
            let units = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("contrib/systemd").path
            let service = try String(contentsOfFile: units + "/xfer-receive.service", encoding: .utf8)
            for directive in [
                "Type=notify", "ProtectSystem=strict", "ReadWritePaths=/srv/inbox", "NoNewPrivileges=yes",
                "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "User=xfer",
                "ExecStart=/usr/local/bin/xfer receive --dir /srv/inbox",
            ] {
                #expect(service.split(separator: "\n").contains { $0.hasPrefix(directive) }, "\(directive) missing")
            }
            let socket = try String(contentsOfFile: units + "/xfer-receive.socket", encoding: .utf8)
            #expect(socket.split(separator: "\n").filter { $0.hasPrefix("ListenStream=") }.count == 1)

            guard commandExists("systemd-analyze") else {
                let reason =
                    "systemd-analyze is not installed (Debian: apt-get install systemd): the units were not verified"
                if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("\(reason)") } else { print(reason) }
                return
            }
            // verify checks that ExecStart= names an executable: the one just built stands in
            // for /usr/local/bin/xfer. Unknown or misspelt directives are only printed, so
            // any output at all fails the test.
            let copy = TemporaryDirectory()
            try service.replacingOccurrences(of: "/usr/local/bin/xfer", with: xferBinary)
                .write(toFile: copy.file("xfer-receive.service"), atomically: true, encoding: .utf8)
            try socket.write(toFile: copy.file("xfer-receive.socket"), atomically: true, encoding: .utf8)
            let verified = shell(
                "systemd-analyze verify --man=no '\(copy.file("xfer-receive.socket"))' '\(copy.file("xfer-receive.service"))'"
            )
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
            #expect(verified.stdout.isEmpty && verified.stderr.isEmpty, "\(verified.stdout)\(verified.stderr)")
        }
    }
}

/// Whether the service tests can run: they need python3 (scripts/socket-activate.py); in
/// CI they run to fail without it.
private func serviceToolsPresent() -> Bool {
    if commandExists("python3") || ProcessInfo.processInfo.environment["CI"] != nil { return true }
    print("Service tests skipped: python3 is not installed (and CI is not set)")
    return false
}

/// `xfer ARGUMENTS` started by scripts/socket-activate.py, which plays systemd: the
/// socket-activate options choose the socket and the variables.
private final class ActivatedReceiver {
    let process = Process()
    let stdout: PipeCollector
    let stderr: PipeCollector
    /// The port of the socket the manager passed (its first line on stdout).
    let port: UInt16?

    init(_ arguments: [String], options: [String] = [], environment: [String: String] = [:]) {
        Glibc.signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scriptPath("socket-activate.py")] + options + ["--", xferBinary] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        (stdout, stderr) = collectOutput(of: process)
        try! process.run()
        if stdout.wait(for: "\n"), let line = stdout.text.split(separator: "\n").first, line.hasPrefix("port ") {
            port = UInt16(line.dropFirst(5))
        } else {
            port = nil
        }
        // A receiver that started says so: the tests that send wait for it.
        if port != nil && !arguments.contains("--log-json") { _ = stderr.wait(for: "listening on", seconds: 10) }
    }

    /// Signals the manager, which passes the signal on to xfer.
    func send(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the manager (and so xfer) to end: at most 30 s, then it is stopped and the
    /// test fails (a receiver that should have refused its socket and serves instead must
    /// fail the test, not hang it).
    func finish() -> Finished {
        if !waitUntil({ !process.isRunning }) {
            Issue.record("xfer did not exit within 30 s: \(stderr.text)")
            // xfer first (it may ignore what the manager forwards), then the manager: nothing
            // may keep the output pipes open.
            _ = shell("pkill -KILL -P \(process.processIdentifier)")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, stdout: stdout.waitForEnd(), stderr: stderr.waitForEnd())
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }
}

/// The service manager's end of `NOTIFY_SOCKET`: a Unix datagram socket bound to an
/// abstract name (`@…`) or to a path.
private final class NotifySocket {
    let fd: CInt
    /// The value for `NOTIFY_SOCKET`.
    let address: String
    private let directory = TemporaryDirectory()

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue), 0)
        address =
            abstract ? "@xfer-test-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : directory.file("notify")
        var local = sockaddr_un()
        local.sun_family = sa_family_t(AF_UNIX)
        var path = Array(address.utf8)
        if abstract { path[0] = 0 }
        withUnsafeMutableBytes(of: &local.sun_path) { $0.copyBytes(from: path) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (abstract ? 0 : 1)
        let status = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// Fills the socket's queue with datagrams nobody reads, as a manager that hangs would
    /// leave it. Returns how many it took.
    func fill() -> Int {
        var local = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let sender = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue), 0)
        defer { close(sender) }
        var count = 0
        while count < 100_000 {
            let sent = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(sender, "X=1", 3, dontWaitFlag, $0, length)
                }
            }
            if sent < 0 { break }
            count += 1
        }
        return count
    }

    /// The next datagram, or `nil` after `seconds` without one.
    func receive(seconds: Int = 20) -> String? {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count < 0 ? nil : String(decoding: buffer[..<count], as: UTF8.self)
    }

    deinit { close(fd) }
}
