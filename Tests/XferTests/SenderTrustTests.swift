import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// How one run of `xfer send` ended.
struct SenderRun: CustomStringConvertible {
    var status: Int32
    var reason: Process.TerminationReason
    var stdout: String
    var stderr: String
    /// The test's watchdog killed it (it ran past its limit).
    var killed: Bool

    /// Whether it exited (not killed by a signal) with `status`.
    func exited(_ status: Int32) -> Bool { reason == .exit && self.status == status }

    /// Whether it exited normally with a failure status (not 0, not a crash).
    var failedCleanly: Bool { reason == .exit && status != 0 }

    var description: String {
        let how = reason == .exit ? "exit \(status)" : "killed by signal \(status)"
        return how + (killed ? " (the test's watchdog killed it)" : "") + "; stderr: \(stderr)"
    }
}

/// Kills a process that runs past its limit, so a hanging sender fails its test, not the suite.
private final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private var fired = false

    init(pid: pid_t, seconds: Double) {
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            lock.withLock {
                guard !done else { return }
                fired = true
                kill(pid, SIGKILL)
            }
        }
    }

    /// Stops watching; whether it had fired.
    func cancel() -> Bool {
        lock.withLock {
            done = true
            return fired
        }
    }
}

extension Integration {
    /// The sender against a scripted fake receiver: it may report success only for what the
    /// receiver application ACKed as complete, verified and durable, must reject answers that
    /// break SPEC.md §7 instead of trusting them, and must survive any value on the wire.
    ///
    /// Exit statuses of the contract: 0 all confirmed durable; 23 partial (everything sent
    /// was confirmed, some sources could not be read); 65 integrity; 70 connection lost;
    /// 71 refused; 73 confirmed but not durable; 74 local I/O; 75 timeout; 76 protocol error.
    @Suite struct SenderTrust {
        // MARK: Helpers

        /// Runs `xfer send ARGUMENTS... FAKE` and then waits for the fake's connection to end.
        static func send(
            _ arguments: [String],
            to fake: FakeReceiver,
            limit: Double = 40
        ) -> (SenderRun, FakePeer?) {
            let process = XferProcess(["send"] + arguments + [fake.address])
            let watchdog = Watchdog(pid: process.process.processIdentifier, seconds: limit)
            let finished = process.finish()
            let killed = watchdog.cancel()
            let run = SenderRun(
                status: finished.status,
                reason: process.process.terminationReason,
                stdout: finished.stdout,
                stderr: finished.stderr,
                killed: killed
            )
            return (run, fake.finish())
        }

        /// A file of `size` zero bytes that takes no space (a hole), at `name` in `directory`.
        static func sparseFile(_ directory: TemporaryDirectory, _ name: String, size: Int64) -> String {
            let path = directory.file(name)
            let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644)
            precondition(fd >= 0 && ftruncate(fd, off_t(size)) == 0, "cannot make \(path)")
            close(fd)
            return path
        }

        /// A script for a correct receiver, except that END is answered by `onEnd`.
        static func answeringEnd(_ onEnd: @escaping (FakePeer, Offer, End) -> Void) -> FakeReceiver.Script {
            { peer, record in
                if case .end(let end) = record, let offer = peer.currentOffer {
                    onEnd(peer, offer, end)
                } else {
                    peer.standard(record)
                }
            }
        }

        /// The DATA bytes of stream `id` that the fake read after the first entry that `matches`.
        static func dataBytes(
            of id: TransferID,
            in peer: FakePeer,
            after matches: (FakeEvent) -> Bool
        ) -> UInt64 {
            var seen = false
            var total: UInt64 = 0
            for entry in peer.log {
                if !seen {
                    seen = matches(entry.event)
                } else if case .data(let stream, let count) = entry.event, stream == id {
                    total += UInt64(count)
                }
            }
            return total
        }

        static let strangerID = TransferID(high: 0xDEAD_BEEF, low: 0x0BAD_F00D)

