import CXferSystem
import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// The real `xfer receive` against the bytes of SPEC.md §12's conversations, and two
    /// timing rules a raw client can see: the idle clock counts bytes, not whole records,
    /// and a receiver that hashes a kept prefix before answering still shows it is alive.
    @Suite struct ReceiverConformance {
        // MARK: A. Vector conversations

        /// The conversations whose server side is conformance (SPEC.md §12).
        static let conversationNames: [String] = ConformanceVectors.all.filter { $0.conformance.contains("server") }
            .map(\.name)

        @Test("Every vector conversation defines conformance for at least one role, and both roles are covered")
        func everyConversationHasARole() {
            for conversation in ConformanceVectors.all {
                #expect(!conversation.conformance.isEmpty, "\(conversation.name)")
                #expect(
                    Set(conversation.conformance).isSubset(of: ["client", "server"]),
                    "\(conversation.name): \(conversation.conformance)"
                )
                if conversation.conformance.contains("client") {
                    #expect(conversation.clientSources != nil, "\(conversation.name) names no client sources")
                }
                if conversation.conformance.contains("server") {
                    #expect(conversation.serverState != nil, "\(conversation.name) names no server state")
                }
            }
            #expect(Self.conversationNames.count >= 8)
        }

        /// The test plays the client's steps lock-step: it sends each client step only after
        /// the receiver sent every server step listed before it, so a receiver that waits for
        /// more input before it answers (its preamble before HELLO, an ACK before the next
        /// OFFER) hangs the conversation instead of passing. A conversation over several
        /// connections (SPEC.md §16) is played on as many: the test opens connection *k* at
        /// its first step, keeps the order of the steps across connections (a step on one
        /// waits for the server steps listed before it on every other), puts the session ID
        /// and token of the receiver's SESSION in its JOIN, and compares each connection's
        /// server steps with what the receiver sent there.
        @Test("A vector conversation played lock-step against the real receiver", arguments: conversationNames)
        func vectorConversation(_ name: String) throws {
            let conversation = try #require(ConformanceVectors.named(name))
            let state = conversation.serverState ?? ConformanceVectors.ServerState()

            // The target sits inside a parent directory so a name that escapes it lands
            // somewhere we can look.
            let parent = TemporaryDirectory()
            let targetPath = parent.file("target")
            try FileManager.default.createDirectory(atPath: targetPath + "/.xfer", withIntermediateDirectories: true)
            var locks: [CInt] = []
            defer { for fd in locks { close(fd) } }
            for partial in state.partials ?? [] {
                let path = "\(targetPath)/.xfer/\(partial.transferId).part"
                writeContent(partial.content, to: path)
                if let blocks = partial.blocks {
                    // A kept `blocks` partial (SPEC.md §16.10): xfer records its block size
                    // and the blocks held in an extended attribute, as HAVE's bitmap.
                    let size = UInt64(ConformanceVectors.Piece.bytes(partial.content).count)
                    let count = UInt32((size + UInt64(blocks.blockSize) - 1) / UInt64(blocks.blockSize))
                    let size32 = blocks.blockSize
                    let value =
                        [
                            UInt8(size32 >> 24), UInt8(size32 >> 16 & 0xFF), UInt8(size32 >> 8 & 0xFF),
                            UInt8(size32 & 0xFF),
                        ]
                        + Have(transferID: .none, blockCount: count, held: blocks.held).bitmap
                    let fd = open(path, O_RDWR)
                    defer { close(fd) }
                    let status = value.withUnsafeBytes {
                        xfer_set_attribute(fd, "user.xfer.blocks", $0.baseAddress, $0.count)
                    }
                    try #require(status == 0, "cannot set user.xfer.blocks on \(path): errno \(errno)")
                }
                if partial.locked {
                    // Another process writes it: the receiver's lock attempt fails (§9).
                    let fd = open(path, O_RDWR)
                    try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "cannot lock \(path)")
                    locks.append(fd)
                }
            }
            var extra: [String] = []
            if let timeout = state.idleTimeoutSeconds { extra += ["--timeout", "\(timeout)"] }
            if let blockSize = state.blockSize { extra += ["--block-size", "\(blockSize)"] }
            let receiver = ReceiverProcess(directory: targetPath, extra: extra)
            for committed in state.committed ?? [] {
                // Committed state is made by a real earlier transfer: the journal binds it to
                // the file that transfer produced (§11), which no planted line could.
                try Self.commitEarlier(committed, port: receiver.port)
            }

            let connections = conversation.connections
            var peers: [Int: WirePeer] = [:]
            var matchers: [Int: SideMatcher] = [:]
            for connection in connections {
                matchers[connection] = SideMatcher(conversation: conversation, side: "server", connection: connection)
            }
            /// Reads every open connection until `done` holds or `seconds` have passed.
            func pumpAll(seconds: Double, until done: () -> Bool) -> Bool {
                let deadline = Date(timeIntervalSinceNow: seconds)
                while !done() {
                    if deadline.timeIntervalSinceNow <= 0 { return false }
                    let open = peers.filter { !$0.value.ended }
                    if open.isEmpty { return done() }
                    for (connection, peer) in open {
                        peer.readOnce(into: &matchers[connection]!, waiting: 0.01)
                    }
                }
                return true
            }
            for (index, step) in conversation.steps.enumerated() {
                let connection = step.connectionNumber
                if step.direction == "client" {
                    if let pause = step.afterSeconds {
                        _ = pumpAll(seconds: pause) { false }  // the pause is the point
                    }
                    if peers[connection] == nil { peers[connection] = WirePeer(fd: Self.connect(port: receiver.port)) }
                    var bytes = step.bytes
                    if case .join(let join)? = step.record {
                        // The session the receiver drew, bound from its SESSION (SPEC.md §12.1).
                        let sessions = matchers.values.reduce(into: SessionBindings()) {
                            $0.merge($1.match().sessions) { first, _ in first }
                        }
                        bytes = []
                        try RecordEncoder.append(Record.join(join).substituting(sessions: sessions), to: &bytes)
                    }
                    peers[connection]!.send(bytes)
                } else if !step.isOptional {
                    let arrived = pumpAll(seconds: 20) {
                        matchers.values.allSatisfy { $0.hasReceived(stepsBefore: index + 1) }
                    }
                    if !arrived {
                        Issue.record(
                            "\(name): no server step \(index) (\(step.note)) on connection \(connection) within 20 s"
                        )
                        break
                    }
                }
            }
            if conversation.endsWithFatalError, let peer = peers[1] {
                // After a fatal ERROR the server shuts its side down and reads to the end (§7.5).
                #expect(
                    peer.readToEnd(into: &matchers[1]!, seconds: 10),
                    "\(name): the receiver did not end its side after the fatal ERROR"
                )
            }
            for connection in connections {
                let matcher = matchers[connection]!
                for problem in matcher.problems() {
                    Issue.record(
                        """
                        \(name): \(problem)
                        server sent: \(matcher.actualSummary)
                        log: \(receiver.log)
                        """
                    )
                }
            }

            // The files: every stream the vector ACKs is under its name with the ACK's length
            // and digest; every other stream is nowhere; no partial is left but those planted
            // for streams that were never accepted.
            let clientRecords = conversation.steps(of: "client").compactMap(\.record)
            let acks = conversation.steps(of: "server").compactMap { step -> Ack? in
                if case .ack(let ack)? = step.record { return ack }
                return nil
            }
            let names = Dictionary(
                clientRecords.compactMap { record -> (TransferID, String)? in
                    if case .offer(let offer) = record { return (offer.transferID, offer.name) }
                    return nil
                },
                uniquingKeysWith: { $1 }
            )
            let blockOffers = Set(
                clientRecords.compactMap { record -> TransferID? in
                    if case .offer(let offer) = record, offer.blocks { return offer.transferID }
                    return nil
                }
            )
            for ack in acks {
                let path = targetPath + "/" + (names[ack.transferID] ?? "?")
                let contents = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
                var digest = StreamDigest()
                digest.update(contents ?? [])
                var value = digest.value
                if blockOffers.contains(ack.transferID), let blockSize = conversation.sessionBlockSize {
                    // A `blocks` offer's ACK carries the block tree digest (SPEC.md §16.5).
                    let bytes = contents ?? []
                    value = blockTreeDigest(
                        stride(from: 0, to: bytes.count, by: Int(blockSize)).map {
                            var block = StreamDigest()
                            block.update(bytes[$0..<min(bytes.count, $0 + Int(blockSize))])
                            return block.value
                        }
                    )
                }
                #expect(
                    contents.map { UInt64($0.count) } == ack.committedLength && value == ack.digest,
                    "\(name): '\(path)' holds \(contents?.count ?? -1) bytes, not what its ACK says"
                )
            }
            let acked = Set(acks.map(\.transferID))
            for (id, fileName) in names where !acked.contains(id) {
                let path = URL(fileURLWithPath: targetPath).appendingPathComponent(fileName).standardized.path
                #expect(
                    !FileManager.default.fileExists(atPath: path),
                    "\(name): '\(fileName)' was not acknowledged, so it must not exist at \(path)"
                )
            }
            let planted = Set((state.partials ?? []).map { "\($0.transferId).part" })
            let left = Set(
                ((try? FileManager.default.contentsOfDirectory(atPath: targetPath + "/.xfer")) ?? []).filter {
                    $0.hasSuffix(".part")
                }
            )
            let plantedAndUnused = planted.subtracting(acked.map { "\($0).part" })
            #expect(left == plantedAndUnused, "\(name): partial files left: \(left.sorted())")
        }

        @Test("A lock-step client that waits for the server's preamble before its HELLO is not left waiting")
        func serverPreambleBeforeHello() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = RawClient(port: receiver.port)
            let reader = ServerReader(fd: client.fd)
            client.send(Preamble().bytes)
            let preamble = reader.pump(seconds: 5) { $0.contains { if case .preamble = $0 { true } else { false } } }
            #expect(preamble, "no server preamble within 5 s of the client's (SPEC.md §3)")
            #expect(reader.records.isEmpty, "WELCOME must wait for HELLO: \(reader.records)")
            client.send(.hello(Hello()))
            #expect(reader.pump(seconds: 5) { $0.contains { $0.isWelcome } }, "no WELCOME after HELLO")
            client.send(.goodbye)
            #expect(reader.pump(seconds: 10) { $0.last == .record(.goodbye) })
        }

        /// Commits `committed` as an earlier connection would: a whole transfer, to its ACK.
        private static func commitEarlier(_ committed: ConformanceVectors.Committed, port: UInt16) throws {
            let id = try #require(TransferID(bytes: hexBytes(committed.transferId)))
            let source = ConformanceVectors.Source(
                type: "file",
                name: committed.name,
                content: committed.content,
                outcome: "confirmed"
            )
            let bytes = source.bytes
            let client = RawClient(port: port)
            var out = Preamble().bytes
            try RecordEncoder.append(.hello(Hello()), to: &out)
            try RecordEncoder.append(
                .offer(
                    Offer(
                        transferID: id,
                        size: UInt64(bytes.count),
                        modificationTime: Timestamp(seconds: 1_700_000_000),
                        name: committed.name
                    )
                ),
                to: &out
            )
            for start in stride(from: 0, to: bytes.count, by: ProtocolLimits.maxDataPayload) {
                try RecordEncoder.append(
                    .data(bytes[start..<min(bytes.count, start + ProtocolLimits.maxDataPayload)]),
                    to: &out
                )
            }
            var digest = StreamDigest()
            digest.update(bytes)
            try RecordEncoder.append(.end(End(totalLength: UInt64(bytes.count), digest: digest.value)), to: &out)
            try RecordEncoder.append(.goodbye, to: &out)
            client.send(out)
            let records = client.records()
            let expected = Ack(
                transferID: id,
                committedLength: UInt64(bytes.count),
                digest: digest.value,
                durable: true
            )
            try #require(records.contains(.ack(expected)), "the earlier transfer was not committed: \(records)")
        }

        /// A connected TCP socket to the receiver on 127.0.0.1.
        private static func connect(port: UInt16) -> CInt {
            let fd = socket(AF_INET, streamSocketType, 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            precondition(status == 0, "connect failed: \(errno)")
            return fd
        }

        // MARK: B. The idle clock counts bytes

        @Test("The idle clock counts bytes: a 1 MiB DATA record dribbled 128 KiB per 1.2 s against --timeout 3")
        func idleClockCountsBytes() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--timeout", "3"])
            let client = RawClient(port: receiver.port)
            let reader = ServerReader(fd: client.fd)
            let id = TransferID(high: 0xD81B_B1ED, low: 1)
            let payload = Self.randomBytes(1 << 20)
            var opening = Preamble().bytes
            try RecordEncoder.append(.hello(Hello()), to: &opening)
            try RecordEncoder.append(
                .offer(Offer(transferID: id, size: UInt64(payload.count), name: "dribbled.bin", awaitAnswer: false)),
                to: &opening
            )
            client.send(opening)

            // One DATA record, its bytes in pieces of 128 KiB (the header rides with the
            // first), 1.2 s apart: each gap is well inside the 3 s timeout, the whole record
            // is not. Between pieces the client reads what the server sends (§7.1).
            var record: [UInt8] = []
            try RecordEncoder.append(.data(payload[...]), to: &record)
            let piece = 128 << 10
            let starts = [0] + Array(stride(from: ProtocolLimits.headerSize + piece, to: record.count, by: piece))
            for (index, start) in starts.enumerated() {
                if index > 0 { reader.pump(seconds: 1.2) }  // the dribble under test, not a wait for readiness
                if reader.ended { break }
                let end = index + 1 < starts.count ? starts[index + 1] : record.count
                client.send(Array(record[start..<end]))
            }
            var digest = StreamDigest()
            digest.update(payload)
            var closing: [UInt8] = []
            try RecordEncoder.append(.end(End(totalLength: UInt64(payload.count), digest: digest.value)), to: &closing)
            try RecordEncoder.append(.goodbye, to: &closing)
            if !reader.ended { client.send(closing) }
            reader.pump(seconds: 20) { $0.last == .record(.goodbye) }
            client.close()

            let records = reader.records
            let errors = records.compactMap { record -> ErrorRecord? in
                if case .error(let error) = record { return error }
                return nil
            }
            #expect(
                errors.isEmpty,
                "the receiver dropped a sender whose bytes kept arriving: \(errors.map { "\($0.code): \($0.message)" })"
            )
            let answer = records.compactMap { record -> Answer? in
                if case .answer(let answer) = record { return answer }
                return nil
            }.first
            #expect(answer?.transferID == id && answer?.decision == .accept, "ANSWER: \(String(describing: answer))")
            let ack = records.compactMap { record -> Ack? in
                if case .ack(let ack) = record { return ack }
                return nil
            }.first
            #expect(
                ack == Ack(transferID: id, committedLength: UInt64(payload.count), digest: digest.value, durable: true),
                "ACK: \(String(describing: ack))"
            )
            #expect(records.last == .goodbye, "records: \(records.map { Self.describe(.record($0)) })")
            let committed = target.contents("dribbled.bin")
            let intact = committed == payload
            #expect(intact, "the file is committed with the bytes sent (found \(committed?.count ?? 0) bytes)")
        }

        // MARK: C. Hashing a kept prefix is not silence

        @Test("Hashing a big kept prefix before the ANSWER: the server is never silent for 2.5 s")
        func resumeHashingIsNotSilent() throws {
            // Grow the sparse prefix until hashing it takes long enough to mean something:
            // each try doubles it, so the one that counts takes from 3 s to about 6 s.
            var attempt: HashingAttempt?
            for gibibytes in [1, 2, 4, 8, 16, 32, 64, 128, 256] as [UInt64] {
                attempt = try Self.offerResume(prefix: gibibytes << 30)
                guard let done = attempt, done.answer?.decision == .accept, done.answerDelay < 3 else { break }
            }
            guard let attempt else { return }
            try #require(attempt.answered, "no ANSWER for the resumed offer: \(attempt.records) \(attempt.log)")
            // It holds exactly the offered offset, so it must accept there (SPEC.md §11),
            // and accepting is what makes it hash the kept prefix.
            try #require(
                attempt.answer?.decision == .accept && attempt.answer?.offset == attempt.prefix,
                "ANSWER: \(String(describing: attempt.answer))"
            )
            try #require(
                attempt.answerDelay >= 3,
                """
                could not make hashing slow enough to test: a \(attempt.prefix >> 30) GiB sparse prefix was \
                answered in \(Self.seconds(attempt.answerDelay))
                """
            )
            #expect(
                attempt.maxGap < 2.5,
                """
                the server was silent for \(Self.seconds(attempt.maxGap)) before the ANSWER, which took \
                \(Self.seconds(attempt.answerDelay)) (\(attempt.prefix >> 30) GiB kept prefix); \
                gaps: \(attempt.gaps.map(Self.seconds))
                """
            )
            #expect(attempt.sawGoodbye, "clean end after CANCEL and GOODBYE: \(attempt.records)")
            #expect(
                attempt.allocatedAfter < 64 << 20,
                "the sparse partial stayed sparse: \(attempt.allocatedAfter) bytes allocated in the target afterwards"
            )
        }

        /// What one try of the resume-hashing test saw.
        private struct HashingAttempt {
            var prefix: UInt64
            var answered = false
            var answer: Answer?
            /// Seconds from the OFFER to the arrival of the bytes that completed its ANSWER.
            var answerDelay: Double = 0
            /// Seconds between successive arrivals of server bytes, from the OFFER to the ANSWER.
            var gaps: [Double] = []
            var maxGap: Double { gaps.max() ?? 0 }
            var sawGoodbye = false
            var allocatedAfter: UInt64 = 0
            var records: [String] = []
            var log = ""
        }

        /// Plants a sparse partial of `prefix` bytes, offers to resume at its end, and times
        /// the server's bytes until the ANSWER; then cancels and says goodbye.
        private static func offerResume(prefix: UInt64) throws -> HashingAttempt {
            var attempt = HashingAttempt(prefix: prefix)
            let target = TemporaryDirectory()
            let id = TransferID(high: 0x5BA7_5E00, low: prefix)
            let state = target.file(".xfer")
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false)
            let partial = state + "/\(id).part"  // 32 lower-case hex digits
            let planted = shell("truncate -s \(prefix) '\(partial)'")
            try #require(planted.status == 0, "truncate: \(planted.stderr)")
            try #require(allocatedBytes(partial) < 1 << 20, "this file system does not keep the partial sparse")

            let receiver = ReceiverProcess(directory: target.path)
            let client = RawClient(port: receiver.port)
            let reader = ServerReader(fd: client.fd)
            var opening = Preamble().bytes
            try RecordEncoder.append(.hello(Hello()), to: &opening)
            client.send(opening)
            // Readiness: welcomed, so the clock below covers the offer alone.
            try #require(
                reader.pump(seconds: 10) { $0.contains { $0.isWelcome } },
                "no WELCOME: \(reader.records) \(receiver.log)"
            )
            let offer = Offer(
                transferID: id,
                size: prefix + (1 << 20),
                offset: prefix,
                name: "sparse.bin",
                awaitAnswer: true
            )
            let arrivalsBefore = reader.arrivals.count
            let offered = monotonicNow()
            client.send(.offer(offer))
            attempt.answered = reader.pump(seconds: 240) { messages in
                messages.contains {
                    if case .record(.answer(let answer)) = $0 { answer.transferID == id } else { false }
                }
            }
            if attempt.answered {
                let answeredAt = reader.arrivals.last!
                let times = [offered] + reader.arrivals[arrivalsBefore...]
                attempt.gaps = zip(times.dropFirst(), times).map { $0 - $1 }
                attempt.answerDelay = answeredAt - offered
                attempt.answer =
                    reader.records.compactMap { record -> Answer? in
                        if case .answer(let answer) = record, answer.transferID == id { return answer }
                        return nil
                    }.first
                if attempt.answer?.decision == .accept {
                    client.send(.cancel(Cancel(code: .cancelled, message: "test over")))
                }
                client.send(.goodbye)
                attempt.sawGoodbye = reader.pump(seconds: 30) { $0.last == .record(.goodbye) }
            }
            client.close()
            attempt.records = reader.records.map { describe(.record($0)) }
            attempt.log = receiver.log
            let usage = shell("du -sk '\(target.path)'").stdout.split(separator: "\t").first.flatMap { UInt64($0) }
            attempt.allocatedAfter = max(allocatedBytes(partial), (usage ?? .max / 1024) * 1024)
            return attempt
        }

        /// Bytes the file system allocated for `path` (0 if it does not exist).
        private static func allocatedBytes(_ path: String) -> UInt64 {
            var info = stat()
            guard stat(path, &info) == 0 else { return 0 }
            return UInt64(info.st_blocks) * 512
        }

        // MARK: Helpers

        private static func describe(_ message: RecordDecoder.Message) -> String {
            switch message {
            case .preamble(let preamble): return "preamble v\(preamble.version)"
            case .record(.data(let bytes)): return "DATA \(bytes.count) B"
            case .record(let record): return "\(record)"
            }
        }

        private static func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }

        private static func randomBytes(_ count: Int) -> [UInt8] {
            let random = FileHandle(forReadingAtPath: "/dev/urandom")!
            defer { try? random.close() }
            var bytes: [UInt8] = []
            while bytes.count < count { bytes += random.readData(ofLength: count - bytes.count) }
            return bytes
        }
    }
}

