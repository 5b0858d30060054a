import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// The real `xfer send` against a ``FakeReceiver`` that plays the server side of each
    /// vector conversation (SPEC.md §12), step by step (``ConversationScript``): each server
    /// step is sent once the sender has sent every client step listed before it, with the
    /// transfer IDs the sender chose put in place of the vector's. The sender's bytes are compared with the client
    /// steps, allowing for what the vector marks `variable` or `optional`.
    @Suite struct SenderConformance {
        /// The conversations whose client side is conformance.
        static let conversationNames: [String] = ConformanceVectors.all.filter { $0.conformance.contains("client") }
            .map(\.name)

        /// Sender behaviour SPEC.md 1.1 requires that `xfer send` does not have yet: each is
        /// a known issue of the conversation that shows it, until the sender changes.
        static let pendingSenderChanges: [(conversation: String, symptom: String, change: String)] = []

        @Test("A vector conversation played by a scripted server against the real sender", arguments: conversationNames)
        func vectorConversation(_ name: String) throws {
            let conversation = try #require(ConformanceVectors.named(name))
            let sources = try #require(conversation.clientSources)

            // The sources, exactly as the vector describes them: names, bytes, mode, time.
            let directory = TemporaryDirectory()
            var arguments = ["send", "--timeout", "10", "--keepalive", "0.5"]
            var standardInput: ConformanceVectors.Source?
            var paths: [String] = []
            for source in sources {
                switch source.type {
                case "file":
                    let path = directory.file(source.name)
                    writeContent(source.content, to: path, mode: mode_t(source.mode ?? 0o644))
                    chmod(path, mode_t(source.mode ?? 0o644))
                    var times = [
                        timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2),  // atime: UTIME_OMIT
                        timespec(
                            tv_sec: Int(source.mtimeSeconds.flatMap { Int($0) } ?? 0),
                            tv_nsec: source.mtimeNanoseconds ?? 0
                        ),
                    ]
                    try #require(utimensat(AT_FDCWD, path, &times, 0) == 0)
                    paths.append(path)
                case "stdin":
                    standardInput = source
                    arguments += ["--name", source.name]
                    paths.append("-")
                default:
                    Issue.record("\(name): unknown source type \(source.type)")
                }
            }
            if conversation.isMultiConnection {
                // The sender asks for what the vector's first HELLO asks (SPEC.md §16.1) and
                // opens its joined connections itself.
                let streams = conversation.steps.lazy.compactMap { step -> UInt16? in
                    if step.direction == "client", case .hello(let hello)? = step.record {
                        return hello.parameters.streams
                    }
                    return nil
                }.first
                arguments += ["--streams", "\(streams ?? UInt16(conversation.connections.count))"]
            }
            let script = ConversationScript(conversation: conversation, sources: sources)
            let fake = FakeReceiver(receiveBuffer: 64 << 10, idleLimit: 20, connections: conversation.connections.count)
            {
                script.handle($0, $1)
            }
            arguments += paths + [fake.address]
            let sender = XferProcess(arguments)
            if let standardInput {
                // Fed at the pace the vector gives; the first piece is in the pipe before the
                // sender even connects.
                let handle = sender.stdin.fileHandleForWriting
                let pieces = standardInput.content
                Thread {
                    for piece in pieces {
                        if let hex = piece.hex { try? handle.write(contentsOf: Data(hexBytes(hex))) }
                        if let zeros = piece.zeros { try? handle.write(contentsOf: Data(count: zeros)) }
                        if let pause = piece.pauseSeconds { usleep(UInt32(pause * 1_000_000)) }
                    }
                    try? handle.close()
                }.start()
            }
            let result = sender.finish(closingInput: standardInput == nil)
            try #require(fake.finish() != nil, "the sender did not connect: \(result.stderr)")
            for peer in fake.peers {
                // The client closes first (§7.4), or ends its side after a fatal ERROR (§7.5).
                #expect(
                    peer.clientClose.map { if case .endOfStream = $0.event { true } else { false } } == true,
                    "\(name): the sender did not end connection \(peer.number) with FIN: \(peer.summary)"
                )
            }
            let (problems, summary) = script.finished()
            let report = """
                client sent: \(summary)
                exit \(result.status); stderr: \(result.stderr)
                """
            for problem in problems {
                if let pending = Self.pendingSenderChanges.first(where: {
                    $0.conversation == name && problem.contains($0.symptom)
                }) {
                    // What SPEC.md 1.1 requires and the sender does not do yet (the sender's
                    // files are another engineer's): recorded, not failed.
                    withKnownIssue(Comment(rawValue: pending.change)) { Issue.record("\(name): \(problem)") }
                    continue
                }
                Issue.record("\(name): \(problem)\n\(report)")
            }
            let confirmed = sources.allSatisfy { $0.outcome == "confirmed" }
            if confirmed {
                #expect(result.status == 0, "\(name): every stream is confirmed, so exit 0\n\(report)")
            } else {
                #expect(result.status != 0, "\(name): a stream failed, so not exit 0\n\(report)")
            }
        }
    }
}