        // MARK: 1. Durability

        @Test("An ACK without the durable flag: exit 73, and 0 only with --allow-nondurable")
        func nonDurableAck() {
            let source = TemporaryDirectory()
            let bytes = source.makeFile("soft.bin", count: 10_000)
            let script = Self.answeringEnd { peer, offer, _ in
                peer.ack(
                    offer.transferID,
                    length: UInt64(bytes.count),
                    digest: FakeReceiver.digest(bytes),
                    durable: false
                )
            }
            let (plain, peer) = Self.send([source.file("soft.bin")], to: FakeReceiver(script: script))
            #expect(plain.exited(73), "\(plain) — \(peer?.summary ?? "no connection")")
            let (allowed, allowedPeer) = Self.send(
                ["--allow-nondurable", source.file("soft.bin")],
                to: FakeReceiver(script: script)
            )
            #expect(allowed.exited(0), "\(allowed) — \(allowedPeer?.summary ?? "no connection")")
        }

        // MARK: 2. Answers that break the conversation rules

        @Test("An ACK before the sender sent END is a protocol error (76)")
        func ackBeforeEnd() {
            let source = TemporaryDirectory()
            // Far more than the sender's socket buffer (up to 4 MiB here) and the fake's can
            // hold, so its END cannot have left before the ACK is read.
            let bytes = source.makeFile("early.bin", count: 32 << 20)
            let digest = FakeReceiver.digest(bytes)
            let fake = FakeReceiver(receiveBuffer: 64 << 10) { peer, record in
                switch record {
                case .offer(let offer):
                    peer.accept(offer)
                    // The right length and digest, but before the data: a receiver cannot
                    // have verified bytes it has not read.
                    peer.ack(offer.transferID, length: UInt64(bytes.count), digest: digest)
                    // Not reading for a moment: the sender cannot have put its END (32 MiB
                    // further on) into the socket before this ACK reached it.
                    peer.stall(seconds: 0.5)
                case .end: break  // already "acknowledged"
                default: peer.standard(record)
                }
            }
            let (run, peer) = Self.send(["--timeout", "5", source.file("early.bin")], to: fake)
            #expect(run.exited(76), "\(run) — \(peer?.summary ?? "no connection")")
        }

        @Test("A second ACK for the same ID with another digest is a protocol error (76)")
        func secondAck() {
            let source = TemporaryDirectory()
            let bytes = source.makeFile("twice.bin", count: 100_000)
            let digest = FakeReceiver.digest(bytes)
            let fake = FakeReceiver(
                script: Self.answeringEnd { peer, offer, _ in
                    peer.ack(offer.transferID, length: UInt64(bytes.count), digest: digest)
                    peer.ack(offer.transferID, length: UInt64(bytes.count), digest: digest ^ 0x5A5A)
                }
            )
            let (run, peer) = Self.send(["--timeout", "5", source.file("twice.bin")], to: fake)
            #expect(run.exited(76), "\(run) — \(peer?.summary ?? "no connection")")
        }

        @Test("An ACK followed by a non-fatal ERROR for the same ID is a protocol error (76)")
        func errorAfterAck() {
            let source = TemporaryDirectory()
            let bytes = source.makeFile("undone.bin", count: 100_000)
            let digest = FakeReceiver.digest(bytes)
            let fake = FakeReceiver(
                script: Self.answeringEnd { peer, offer, _ in
                    peer.ack(offer.transferID, length: UInt64(bytes.count), digest: digest)
                    peer.error(.ioError, id: offer.transferID, fatal: false, message: "after all, no")
                }
            )
            let (run, peer) = Self.send(["--timeout", "5", source.file("undone.bin")], to: fake)
            #expect(run.exited(76), "\(run) — \(peer?.summary ?? "no connection")")
        }

