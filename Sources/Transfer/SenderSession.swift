import Foundation
import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// What the sender's two threads share: per-stream answers, ACKs and outcomes, the
/// connection's fate, and the idle clock. Every access holds `condition`'s lock.
final class SenderSession: @unchecked Sendable {
    private struct Item {
        var name: String
        var id: TransferID?
        var size: UInt64?
        var answer: Answer?
        var expected: (length: UInt64, digest: UInt64)?
        var ack: Ack?
        var outcome: Outcome?
        var received: UInt64 = 0
    }

    private enum Outcome {
        case confirmed(bytes: UInt64, durable: Bool)
        case failed(TransferError)
    }

    private let condition = NSCondition()
    private let options: SenderOptions
    private let onEvent: @Sendable (SenderEvent) -> Void
    private var items: [Item]
    private var indexByID: [TransferID: Int] = [:]
    private var failure: TransferError?
    private var writeError: SystemError?
    private var readerDone = false
    private var goodbyeReceived = false
    /// How many threads are waiting on the receiver; the idle clock runs only then.
    private var waiters = 0
    private var lastHeard = monotonicSeconds()
    private var progress: SendProgress
    private var lastProgressEvent = 0.0

    init(sources: [SendSource], options: SenderOptions, onEvent: @escaping @Sendable (SenderEvent) -> Void) {
        self.options = options
        self.onEvent = onEvent
        items = sources.map { Item(name: $0.name) }
        var total: UInt64? = 0
        for source in sources {
            switch source {
            case .standardInput: total = nil
            case .file(let path, _):
                var info = stat()
                if stat(path, &info) == 0, let sum = total { total = sum + UInt64(info.st_size) }
            }
        }
        progress = SendProgress(sent: 0, received: 0, confirmed: 0, total: total)
    }

    private func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    // MARK: Called by the writing thread

    var connectionError: TransferError? { locked { failure } }

    func offered(index: Int, id: TransferID, size: UInt64?) {
        locked {
            items[index].id = id
            items[index].size = size
            items[index].answer = nil
            items[index].expected = nil
            indexByID[id] = index
            onEvent(.started(name: items[index].name, size: size))
        }
    }

    /// Counts bytes written to the socket; `force` reports progress even if one was just sent.
    func sent(_ count: UInt64, force: Bool = false) {
        locked {
            progress.sent += count
            reportProgress(force: force)
        }
    }

    func answer(for id: TransferID) -> Answer? {
        locked { indexByID[id].flatMap { items[$0].answer } }
    }

    /// Blocks until the answer to `id` arrives or the connection ends.
    func waitForAnswer(_ id: TransferID) -> Answer? {
        locked {
            waiters += 1
            defer { waiters -= 1 }
            while !readerDone, let index = indexByID[id], items[index].answer == nil { condition.wait() }
            return indexByID[id].flatMap { items[$0].answer }
        }
    }

    /// Blocks until every offer sent has its answer, then returns the streams the
    /// receiver asked to resume, with the offset to resume from.
    func waitForResumeRequests() -> [(index: Int, offset: UInt64)] {
        locked {
            waiters += 1
            defer { waiters -= 1 }
            func pending() -> Bool { items.contains { $0.id != nil && $0.outcome == nil && $0.answer == nil } }
            while !readerDone && pending() { condition.wait() }
            guard !readerDone else { return [] }
            return items.indices.compactMap { index in
                guard items[index].outcome == nil, let answer = items[index].answer, answer.decision == .resume else {
                    return nil
                }
                return (index, answer.offset)
            }
        }
    }

    /// The sender has sent (or, for an already committed stream, hashed) the whole stream.
    func expect(_ id: TransferID, length: UInt64, digest: UInt64) {
        locked {
            guard let index = indexByID[id] else { return }
            items[index].expected = (length, digest)
            resolve(index)
        }
    }

    func localFailure(index: Int, _ error: TransferError) {
        locked { fail(index, error) }
    }

    func writeFailed(_ error: SystemError) {
        locked { writeError = error }
    }

    /// Everything is written: from now on the sender only waits for the receiver.
    func writerIsWaiting() {
        locked {
            waiters += 1
            lastHeard = monotonicSeconds()
        }
    }

    func waitForReader() {
        locked { while !readerDone { condition.wait() } }
    }

    func report() -> SendReport {
        locked {
            var report = SendReport()
            let lost: TransferError =
                failure ?? writeError.map { .connectionLost("sending failed: \($0.reason)") }
                ?? .connectionLost("the receiver did not acknowledge it before the connection ended")
            for item in items {
                switch item.outcome {
                case .confirmed(let bytes, let durable): report.confirmed.append((item.name, bytes, durable))
                case .failed(let error): report.failures.append((item.name, error))
                case nil: report.failures.append((item.name, lost))
                }
            }
            if failure != nil || writeError != nil || !goodbyeReceived { report.connectionError = lost }
            return report
        }
    }

    // MARK: Called by the reading thread

