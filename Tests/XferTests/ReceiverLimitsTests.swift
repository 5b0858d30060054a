import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Cheap denial of service, tried for real on loopback: each attack runs, then a
    /// legitimate sender must get through while it goes on.
    @Suite struct ReceiverLimits {
        /// A TCP connection to the receiver from a chosen loopback source address
        /// (127.0.0.0/8 is all loopback: one machine, many "peers").
        final class Peer: @unchecked Sendable {
            let fd: CInt

            init?(from source: String, to port: UInt16) {
                fd = socket(AF_INET, streamSocketType, 0)
                var local = sockaddr_in()
                local.sin_family = sa_family_t(AF_INET)
                local.sin_addr.s_addr = inet_addr(source)
                var remote = sockaddr_in()
                remote.sin_family = sa_family_t(AF_INET)
                remote.sin_port = port.bigEndian
                remote.sin_addr.s_addr = inet_addr("127.0.0.1")
                let bound = withUnsafePointer(to: &local) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                let connected = withUnsafePointer(to: &remote) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                if bound != 0 || connected != 0 {
                    Glibc.close(fd)
                    return nil
                }
            }

            func send(_ bytes: [UInt8]) {
                _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
            }

            /// The first record the server sends after its preamble, within `seconds`.
            func firstRecord(seconds: Int) -> Record? {
                var timeout = timeval(tv_sec: seconds, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var decoder = RecordDecoder()
                var buffer = [UInt8](repeating: 0, count: 4096)
                var found: Record?
                while found == nil {
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    guard count > 0 else { return nil }
                    try? decoder.feed(buffer[..<count]) { message in
                        if case .record(let record) = message, found == nil { found = record }
                    }
                }
                return found
            }

            deinit { Glibc.close(fd) }
        }

        /// Threads of a process, from /proc.
        static func threads(of pid: Int32) -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
            return Int(line?.split(separator: "\t").last.map(String.init) ?? "") ?? -1
        }

        static func expectSendWorks(_ receiver: ReceiverProcess, _ target: TemporaryDirectory, _ label: String) {
            let source = TemporaryDirectory()
            let bytes = source.makeFile("legit.bin", count: 100_000)
            let started = Date()
            let result = xfer(["send", "--timeout", "5", source.file("legit.bin"), receiver.address])
            #expect(result.status == 0, "\(label): \(result.stderr)")
            expectSameBytes(target.contents("legit.bin"), bytes, "\(label)")
            #expect(Date().timeIntervalSince(started) < 5, "\(label): the legitimate send waited")
        }

        @Test("70 peers trickling a byte every 0.5 s: a real sender gets through at once; tricklers time out")
        func slowTrickle() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--handshake-timeout", "3"])
            // The start of a preamble, one byte at a time, from 70 different addresses.
            let peers = (2..<72).compactMap { Peer(from: "127.0.0.\($0)", to: receiver.port) }
            try #require(peers.count == 70, "could not open 70 trickling connections")
            let preamble = Preamble().bytes
            let trickling = Thread {
                for index in 0..<preamble.count - 1 {
                    for peer in peers { peer.send([preamble[index]]) }
                    usleep(500_000)
                }
            }
            trickling.start()
            Self.expectSendWorks(receiver, target, "during the trickle")
            // Every trickler is dropped by the handshake deadline: without a word, as a
            // peer that never sent a whole preamble is not known to speak xfer.
            let dropped = peers.prefix(5).map { peer -> Bool in
                var timeout = timeval(tv_sec: 8, tv_usec: 0)
                setsockopt(peer.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var byte: UInt8 = 0
                let count = recv(peer.fd, &byte, 1, 0)
                // EOF, or a reset if a trickled byte met the closed socket.
                return count == 0 || (count < 0 && errno == ECONNRESET)
            }
            #expect(dropped.allSatisfy { $0 }, "tricklers were not dropped by the handshake deadline: \(dropped)")
            // The log is read from the receiver's stderr by another thread: it may lag the close.
            #expect(receiver.xfer.stderr.wait(for: "no complete handshake within 3 s"), "\(receiver.log)")
        }

        @Test("128 silent peers filling every handshake slot: a real sender evicts the oldest and is served at once")
        func fullHandshakeTable() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--handshake-timeout", "30"])
            // 16 per address (the per-address limit) from 8 addresses: all 128 slots held.
            var peers: [Peer] = []
            for index in 0..<128 {
                guard let peer = Peer(from: "127.0.0.\(40 + index / 16)", to: receiver.port) else { break }
                peers.append(peer)
            }
            try #require(peers.count == 128)
            for round in 0..<3 {
                Self.expectSendWorks(receiver, target, "round \(round) with every handshake slot held")
                try FileManager.default.removeItem(atPath: target.file("legit.bin"))
                // The attacker reopens what was evicted: the table is full again.
                peers = peers.filter { peer in
                    var probe = pollfd(fd: peer.fd, events: Int16(POLLIN), revents: 0)
                    return poll(&probe, 1, 0) == 0
                }
                while peers.count < 128, let peer = Peer(from: "127.0.0.\(40 + peers.count / 16)", to: receiver.port) {
                    peers.append(peer)
                }
            }
            peers.removeAll()
        }

        @Test("One address opening 300 connections: the accepting thread turns the excess away, no thread each")
        func connectionBurst() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--handshake-timeout", "30"])
            let pid = receiver.xfer.process.processIdentifier
            let before = Self.threads(of: pid)
            var peers: [Peer] = []
            for _ in 0..<300 {
                guard let peer = Peer(from: "127.0.0.9", to: receiver.port) else { break }
                peers.append(peer)
            }
            try #require(peers.count == 300)
            // The 17th and later are told "busy" (after the server's preamble) and closed.
            let last = peers[299].firstRecord(seconds: 5)
            guard case .error(let error)? = last else {
                Issue.record("the 300th connection got \(String(describing: last))")
                return
            }
            #expect(error.code == .busy && error.fatal, "\(error)")
            #expect(error.message.contains("127.0.0.9"), "\(error.message)")
            let during = Self.threads(of: pid)
            #expect(during - before <= 16 + 4, "threads \(before) → \(during) for 300 connections")
            // Another address is served meanwhile.
            Self.expectSendWorks(receiver, target, "during the burst")
            peers.removeAll()
        }

        @Test(
            "No thread to be had (RLIMIT_NPROC): the connection is turned away and its slot freed; later sends work",
            .enabled(
                if: getuid() == 0 && commandExists("setpriv") && commandExists("prlimit"),
                "needs root, setpriv, prlimit"
            )
        )
        func threadsRunOut() throws {
            // As an unprivileged user (root ignores RLIMIT_NPROC) allowed 6 threads in all.
            let target = TemporaryDirectory()
            chown(target.path, 65534, 65534)
            let binary = target.file("xfer-unprivileged")
            try FileManager.default.copyItem(atPath: xferBinary, toPath: binary)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = [
                "--reuid=65534", "--regid=65534", "--clear-groups", "prlimit", "--nproc=6", binary, "receive",
                "--dir", target.path + "/inbox", "--listen", "127.0.0.1:0", "--handshake-timeout", "2",
            ]
            try FileManager.default.createDirectory(atPath: target.path + "/inbox", withIntermediateDirectories: false)
            chown(target.path + "/inbox", 65534, 65534)
            let log = Pipe()
            process.standardError = log
            let collector = PipeCollector(log)
            try process.run()
            defer {
                process.terminate()
                process.waitUntilExit()
            }
            try #require(collector.wait(for: "listening on"), "\(collector.text)")
            let line = collector.text.split(separator: "\n").first { $0.contains("listening on") }!
            let port = try #require(UInt16(line.split(separator: ":").last!))
            var peers = (2..<22).compactMap { Peer(from: "127.0.0.\($0)", to: port) }
            #expect(peers.count == 20)
            #expect(collector.wait(for: "cannot start a thread"), "no thread creation failed: \(collector.text)")
            // The ones that got no thread were told busy and closed, not left hanging.
            let answers = peers.map { $0.firstRecord(seconds: 4) }
            let busy = answers.filter { if case .error(let e)? = $0 { e.code == .busy } else { false } }.count
            #expect(busy > 0, "\(answers)")
            // The ones that got a thread are dropped by the handshake deadline: the signal.
            let refused = collector.text.components(separatedBy: "cannot start a thread").count - 1
            #expect(
                collector.wait(seconds: 10) {
                    $0.components(separatedBy: "no complete handshake").count - 1 >= 20 - refused
                },
                "\(collector.text)"
            )
            peers.removeAll()
            // Every slot comes back: a real sender is served afterwards (a thread's exit may
            // lag its last log line by a moment, hence a few tries).
            let source = TemporaryDirectory()
            let bytes = source.makeFile("after.bin", count: 10_000)
            var result = Finished(status: -1, stdout: "", stderr: "")
            for _ in 0..<20 where result.status != 0 {
                result = xfer(["send", "--timeout", "5", source.file("after.bin"), "127.0.0.1:\(port)"])
                if result.status != 0 { usleep(250_000) }  // the handshake deadline frees the held ones
            }
            #expect(result.status == 0, "\(result.stderr)")
            expectSameBytes(target.contents("inbox/after.bin"), bytes)
        }

        @Test(
            "Few descriptors (RLIMIT_NOFILE 900): batches shrink to fit, a commit closes each file as it opens its directory; 1,500 files in 1,500 new directories arrive",
            .enabled(if: commandExists("prlimit"), "needs prlimit")
        )
        func descriptorsRunShort() throws {
            // 900 descriptors less what 4 served slots (8 each) and 128 handshake slots (2
            // each) may need and a margin of 64 leave 548 for waiting batches. Sent without
            // a pause, a batch of 1,000 files would run out (EMFILE) at about the 890th,
            // and so would 548 files held open while the commit opens their 548 new
            // directories.
            let source = TemporaryDirectory()
            var expected: [String: [UInt8]] = [:]
            for index in 0..<1500 { expected["many/d\(index)/f"] = source.makeFile("many/d\(index)/f", count: 1024) }
            let target = TemporaryDirectory()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "prlimit", "--nofile=900:900", xferBinary, "receive", "--dir", target.path, "--listen",
                "127.0.0.1:0", "--once", "--max-connections", "4",
            ]
            let log = Pipe()
            process.standardError = log
            let collector = PipeCollector(log)
            try process.run()
            defer {
                if process.isRunning { process.terminate() }
                process.waitUntilExit()
            }
            try #require(collector.wait(for: "listening on"), "\(collector.text)")
            let line = collector.text.split(separator: "\n").first { $0.contains("listening on") }!
            let port = try #require(UInt16(line.split(separator: ":").last!))
            let result = xfer(["send", source.file("many"), "127.0.0.1:\(port)"])
            #expect(result.status == 0, "\(result.stderr)\nreceiver: \(collector.text.suffix(2000))")
            process.waitUntilExit()
            let wrong = expected.filter { target.contents($0.key) != $0.value }.map(\.key)
            #expect(wrong.count == 0, "missing or wrong, e.g. \(wrong.prefix(3))")
        }

        @Test("Past the handshake, the connection cap answers busy; a slot freed is served again")
        func connectionCap() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--max-connections", "2"])
            var holders: [Peer] = []
            for index in 0..<2 {
                let peer = try #require(Peer(from: "127.0.0.\(20 + index)", to: receiver.port))
                var hello: [UInt8] = Preamble().bytes
                try RecordEncoder.append(.hello(Hello()), to: &hello)
                peer.send(hello)
                guard case .welcome? = peer.firstRecord(seconds: 5) else {
                    Issue.record("holder \(index) was not welcomed")
                    return
                }
                holders.append(peer)
            }
            let result = xfer(["send", "--timeout", "5", "-", receiver.address], input: Data("x".utf8))
            #expect(result.status == 71, "\(result.stderr)")
            #expect(result.stderr.contains("too many connections"), "\(result.stderr)")
            holders.removeAll()  // closing them frees the slots
            #expect(
                receiver.xfer.stderr.wait { $0.components(separatedBy: "the sender closed the connection").count > 2 },
                "\(receiver.log)"
            )
            Self.expectSendWorks(receiver, target, "after the holders left")
        }

        /// A peer past its handshake (no key), holding a served slot and saying nothing.
        static func holder(from source: String, port: UInt16) throws -> Peer? {
            guard let peer = Peer(from: source, to: port) else { return nil }
            var hello: [UInt8] = Preamble().bytes
            try RecordEncoder.append(.hello(Hello()), to: &hello)
            peer.send(hello)
            guard case .welcome? = peer.firstRecord(seconds: 5) else { return nil }
            return peer
        }

        @Test("Every served slot held by two addresses: a third is served at once, taking a slot of the heavier")
        func servedShare() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--max-connections", "6"])
            var holders: [Peer] = []
            for index in 0..<6 {
                holders.append(
                    try #require(try Self.holder(from: "127.0.0.\(index < 4 ? 30 : 31)", port: receiver.port))
                )
            }
            // 127.0.0.30 holds 4 of 6 while another waits: one of its slots gives way.
            Self.expectSendWorks(receiver, target, "with every slot held by two addresses")
            #expect(receiver.xfer.stderr.wait(for: "evicted"), "\(receiver.log)")
            let evicted = receiver.log.split(separator: "\n").filter { $0.contains("evicted") }
            #expect(evicted.allSatisfy { $0.contains("127.0.0.30:") }, "\(evicted)")
            holders.removeAll()
        }

        @Test("A record trickled a byte every 0.5 s is dropped once it falls under the rate floor, idle clock or not")
        func recordRateFloor() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--timeout", "2"])
            let peer = try #require(try Self.holder(from: "127.0.0.33", port: receiver.port))
            var start: [UInt8] = []
            try RecordEncoder.append(
                .offer(Offer(transferID: TransferID(high: 3, low: 3), size: 65536, name: "slow.bin")),
                to: &start
            )
            var data: [UInt8] = []
            try RecordEncoder.append(.data(ArraySlice([UInt8](repeating: 0x41, count: 65536))), to: &data)
            peer.send(start + data.prefix(100))
            let started = Date()
            var dropped = false
            // 64 KiB at the floor of 64 KiB/s: 1 s, after the 2 s timeout. Each byte comes
            // well within the idle timeout, so only the floor can end it.
            for byte in data[100..<160] {
                peer.send([byte])
                if receiver.log.contains("record took over") {
                    dropped = true
                    break
                }
                usleep(500_000)
            }
            let seconds = Date().timeIntervalSince(started)
            #expect(dropped, "the trickler was still served after \(seconds) s: \(receiver.log)")
            #expect(seconds < 10, "dropped after \(seconds) s")
            #expect(!FileManager.default.fileExists(atPath: target.file("slow.bin")))
        }
    }
}
