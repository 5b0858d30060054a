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
            let script = ConversationScript(conversation: conversation, sources: sources)
            let fake = FakeReceiver(receiveBuffer: 64 << 10, idleLimit: 20) { script.handle($0, $1) }
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
            let peer = try #require(fake.finish(), "the sender did not connect: \(result.stderr)")
            // The client closes first (§7.4), or ends its side after a fatal ERROR (§7.5).
            #expect(
                peer.clientClose.map { if case .endOfStream = $0.event { true } else { false } } == true,
                "\(name): the sender did not end the connection with FIN: \(peer.summary)"
            )
            let matcher = script.finished()
            let problems = matcher.problems()
            let report = """
                client sent: \(matcher.actualSummary)
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
final class ConversationScript: @unchecked Sendable {
    private let lock = NSLock()
    private let conversation: ConformanceVectors.Conversation
    private var matcher: SideMatcher
    private var serverSteps: [Int]
    private var preambleSeen = false

    init(conversation: ConformanceVectors.Conversation, sources: [ConformanceVectors.Source]) {
        self.conversation = conversation
        matcher = SideMatcher(conversation: conversation, side: "client")
        matcher.sources = Dictionary(sources.map { ($0.name, $0.bytes) }, uniquingKeysWith: { $1 })
        serverSteps = conversation.steps.indices.filter { conversation.steps[$0].direction == "server" }
    }

    /// Called by the fake for each client record, on its thread.
    func handle(_ peer: FakePeer, _ record: Record) {
        lock.withLock {
            if !preambleSeen {
                // The fake logs the client's preamble without calling the script.
                preambleSeen = true
                for entry in peer.log {
                    if case .preamble(let preamble) = entry.event { matcher.feed(.preamble(preamble)) }
                }
            }
            matcher.feed(.record(copiedRecord(record)))
            sendDueSteps(peer)
        }
    }

    private func sendDueSteps(_ peer: FakePeer) {
        while let index = serverSteps.first {
            guard matcher.match().failure == nil, matcher.hasReceived(stepsBefore: index) else { return }
            serverSteps.removeFirst()
            let step = conversation.steps[index]
            if let pause = step.afterSeconds { usleep(UInt32(pause * 1_000_000)) }
            guard let record = step.record else {
                peer.send(raw: step.bytes)  // a preamble, or bytes broken on purpose
                continue
            }
            peer.send(record.substituting(matcher.match().bindings))
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

    /// The client side as it arrived, once the connection has ended.
    func finished() -> SideMatcher {
        lock.withLock {
            matcher.close()
            return matcher
        }
    }
}