        @Test("An ANSWER accept at an offset other than the offer's is a protocol error (76)")
        func acceptAtOtherOffset() {
            let source = TemporaryDirectory()
            source.makeFile("shifted.bin", count: 100_000)
            let fake = FakeReceiver { peer, record in
                if case .offer(let offer) = record {
                    peer.accept(offer, offset: offer.offset + 5)
                } else {
                    peer.standard(record)
                }
            }
            let (run, peer) = Self.send(["--timeout", "5", source.file("shifted.bin")], to: fake)
            #expect(peer?.offers.first?.offset == 0, "the offer's offset is 0, the answer's 5")
            #expect(run.exited(76), "\(run) — \(peer?.summary ?? "no connection")")
        }

        @Test("An ACK for an ID never offered is a protocol error (76)")
        func ackForStranger() {
            let source = TemporaryDirectory()
            source.makeFile("known.bin", count: 100_000)
            let fake = FakeReceiver(
                script: Self.answeringEnd { peer, offer, end in
                    peer.ack(offer, end: end)
                    peer.ack(Self.strangerID, length: end.totalLength, digest: end.digest)
                }
            )
            let (run, peer) = Self.send(["--timeout", "5", source.file("known.bin")], to: fake)
            #expect(run.exited(76), "\(run) — \(peer?.summary ?? "no connection")")
        }

        // MARK: 3. No value from the wire may crash the sender

        /// Two files of 4 KiB, `first.bin` and `second.bin`, sent to a fake running `script`:
        /// the sender must exit normally, with a failure status.
        static func expectNoCrash(_ what: String, script: @escaping FakeReceiver.Script) {
            let source = TemporaryDirectory()
            source.makeFile("first.bin", count: 4096)
            source.makeFile("second.bin", count: 4096)
            let (run, peer) = Self.send(
                ["--timeout", "5", source.file("first.bin"), source.file("second.bin")],
                to: FakeReceiver(script: script)
            )
            #expect(run.reason == .exit, "\(what): the sender crashed: \(run) — \(peer?.summary ?? "no connection")")
            #expect(run.failedCleanly, "\(what): \(run) — \(peer?.summary ?? "no connection")")
        }

        @Test("PROGRESS received = 2^64-1 for the offered stream: a normal failure, no crash")
        func progressOverflow() {
            Self.expectNoCrash("PROGRESS 2^64-1") { peer, record in
                peer.standard(record)
                if case .offer(let offer) = record, peer.offers.count == 1 {
                    peer.progress(offer.transferID, received: .max)
                }
            }
        }

        @Test("PROGRESS received = 2^64-1 for an ID never offered: a normal failure, no crash")
        func progressForStranger() {
            Self.expectNoCrash("PROGRESS 2^64-1 for a stranger") { peer, record in
                peer.standard(record)
                if case .offer = record, peer.offers.count == 1 {
                    peer.progress(Self.strangerID, received: .max)
                }
            }
        }

        @Test("ANSWER resume at offset 2^64-1: a normal failure, no crash")
        func resumeAtMaxOffset() {
            Self.expectNoCrash("ANSWER resume 2^64-1") { peer, record in
                let resumed = peer.offers.count == 1
                switch record {
                case .offer(let offer) where resumed: peer.answer(offer, .resume, offset: .max)
                case .end where resumed: break  // a resumed offer's DATA and END are discarded
                default: peer.standard(record)
                }
            }
        }

        @Test("ACK with committed length 2^64-1: a normal failure, no crash")
        func ackOfMaxLength() {
            Self.expectNoCrash("ACK 2^64-1") { peer, record in
                if case .end(let end) = record, let offer = peer.currentOffer {
                    peer.ack(offer, end: end, length: .max)
                } else {
                    peer.standard(record)
                }
            }
        }

        // MARK: 4. Every ACK matched, but no GOODBYE

        enum Hangup: String, CaseIterable, Sendable {
            /// FIN after the client's GOODBYE, reading on to its end.
            case afterClientGoodbye
            /// FIN right after the last ACK, reading on to the client's end.
            case rightAfterLastAck
        }