    /// Reads the receiver's records until its GOODBYE, a fatal error or the end.
    func readReplies(from socket: TCPSocket) {
        var reader = RecordReader(socket: socket)
        do throws(ReadFailure) {
            guard case .preamble(let preamble) = try next(&reader) else { throw ReadFailure.framing(.badMagic([])) }
            if preamble.version != Preamble.currentVersion {
                // The receiver speaks another version; its fatal ERROR follows (SPEC.md §3).
                if case .record(.error(let error)) = try next(&reader) {
                    throw ReadFailure.idle(.fromReceiver(code: error.code, message: error.message))
                }
                throw ReadFailure.idle(
                    .protocolViolation("receiver speaks protocol version \(preamble.version), not 1")
                )
            }
            switch try next(&reader) {
            case .record(.welcome): break
            case .record(.error(let error)):
                throw ReadFailure.idle(.fromReceiver(code: error.code, message: error.message))
            default: throw ReadFailure.idle(.protocolViolation("receiver did not start with WELCOME"))
            }
            while true {
                guard case .record(let record) = try next(&reader) else {
                    throw ReadFailure.idle(.protocolViolation("second preamble"))
                }
                if try handle(record) { break }
            }
        } catch {
            locked {
                guard failure == nil else { return }
                switch error {
                case .endOfStream: failure = .connectionLost("the receiver closed the connection")
                case .system(let error) where error.errno == ECONNRESET:
                    failure = .connectionLost("connection reset by the receiver")
                case .system(let error): failure = .connectionLost(error.description)
                case .framing(let error): failure = .protocolViolation("from the receiver: \(error)")
                case .idle(let error): failure = error
                }
            }
        }
        locked {
            readerDone = true
            condition.broadcast()
        }
    }

    private func next(_ reader: inout RecordReader) throws(ReadFailure) -> RecordDecoder.Message {
        let message = try reader.next { (_: Double) throws(ReadFailure) in
            try locked { () throws(ReadFailure) in
                if waiters > 0 && monotonicSeconds() - lastHeard > options.idleTimeout {
                    throw .idle(.timeout("no word from the receiver for \(Int(options.idleTimeout)) s"))
                }
            }
        }
        locked { lastHeard = monotonicSeconds() }
        return message
    }

    /// Applies one record; true when the conversation is over.
    private func handle(_ record: Record) throws(ReadFailure) -> Bool {
        try locked { () throws(ReadFailure) -> Bool in
            defer { condition.broadcast() }
            switch record {
            case .answer(let answer):
                guard let index = indexByID[answer.transferID] else {
                    throw .idle(.protocolViolation("ANSWER for an unknown transfer"))
                }
                items[index].answer = answer
                if answer.decision == .refuse {
                    fail(index, .fromReceiver(code: answer.code, message: answer.message))
                }
            case .progress(let report):
                guard let index = indexByID[report.transferID] else { return false }
                progress.received += report.received - min(report.received, items[index].received)
                items[index].received = max(items[index].received, report.received)
                reportProgress()
            case .ack(let ack):
                guard let index = indexByID[ack.transferID] else {
                    throw .idle(.protocolViolation("ACK for an unknown transfer"))
                }
                items[index].ack = ack
                resolve(index)
            case .error(let error):
                if error.fatal || error.transferID == .none {
                    failure = .fromReceiver(code: error.code, message: error.message)
                    return true
                }
                guard let index = indexByID[error.transferID] else { return false }
                fail(index, .fromReceiver(code: error.code, message: error.message))
            case .goodbye:
                goodbyeReceived = true
                return true
            case .unknown, .keepAlive:
                break
            default:
                throw .idle(.protocolViolation("the receiver sent \(record.kind), which only a sender sends"))
            }
            return false
        }
    }

    // MARK: Helpers, lock held

    /// Decides a stream once both the receiver's ACK and the sender's own totals are known.
    private func resolve(_ index: Int) {
        guard items[index].outcome == nil, let ack = items[index].ack, let expected = items[index].expected else {
            return
        }
        if ack.committedLength == expected.length && ack.digest == expected.digest {
            items[index].outcome = .confirmed(bytes: ack.committedLength, durable: ack.durable)
            progress.confirmed += ack.committedLength
            progress.received += ack.committedLength - min(ack.committedLength, items[index].received)
            items[index].received = ack.committedLength
            onEvent(.confirmed(name: items[index].name, bytes: ack.committedLength, durable: ack.durable))
            reportProgress(force: true)
        } else {
            fail(
                index,
                .integrity(
                    "receiver committed \(ack.committedLength) bytes with digest \(hex16(ack.digest)); "
                        + "sent \(expected.length) bytes with digest \(hex16(expected.digest))"
                )
            )
        }
    }

    private func fail(_ index: Int, _ error: TransferError) {
        guard items[index].outcome == nil else { return }
        items[index].outcome = .failed(error)
        onEvent(.failed(name: items[index].name, error: error))
    }

    private func reportProgress(force: Bool = false) {
        let now = monotonicSeconds()
        guard force || now - lastProgressEvent >= 0.1 else { return }
        lastProgressEvent = now
        onEvent(.progress(progress))
    }
}