/// Plays the server side of a conversation from inside a ``FakeReceiver``: after each client
/// record it sends every server step whose client steps have all arrived, with the sender's
/// transfer IDs in place of the vector's.
///
/// Over several connections (SPEC.md §16) each connection of the fake is the vector's
/// connection of the same number (the sender opens its first one first), with a matcher of its
/// own; the steps keep their order across connections. The steps of blocks marked
/// `any_connection` are not in those matchers: which block goes on which connection is the
/// sender's choice (§16.4), so the script takes each block (BLOCK, DATA, BLOCKEND) where it
/// comes, checks it against the block of that index the vector lists, answers it with that
/// block's BLOCKACK on the connection that carried it, and checks at the end that the blocks
/// over all connections are exactly those listed, each once (SPEC.md §12.1).
final class ConversationScript: @unchecked Sendable {
    private let lock = NSLock()
    private let conversation: ConformanceVectors.Conversation
    private var matchers: [Int: SideMatcher] = [:]
    private var serverSteps: [Int]
    private var peers: [Int: FakePeer] = [:]
    private var preambleSeen: Set<Int> = []

    /// A block the vector lists with `any_connection`.
    private struct ListedBlock {
        var transferID: TransferID
        var bytes: [UInt8] = []
        var digest: UInt64?
        var ack: Record?
        /// Steps of the vector it stands for.
        var steps: [Int] = []
    }

    private var listedBlocks: [UInt32: ListedBlock] = [:]
    /// The span of the `any_connection` steps.
    private var firstBlockStep = Int.max
    private var lastBlockStep = -1
    /// The block open on each connection, and its bytes so far.
    private var openBlocks: [Int: (start: BlockStart, bytes: [UInt8])] = [:]
    /// Each block the sender carried: its index and the connection.
    private var carried: [(index: UInt32, connection: Int)] = []
    private var blockProblems: [String] = []

    init(conversation: ConformanceVectors.Conversation, sources: [ConformanceVectors.Source]) {
        self.conversation = conversation
        let contents = Dictionary(sources.map { ($0.name, $0.bytes) }, uniquingKeysWith: { $1 })
        for connection in conversation.connections {
            var matcher = SideMatcher(
                conversation: conversation,
                side: "client",
                connection: conversation.isMultiConnection ? connection : nil,
                excludingAnyConnection: true
            )
            matcher.sources = contents
            matchers[connection] = matcher
        }
        serverSteps = conversation.steps.indices.filter {
            conversation.steps[$0].direction == "server" && !conversation.steps[$0].isAnyConnection
        }
        var current: UInt32?
        for (index, step) in conversation.steps.enumerated() where step.isAnyConnection {
            firstBlockStep = min(firstBlockStep, index)
            lastBlockStep = max(lastBlockStep, index)
            switch step.record {
            case .block(let start)?:
                listedBlocks[start.index] = ListedBlock(transferID: start.transferID, steps: [index])
                current = start.index
            case .data(let bytes)?:
                if let current { listedBlocks[current]?.bytes += bytes }
                if let current { listedBlocks[current]?.steps.append(index) }
            case .blockEnd(let end)?:
                if let current {
                    listedBlocks[current]?.digest = end.digest
                    listedBlocks[current]?.steps.append(index)
                }
                current = nil
            case .blockAck(let ack)?:
                listedBlocks[ack.index]?.ack = .blockAck(ack)
            default:
                break
            }
        }
    }

    /// Called by the fake for each client record, on the thread of its connection.
    func handle(_ peer: FakePeer, _ record: Record) {
        lock.withLock {
            let connection = peer.number
            peers[connection] = peer
            guard matchers[connection] != nil else {
                blockProblems.append("the sender opened connection \(connection), which the conversation does not have")
                return
            }
            if !preambleSeen.contains(connection) {
                // The fake logs the client's preamble without calling the script.
                preambleSeen.insert(connection)
                for entry in peer.log {
                    if case .preamble(let preamble) = entry.event { matchers[connection]!.feed(.preamble(preamble)) }
                }
            }
            if !listedBlocks.isEmpty, takeBlockRecord(record, connection: connection, peer: peer) {
                sendDueSteps()
                return
            }
            if connection == 1, case .end = record, !listedBlocks.isEmpty {
                // §16.3: END only once every block sent has its BLOCKACK and the server holds
                // every block.
                let missing = listedBlocks.keys.filter { index in !carried.contains { $0.index == index } }.sorted()
                if !missing.isEmpty || !openBlocks.isEmpty {
                    blockProblems.append(
                        "END on connection 1 before every block was sent and acknowledged: missing \(missing), "
                            + "open on connections \(openBlocks.keys.sorted())"
                    )
                }
            }
            matchers[connection]!.feed(.record(copiedRecord(record)))
            sendDueSteps()
        }
    }