        @Test(
            "Every ACK matched, then the receiver closed without GOODBYE: exit 0, a warning, one verdict",
            arguments: Hangup.allCases
        )
        func noGoodbye(_ hangup: Hangup) {
            let source = TemporaryDirectory()
            source.makeFile("one.bin", count: 3000)
            source.makeFile("two.bin", count: 5000)
            var acked = 0
            let fake = FakeReceiver { peer, record in
                switch record {
                case .end:
                    peer.standard(record)
                    acked += 1
                    if hangup == .rightAfterLastAck && acked == 2 { peer.shutdownWrite() }
                case .goodbye:
                    if hangup == .afterClientGoodbye { peer.shutdownWrite() }
                default:
                    peer.standard(record)
                }
            }
            let (run, peer) = Self.send(["--timeout", "5", source.file("one.bin"), source.file("two.bin")], to: fake)
            let context = "\(run) — \(peer?.summary ?? "no connection")"
            #expect(peer?.clientRecords.contains(.goodbye) == true, "the sender said GOODBYE: \(context)")
            #expect(run.exited(0), "\(context)")
            #expect(run.stderr.lowercased().contains("goodbye"), "a warning names the missing GOODBYE: \(context)")
            let lines = run.stderr.split(separator: "\n").map { $0.lowercased() }
            let saysConfirmed = lines.contains { $0.contains("confirmed") && !$0.contains("not confirmed") }
            let saysNotConfirmed = lines.contains { $0.contains("not confirmed") }
            if run.status == 0 {
                #expect(saysConfirmed && !saysNotConfirmed, "exit 0 must come with a confirmation: \(context)")
            } else {
                #expect(!saysConfirmed, "a failing exit must not say 'confirmed': \(context)")
            }
        }

        // MARK: 5. A stream failed by the receiver is not sent on

