import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// SPEC.md §16's rules as the real receiver keeps them, against a raw client that plays a
// sender without a key: joins that prove nothing, blocks twice, outside the file, missing.

/// A raw unkeyed client: handshake, records out, records in (one decoder for the whole
/// conversation, so nothing read is lost between calls).
final class SessionClient {
    let raw: RawClient
    private var decoder = RecordDecoder(expectingPreamble: true)
    private var pending: [Record] = []
    private var ended = false

    init(port: UInt16) {
        raw = RawClient(port: port)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(raw.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Preamble and HELLO (asking for `streams` connections when given); returns the
    /// server's records up to its WELCOME, and its SESSION when WELCOME announces one.
    func handshake(streams: UInt16? = nil) -> [Record] {
        raw.send(Preamble().bytes)
        raw.send(.hello(Hello(parameters: [.agent("test")] + (streams.map { [.streams($0)] } ?? []))))
        var seen = [next()].compactMap { $0 }
        if case .welcome(let welcome)? = seen.last, welcome.parameters.streams != nil, let session = next() {
            seen.append(session)
        }
        return seen
    }

    func send(_ record: Record) { raw.send(record) }

    /// The next record that is not a KEEPALIVE; nil at the end of the stream or after 10 s.
    func next() -> Record? {
        while pending.isEmpty && !ended {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = buffer.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 {
                ended = true
                break
            }
            do {
                try decoder.feed(buffer[..<count]) { message in
                    if case .record(let record) = message, record != .keepAlive { pending.append(record) }
                }
            } catch {
                ended = true
            }
        }
        return pending.isEmpty ? nil : pending.removeFirst()
    }

    /// Records until one matches `predicate` (included), the end, or 10 s of silence.
    func records(until predicate: (Record) -> Bool) -> [Record] {
        var seen: [Record] = []
        while let record = next() {
            seen.append(record)
            if predicate(record) { break }
        }
        return seen
    }
}

extension Record {
    /// The code of a fatal ERROR.
    var fatalCode: ErrorCode? {
        if case .error(let error) = self, error.fatal { return error.code }
        return nil
    }
}

/// XXH64 of `bytes`.
func xxh64(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var digest = StreamDigest()
    digest.update(bytes)
    return digest.value
}

extension Integration {
    @Suite struct SessionRules {
        static let blockSize = 65536

        /// A receiver with 64 KiB blocks, and a first connection granted a session.
        static func session(_ target: TemporaryDirectory, extra: [String] = []) -> (
            ReceiverProcess, SessionClient, SessionGrant
        ) {
            let receiver = ReceiverProcess(directory: target.path, extra: ["--block-size", "\(blockSize)"] + extra)
            let first = SessionClient(port: receiver.port)
            let greeting = first.handshake(streams: 2)
            guard case .session(let grant)? = greeting.last else { fatalError("no SESSION: \(greeting)") }
            return (receiver, first, grant)
        }

        /// Offers `size` bytes as blocks under `name` and reads its ANSWER.
        static func offerBlocks(_ client: SessionClient, _ id: TransferID, size: Int, name: String) -> [Record] {
            var offer = Offer(transferID: id, size: UInt64(size), name: name, awaitAnswer: true)
            offer.blocks = true
            client.send(.offer(offer))
            return client.records { if case .answer = $0 { true } else { $0.fatalCode != nil } }
        }

        /// Sends block `index` of `bytes` as BLOCK, DATA, BLOCKEND.
        static func sendBlock(_ client: SessionClient, _ id: TransferID, _ index: Int, of bytes: [UInt8]) {
            let start = index * blockSize
            let block = Array(bytes[start..<min(start + blockSize, bytes.count)])
            client.send(.block(BlockStart(transferID: id, index: UInt32(index))))
            client.send(.data(block[...]))
            client.send(.blockEnd(BlockEnd(digest: xxh64(block))))
        }

        @Test("WELCOME grants what HELLO asked for (at most --max-streams) and SESSION follows; none unasked")
        func grant() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--max-streams", "3"])
            let asking = SessionClient(port: receiver.port).handshake(streams: 8)
            guard case .welcome(let welcome)? = asking.first, case .session(let grant)? = asking.last else {
                Issue.record("no WELCOME and SESSION: \(asking)")
                return
            }
            #expect(welcome.parameters.streams == 3)
            #expect(grant.blockSize == 8 << 20, "the default block size")
            let plain = SessionClient(port: receiver.port).handshake()
            #expect(
                plain.count == 1
                    && plain.first.map { if case .welcome(let w) = $0 { w.parameters.streams == nil } else { false } }
                        == true
            )
        }

        @Test(
            "A JOIN of an unknown session, or with a wrong token, is refused unauthenticated and penalised; the right one joins, one too many is busy"
        )
        func joins() {
            let target = TemporaryDirectory()
            let (receiver, first, grant) = Self.session(target)
            let stranger = SessionClient(port: receiver.port)
            _ = stranger.handshake()
            stranger.send(.join(Join(sessionID: [UInt8](repeating: 7, count: 16), token: grant.token)))
            #expect(stranger.records { $0.fatalCode != nil }.last?.fatalCode == .unauthenticated)
            let guesser = SessionClient(port: receiver.port)
            _ = guesser.handshake()
            var wrong = grant.token
            wrong[31] ^= 1
            guesser.send(.join(Join(sessionID: grant.sessionID, token: wrong)))
            #expect(guesser.records { $0.fatalCode != nil }.last?.fatalCode == .unauthenticated)
            #expect(receiver.xfer.stderr.wait { $0.components(separatedBy: "refused a JOIN").count == 3 })
            // The session granted 2: the first connection and one joined.
            let member = SessionClient(port: receiver.port)
            _ = member.handshake()
            member.send(.join(Join(sessionID: grant.sessionID, token: grant.token)))
            let extra = SessionClient(port: receiver.port)
            _ = extra.handshake()
            extra.send(.join(Join(sessionID: grant.sessionID, token: grant.token)))
            #expect(extra.records { $0.fatalCode != nil }.last?.fatalCode == .busy)
            member.send(.goodbye)
            #expect(member.records { $0 == .goodbye }.last == .goodbye, "the joined connection ends cleanly")
            // Its place in the grant is free again.
            let replacement = SessionClient(port: receiver.port)
            _ = replacement.handshake()
            replacement.send(.join(Join(sessionID: grant.sessionID, token: grant.token)))
            replacement.send(.goodbye)
            #expect(replacement.records { $0 == .goodbye || $0.fatalCode != nil }.last == .goodbye)
            first.send(.goodbye)
            #expect(first.records { $0 == .goodbye }.last == .goodbye)
            // The first connection ended: the session is forgotten.
            let late = SessionClient(port: receiver.port)
            _ = late.handshake()
            late.send(.join(Join(sessionID: grant.sessionID, token: grant.token)))
            #expect(late.records { $0.fatalCode != nil }.last?.fatalCode == .unauthenticated)
        }

        @Test("Wrong JOINs cost their source what wrong proofs cost: after three it is turned away")
        func joinPenalty() {
            let target = TemporaryDirectory()
            let (receiver, _, grant) = Self.session(target)
            var wrong = grant.token
            wrong[0] ^= 1
            for _ in 0..<3 {
                let guesser = SessionClient(port: receiver.port)
                _ = guesser.handshake()
                guesser.send(.join(Join(sessionID: grant.sessionID, token: wrong)))
                _ = guesser.records { $0.fatalCode != nil }
            }
            #expect(receiver.xfer.stderr.wait { $0.components(separatedBy: "refused a JOIN").count == 4 })
            let next = SessionClient(port: receiver.port)
            let greeting = next.handshake()
            #expect(greeting.last?.fatalCode == .busy, "the source was not turned away: \(greeting)")
            #expect(receiver.xfer.stderr.wait(for: "is penalised"), "\(receiver.log)")
        }

        @Test("A JOIN is the first record after a handshake only, and never on a first connection")
        func joinPlacement() {
            let target = TemporaryDirectory()
            let (receiver, first, grant) = Self.session(target)
            first.send(.join(Join(sessionID: grant.sessionID, token: grant.token)))
            #expect(first.records { $0.fatalCode != nil }.last?.fatalCode == .protocolViolation)
            let late = SessionClient(port: receiver.port)
            _ = late.handshake()
            late.send(.keepAlive)
            late.send(.offer(Offer(transferID: TransferID(high: 1, low: 1), size: 1, name: "x", awaitAnswer: true)))
            _ = late.records { if case .answer = $0 { true } else { false } }
            late.send(.join(Join(sessionID: grant.sessionID, token: grant.token)))
            #expect(late.records { $0.fatalCode != nil }.last?.fatalCode == .protocolViolation)
        }

        @Test(
            "An END before every block arrived is refused, even with the tree digest of the blocks held; nothing is committed"
        )
        func missingBlock() {
            let target = TemporaryDirectory()
            let (receiver, first, _) = Self.session(target)
            defer { withExtendedLifetime(receiver) {} }
            let bytes = (0..<(3 * Self.blockSize)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let id = TransferID(high: 18, low: 1)
            #expect(
                Self.offerBlocks(first, id, size: bytes.count, name: "holey.bin").last
                    == .answer(Answer(transferID: id, decision: .accept, offset: 0))
            )
            Self.sendBlock(first, id, 0, of: bytes)
            Self.sendBlock(first, id, 2, of: bytes)
            _ = first.records { $0 == .blockAck(BlockAck(transferID: id, index: 2)) }
            // A lying sender: the tree over the two blocks it sent, as if they were all.
            let digests = [0, 2].map { xxh64(bytes[($0 * Self.blockSize)..<(($0 + 1) * Self.blockSize)]) }
            first.send(.end(End(totalLength: UInt64(bytes.count), digest: blockTreeDigest(digests))))
            let answer = first.records { if case .error = $0 { true } else if case .ack = $0 { true } else { false } }
            guard case .error(let error)? = answer.last else {
                Issue.record("no ERROR for a file with a missing block: \(answer)")
                return
            }
            #expect(error.code == .lengthMismatch && !error.fatal && error.message.contains("block 1"), "\(error)")
            #expect(!target.exists("holey.bin"))
        }

        @Test(
            "A block sent again with other bytes ends its connection and is not written; the file commits with the first bytes"
        )
        func duplicateWithOtherBytes() {
            let target = TemporaryDirectory()
            let bytes = (0..<(2 * Self.blockSize + 10)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            let id = TransferID(high: 18, low: 2)
            let (receiver, first, grant) = Self.session(target)
            _ = Self.offerBlocks(first, id, size: bytes.count, name: "twice.bin")
            for index in 0..<3 { Self.sendBlock(first, id, index, of: bytes) }
            _ = first.records { $0 == .blockAck(BlockAck(transferID: id, index: 2)) }
            // On a joined connection: the same bytes again are acknowledged, not written again…
            let joined = SessionClient(port: receiver.port)
            _ = joined.handshake()
            joined.send(.join(Join(sessionID: grant.sessionID, token: grant.token)))
            Self.sendBlock(joined, id, 0, of: bytes)
            #expect(joined.next() == .blockAck(BlockAck(transferID: id, index: 0)))
            // …other bytes for it end that connection, and change nothing in the file.
            var other = bytes
            other[5] ^= 0xFF
            Self.sendBlock(joined, id, 0, of: other)
            #expect(joined.records { $0.fatalCode != nil }.last?.fatalCode == .protocolViolation)
            let tree = blockTreeDigest(
                stride(from: 0, to: bytes.count, by: Self.blockSize).map {
                    xxh64(bytes[$0..<min($0 + Self.blockSize, bytes.count)])
                }
            )
            first.send(.end(End(totalLength: UInt64(bytes.count), digest: tree)))
            let acked = first.records { if case .ack = $0 { true } else if case .error = $0 { true } else { false } }
            guard case .ack? = acked.last else {
                Issue.record("no ACK: \(acked)\n\(receiver.log)")
                return
            }
            #expect(target.contents("twice.bin") == bytes, "the committed file holds the second copy's bytes")
        }

        @Test("A block past the file's end, and a BLOCKEND whose digest is not the block's, end the connection")
        func outsideAndWrongDigest() {
            let target = TemporaryDirectory()
            let bytes = (0..<(2 * Self.blockSize + 10)).map { UInt8(truncatingIfNeeded: $0 &* 17) }
            let (receiver, first, _) = Self.session(target)
            let outside = TransferID(high: 18, low: 3)
            _ = Self.offerBlocks(first, outside, size: bytes.count, name: "outside.bin")
            first.send(.block(BlockStart(transferID: outside, index: 3)))
            first.send(.data([1, 2, 3][...]))
            #expect(first.records { $0.fatalCode != nil }.last?.fatalCode == .protocolViolation)
            let second = SessionClient(port: receiver.port)
            _ = second.handshake(streams: 2)
            let wrong = TransferID(high: 18, low: 4)
            _ = Self.offerBlocks(second, wrong, size: bytes.count, name: "wrong.bin")
            second.send(.block(BlockStart(transferID: wrong, index: 0)))
            second.send(.data(bytes[0..<Self.blockSize]))
            second.send(.blockEnd(BlockEnd(digest: xxh64(bytes[0..<Self.blockSize]) ^ 1)))
            #expect(second.records { $0.fatalCode != nil }.last?.fatalCode == .digestMismatch)
            #expect(!target.exists("outside.bin") && !target.exists("wrong.bin"))
        }

        @Test(
            "Blocks whole, tree digest right: committed and ACKed with the tree digest; a resend is already committed"
        )
        func wholeAndAlreadyCommitted() {
            let target = TemporaryDirectory()
            let bytes = (0..<(2 * Self.blockSize + 10)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let id = TransferID(high: 18, low: 4)
            let tree = blockTreeDigest(
                stride(from: 0, to: bytes.count, by: Self.blockSize).map {
                    xxh64(bytes[$0..<min($0 + Self.blockSize, bytes.count)])
                }
            )
            let (receiver, first, _) = Self.session(target)
            _ = Self.offerBlocks(first, id, size: bytes.count, name: "whole.bin")
            for index in [2, 0, 1] { Self.sendBlock(first, id, index, of: bytes) }
            _ = first.records { $0 == .blockAck(BlockAck(transferID: id, index: 1)) }
            first.send(.end(End(totalLength: UInt64(bytes.count), digest: tree)))
            let acked = first.records { if case .ack = $0 { true } else { $0.fatalCode != nil } }
            guard case .ack(let ack)? = acked.last else {
                Issue.record("no ACK: \(acked)")
                return
            }
            #expect(ack.digest == tree && ack.committedLength == UInt64(bytes.count) && ack.durable)
            #expect(target.contents("whole.bin") == bytes)
            let again = SessionClient(port: receiver.port)
            _ = again.handshake(streams: 2)
            let answer = Self.offerBlocks(again, id, size: bytes.count, name: "whole.bin")
            #expect(
                answer.last == .answer(Answer(transferID: id, decision: .alreadyCommitted, offset: UInt64(bytes.count)))
            )
        }
    }
}