/// A message whose DATA slice no longer shares the decoder's buffer.
private func copied(_ message: RecordDecoder.Message) -> RecordDecoder.Message {
    if case .record(.data(let slice)) = message { return .record(.data(Array(slice)[...])) }
    return message
}

/// Monotonic seconds.
private func monotonicNow() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

extension RecordDecoder.Message {
    fileprivate var isWelcome: Bool {
        if case .record(.welcome) = self { return true }
        return false
    }
}

/// Reads a server's bytes as they come, with poll, recording when each piece arrived; it
/// reads only when asked (between a test's sends), never on another thread.
private final class ServerReader {
    let fd: CInt
    private var decoder = RecordDecoder()
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    /// Everything decoded so far, the server's preamble first.
    private(set) var messages: [RecordDecoder.Message] = []
    /// Monotonic time of every read that returned bytes.
    private(set) var arrivals: [Double] = []
    /// End of stream, a socket error, or bytes that did not decode.
    private(set) var ended = false
    private(set) var failure: String?

    init(fd: CInt) { self.fd = fd }

    var records: [Record] {
        messages.compactMap { message in
            if case .record(let record) = message { return record }
            return nil
        }
    }

    /// Reads for up to `seconds`, stopping early once `done` holds for the messages so far
    /// (true) or the stream ends (false).
    @discardableResult
    func pump(seconds: Double, until done: ([RecordDecoder.Message]) -> Bool = { _ in false }) -> Bool {
        let deadline = monotonicNow() + seconds
        while !done(messages) {
            let left = deadline - monotonicNow()
            if ended || left <= 0 { return false }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, CInt(max(1, min(left, 0.05) * 1000)))
            if ready == 0 || (ready < 0 && errno == EINTR) { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, dontWaitFlag) }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard ready > 0, count > 0 else {
                ended = true
                continue
            }
            arrivals.append(monotonicNow())
            do {
                try decoder.feed(buffer[..<count]) { messages.append(copied($0)) }
            } catch {
                failure = "\(error)"
                ended = true
            }
        }
        return true
    }
}