        @Test("A non-fatal ERROR mid-stream: the sender cancels that stream soon and goes on (71)")
        func nonFatalErrorStopsStream() {
            let source = TemporaryDirectory()
            let big = Self.sparseFile(source, "big.bin", size: 64 << 20)
            source.makeFile("small.bin", count: 5000)
            var errorSent = false
            let fake = FakeReceiver(receiveBuffer: 64 << 10) { peer, record in
                let inBig = peer.currentOffer?.name == "big.bin"
                switch record {
                case .data where inBig && !errorSent:
                    errorSent = true
                    peer.error(.noSpace, id: peer.currentOffer!.transferID, fatal: false, message: "disk full")
                case .end where inBig:
                    break  // failed: no ACK
                default:
                    peer.standard(record)
                }
            }
            let (run, peer) = Self.send(["--json", "--timeout", "5", big, source.file("small.bin")], to: fake)
            guard let peer, let bigID = peer.offers.first(where: { $0.name == "big.bin" })?.transferID else {
                Issue.record("big.bin was not offered: \(run)")
                return
            }
            let context = "\(run) — \(peer.summary)"
            let afterError = Self.dataBytes(of: bigID, in: peer) {
                if case .sent(.error) = $0 { return true }
                return false
            }
            #expect(afterError < 8 << 20, "\(afterError) bytes of big.bin after the ERROR: \(context)")
            let closings = peer.closings(of: bigID)
            #expect(
                closings.count == 1 && closings.allSatisfy { if case .cancel = $0 { true } else { false } },
                "big.bin is closed by one CANCEL, not END: \(context)"
            )
            #expect(peer.offers.contains { $0.name == "small.bin" }, "the next file is offered: \(context)")
            #expect(
                jsonEvents(run.stdout).contains {
                    $0["event"] as? String == "confirmed" && $0["name"] as? String == "small.bin"
                },
                "small.bin is confirmed: \(run.stdout)"
            )
            #expect(run.exited(71), "\(context)")
        }

        // MARK: 8. A receiver that talks but does not read

        @Test("Writes blocked while the receiver sends PROGRESS are not a timeout (exit 0)")
        func blockedWriterHearsProgress() {
            let source = TemporaryDirectory()
            let big = Self.sparseFile(source, "big.bin", size: 64 << 20)
            var stalledAt: UInt64?
            let fake = FakeReceiver(receiveBuffer: 64 << 10) { peer, record in
                if case .data = record, stalledAt == nil, let id = peer.currentOffer?.transferID {
                    stalledAt = peer.dataBytes(for: id)
                    // 5 s without reading, longer than the sender's timeout of 2 s, but
                    // talking all the while: the receiver is alive.
                    peer.stall(seconds: 5, every: 0.5) { $0.progress(id, received: $0.dataBytes(for: id)) }
                } else {
                    peer.standard(record)
                }
            }
            let (run, peer) = Self.send(["--timeout", "2", big], to: fake)
            #expect((stalledAt ?? .max) < 32 << 20, "the fake stopped reading early in the file")
            #expect(run.exited(0), "\(run) — \(peer?.summary ?? "no connection")")
        }

        // MARK: 9. KEEPALIVE while hashing a kept prefix

        @Test("Hashing the kept prefix for a resume sends KEEPALIVE (--keepalive 1: no silence of 2 s)")
        func keepAliveWhileHashing() {
            var size: Int64 = 3 << 30
            for attempt in 1...2 {
                let source = TemporaryDirectory()
                let path = Self.sparseFile(source, "huge.bin", size: size)
                let resumeAt = UInt64(size) - (1 << 20)
                let fake = FakeReceiver { peer, record in
                    if case .offer(let offer) = record, peer.offers.count == 1 {
                        peer.answer(offer, .resume, offset: resumeAt)
                    } else {
                        peer.standard(record)
                    }
                }
                let (run, peer) = Self.send(["--keepalive", "1", path], to: fake, limit: 80)
                guard let peer else {
                    Issue.record("no connection: \(run)")
                    return
                }
                let resumed = peer.time {
                    if case .sent(.answer(let answer)) = $0, answer.decision == .resume { return true }
                    return false
                }
                let reoffered = peer.log.filter {
                    if case .record(.offer) = $0.event { return true }
                    return false
                }.dropFirst().first?.time
                guard let resumed, let reoffered else {
                    Issue.record("no re-offer after the resume ANSWER: \(run) — \(peer.summary)")
                    return
                }
                let hashing = reoffered - resumed
                if hashing < 3 {
                    if attempt == 1 && hashing > 0.01 {
                        // Too fast to tell: a bigger (still sparse) file hashes for longer.
                        size = (Int64(Double(size) * 4.5 / hashing) >> 20) << 20
                        continue
                    }
                    Issue.record("hashing \(size) bytes took only \(hashing) s: too short to test keep-alive")
                    return
                }
                let times = [resumed] + peer.arrivals.map(\.time).filter { $0 > resumed && $0 <= reoffered }
                let gap = zip(times, times.dropFirst()).map { $1 - $0 }.max() ?? 0
                #expect(
                    gap < 2,
                    "silent for \(String(format: "%.2f", gap)) s of \(String(format: "%.2f", hashing)) s of hashing"
                )
                #expect(peer.offers.last?.offset == resumeAt, "re-offered from the resume point: \(peer.summary)")
                #expect(run.exited(0), "\(run) — \(peer.summary)")
                return
            }
        }

        // MARK: 10. --no-resume

        @Test("--no-resume: a fresh transfer ID each run, at offset 0; without it the same ID")
        func noResumeFreshID() {
            let source = TemporaryDirectory()
            source.makeFile("same.bin", count: 5000)
            func offer(_ options: [String]) -> Offer? {
                let (run, peer) = Self.send(options + [source.file("same.bin")], to: FakeReceiver())
                #expect(run.exited(0), "\(options): \(run)")
                return peer?.offers.first
            }
            let plain = [offer([]), offer([])]
            let fresh = [offer(["--no-resume"]), offer(["--no-resume"])]
            #expect(plain[0] != nil && plain[0]?.transferID == plain[1]?.transferID, "retries keep their ID")
            #expect(fresh[0] != nil && fresh[1] != nil, "--no-resume runs offered the file")
            #expect(fresh[0]?.transferID != fresh[1]?.transferID, "--no-resume: another ID each time")
            #expect(
                fresh.allSatisfy { $0 == nil || $0?.transferID != plain[0]?.transferID },
                "--no-resume: not the resumable ID"
            )
            #expect((plain + fresh).allSatisfy { $0 == nil || $0?.offset == 0 }, "every offer starts at 0")
        }

        @Test("A digest mismatch (65) tells the user about --no-resume")
        func integrityFailureMentionsNoResume() {
            let source = TemporaryDirectory()
            let bytes = source.makeFile("bent.bin", count: 50_000)
            let fake = FakeReceiver(
                script: Self.answeringEnd { peer, offer, _ in
                    peer.ack(offer.transferID, length: UInt64(bytes.count), digest: FakeReceiver.digest(bytes) ^ 1)
                }
            )
            let (run, peer) = Self.send([source.file("bent.bin")], to: fake)
            #expect(run.exited(65), "\(run) — \(peer?.summary ?? "no connection")")
            #expect(run.stderr.contains("--no-resume"), "\(run.stderr)")
        }

        // MARK: 11. After a fatal ERROR, read to the end before closing

        @Test("After a fatal ERROR the sender reads until the receiver's FIN, then closes: no RST")
        func readsToEndAfterFatalError() {
            let source = TemporaryDirectory()
            let big = Self.sparseFile(source, "big.bin", size: 64 << 20)
            var failed = false
            let fake = FakeReceiver { peer, record in
                guard !failed else { return }  // after its fatal ERROR the fake only reads
                if case .data = record {
                    failed = true
                    peer.error(.ioError, fatal: true, message: "the fake's disk broke")
                    peer.after(0.5) { $0.shutdownWrite() }
                } else {
                    peer.standard(record)
                }
            }
            let (run, peer) = Self.send(["--timeout", "10", big], to: fake)
            guard let peer else {
                Issue.record("no connection: \(run)")
                return
            }
            let context = "\(run) — \(peer.summary)"
            #expect(run.exited(71), "ioError from the receiver: \(context)")
            let fin = peer.time {
                if case .shutdownWrite = $0 { return true }
                return false
            }
            let close = peer.clientClose
            #expect(
                close.map {
                    if case .endOfStream = $0.event { return true }
                    return false
                } == true,
                "the client's close arrives as FIN, not RST: \(context)"
            )
            #expect(fin != nil, "the client closed before the fake's FIN: \(context)")
            if let fin, let close {
                #expect(close.time > fin, "the client closed only after the fake's FIN: \(context)")
            }
        }

        // MARK: 16. A source that changes while it is read

        enum SourceChange: String, CaseIterable, Sendable {
            case shrinks, grows, isRewritten

            func apply(to path: String) {
                switch self {
                case .shrinks:
                    precondition(truncate(path, 1 << 20) == 0)
                case .grows:
                    let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
                    let more = [UInt8](repeating: 0x55, count: 1 << 20)
                    precondition(fd >= 0 && write(fd, more, more.count) == more.count)
                    close(fd)
                case .isRewritten:
                    // Same size; bytes already sent change, and so does the modification time.
                    let fd = open(path, O_WRONLY | O_CLOEXEC)
                    let byte: [UInt8] = [0x55]
                    precondition(fd >= 0 && pwrite(fd, byte, 1, 4096) == 1)
                    close(fd)
                }
            }
        }

        @Test(
            "A source that changes while it is read fails: CANCEL sourceUnreadable, 74 or 23",
            arguments: SourceChange.allCases
        )
        func sourceChangesWhileRead(_ change: SourceChange) throws {
            let source = TemporaryDirectory()
            let path = Self.sparseFile(source, "moving.bin", size: 200 << 20)
            // An old modification time, so that any write shows in it.
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_600_000_000)],
                ofItemAtPath: path
            )
            var changed = false
            let fake = FakeReceiver(receiveBuffer: 256 << 10) { peer, record in
                // The fake does not read while the file changes: the sender is mid-file.
                if case .data = record, !changed, let id = peer.currentOffer?.transferID,
                    peer.dataBytes(for: id) >= 8 << 20
                {
                    changed = true
                    change.apply(to: path)
                }
                peer.standard(record)
            }
            let (run, peer) = Self.send(["--timeout", "5", path], to: fake)
            guard let peer, let id = peer.offers.first?.transferID else {
                Issue.record("no offer: \(run)")
                return
            }
            let context = "\(run) — \(peer.summary)"
            #expect(changed, "the file changed mid-transfer: \(context)")
            #expect(run.reason == .exit && [74, 23].contains(run.status), "\(context)")
            let stderr = run.stderr.lowercased()
            #expect(
                ["changed", "shrank", "grew", "modified"].contains { stderr.contains($0) },
                "stderr says the file changed: \(context)"
            )
            let closings = peer.closings(of: id)
            #expect(
                closings.count == 1
                    && closings.allSatisfy {
                        if case .cancel(let cancel) = $0 { cancel.code == .sourceUnreadable } else { false }
                    },
                "closed by one CANCEL sourceUnreadable, never END: \(context)"
            )
        }

        // MARK: Mutant killers: the checks the sender makes today

        @Test("An ACK with a wrong digest: 65")
        func wrongDigest() {
            let source = TemporaryDirectory()
            let bytes = source.makeFile("digest.bin", count: 20_000)
            let fake = FakeReceiver(
                script: Self.answeringEnd { peer, offer, _ in
                    peer.ack(
                        offer.transferID,
                        length: UInt64(bytes.count),
                        digest: FakeReceiver.digest(bytes) ^ 1 << 63
                    )
                }
            )
            let (run, peer) = Self.send([source.file("digest.bin")], to: fake)
            #expect(run.exited(65), "\(run) — \(peer?.summary ?? "no connection")")
        }

        @Test("An ACK with a wrong length (one more, one less) and the right digest: 65", arguments: [1, -1])
        func wrongLength(_ delta: Int) {
            let source = TemporaryDirectory()
            let bytes = source.makeFile("length.bin", count: 20_000)
            let fake = FakeReceiver(
                script: Self.answeringEnd { peer, offer, _ in
                    peer.ack(offer.transferID, length: UInt64(bytes.count + delta), digest: FakeReceiver.digest(bytes))
                }
            )
            let (run, peer) = Self.send([source.file("length.bin")], to: fake)
            #expect(run.exited(65), "\(run) — \(peer?.summary ?? "no connection")")
        }

        @Test("An empty file ACKed with length 0 and the digest of nothing is confirmed: 0")
        func emptyFileAck() {
            let source = TemporaryDirectory()
            source.makeFile("empty.bin", count: 0)
            let fake = FakeReceiver(
                script: Self.answeringEnd { peer, offer, _ in
                    // XXH64 of no bytes, from SPEC.md §10, not from the sender's END.
                    peer.ack(offer.transferID, length: 0, digest: 0xEF46_DB37_51D8_E999)
                }
            )
            let (run, peer) = Self.send([source.file("empty.bin")], to: fake)
            #expect(peer?.offers.first?.size == 0)
            #expect(FakeReceiver.digest([UInt8]()) == 0xEF46_DB37_51D8_E999)
            #expect(run.exited(0), "\(run) — \(peer?.summary ?? "no connection")")
        }
    }
}