    /// Takes a record of a block (BLOCK, DATA or BLOCKEND inside one); false for any other.
    private func takeBlockRecord(_ record: Record, connection: Int, peer: FakePeer) -> Bool {
        switch record {
        case .block(let start):
            if openBlocks[connection] != nil {
                blockProblems.append("connection \(connection): BLOCK \(start.index) while a block is open there")
            }
            // Not before the first connection's server steps that open the offer (HAVE,
            // ANSWER accept) were sent, nor before this connection's own steps listed before
            // the blocks (its JOIN) came.
            if let unsent = serverSteps.first(where: {
                $0 < firstBlockStep && conversation.steps[$0].connectionNumber == 1
            }) {
                blockProblems.append(
                    "connection \(connection): BLOCK \(start.index) before the server sent step \(unsent) "
                        + "(\(conversation.steps[unsent].note))"
                )
            }
            if let own = matchers[connection], !own.hasReceived(stepsBefore: firstBlockStep) {
                blockProblems.append(
                    "connection \(connection): BLOCK \(start.index) before the steps listed before it there"
                )
            }
            // On the first connection, not after what the vector lists after the blocks (END).
            if connection == 1, let first = matchers[1] {
                let before = first.expected.filter { ($0.steps.max() ?? 0) < lastBlockStep }.count
                if first.match().consumed > before {
                    blockProblems.append("connection 1: BLOCK \(start.index) after the offer's END or CANCEL")
                }
            }
            openBlocks[connection] = (start, [])
            return true
        case .data(let bytes):
            guard openBlocks[connection] != nil else { return false }
            openBlocks[connection]!.bytes += bytes
            return true
        case .blockEnd(let end):
            guard let (start, bytes) = openBlocks.removeValue(forKey: connection) else {
                blockProblems.append("connection \(connection): BLOCKEND with no block open")
                return true
            }
            let bindings = matchers[1]!.match().bindings
            let vectorID = bindings.first { $0.value == start.transferID }?.key ?? start.transferID
            let place = "connection \(connection): block \(start.index)"
            guard let listed = listedBlocks[start.index], listed.transferID == vectorID else {
                blockProblems.append(
                    "\(place) of transfer \(start.transferID) is not a block the vector lists (held, or not the offer's)"
                )
                return true
            }
            if let earlier = carried.first(where: { $0.index == start.index }) {
                blockProblems.append("\(place) was already sent on connection \(earlier.connection)")
            }
            carried.append((start.index, connection))
            if bytes != listed.bytes {
                blockProblems.append("\(place): \(bytes.count) bytes that are not the block's \(listed.bytes.count)")
            }
            if end.digest != listed.digest {
                blockProblems.append(
                    "\(place): BLOCKEND \(String(end.digest, radix: 16)), want \(String(listed.digest ?? 0, radix: 16))"
                )
            }
            if let ack = listed.ack {
                peer.send(ack.substituting(bindings))  // on the connection that carried it (§16.4)
            }
            return true
        default:
            return false
        }
    }

    private func sendDueSteps() {
        let first = matchers[1]!.match()
        for connection in matchers.keys where connection != 1 {
            matchers[connection]!.seedBindings = first.bindings
            matchers[connection]!.seedSessions = first.sessions
        }
        while let index = serverSteps.first {
            guard
                matchers.values.allSatisfy({ $0.match().failure == nil && $0.hasReceived(stepsBefore: index) })
            else { return }
            let step = conversation.steps[index]
            guard let peer = peers[step.connectionNumber] else { return }  // not connected yet
            serverSteps.removeFirst()
            if let pause = step.afterSeconds { usleep(UInt32(pause * 1_000_000)) }
            guard let record = step.record else {
                peer.send(raw: step.bytes)  // a preamble, or bytes broken on purpose
                continue
            }
            peer.send(record.substituting(matchers[step.connectionNumber]!.match().bindings))
            switch record {
            case .answer(let answer) where answer.decision != .accept:
                // Not reading for a moment lets a pipelining sender read the ANSWER while it
                // still has the stream to send: it then stops and closes the offer.
                peer.stall(seconds: 0.3)
            case .error(let error) where error.fatal:
                peer.shutdownWrite()  // §7.5: then read to the end
            default:
                break
            }
        }
    }

    /// What is wrong with the client side as it arrived, and what it sent, once every
    /// connection has ended.
    func finished() -> (problems: [String], summary: String) {
        lock.withLock {
            var problems: [String] = []
            var summaries: [String] = []
            for connection in matchers.keys.sorted() {
                matchers[connection]!.close()
                problems += matchers[connection]!.problems()
                let prefix = matchers.count > 1 ? "connection \(connection): " : ""
                summaries.append(prefix + "\(matchers[connection]!.actualSummary)")
            }
            problems += blockProblems
            for (index, listed) in listedBlocks.sorted(by: { $0.key < $1.key })
            where !carried.contains(where: { $0.index == index }) {
                problems.append(
                    "client never sent block \(index) (steps \(listed.steps.map(String.init).joined(separator: ",")))"
                )
            }
            for (connection, open) in openBlocks {
                problems.append("connection \(connection): block \(open.start.index) never ended")
            }
            if !carried.isEmpty {
                summaries.append("blocks: " + carried.map { "\($0.index) on \($0.connection)" }.joined(separator: ", "))
            }
            return (problems, summaries.joined(separator: "\n"))
        }
    }
}
