import CXferSystem
import Foundation
import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// How one connection to the receiver ended.
public struct ConnectionSummary: Sendable {
    /// The peer's address.
    public var peer: String
    /// Streams committed and acknowledged, and their bytes.
    public var committedFiles = 0
    /// Bytes in those streams.
    public var committedBytes: UInt64 = 0
    /// Streams that failed (refused, damaged, unwritable).
    public var failedFiles = 0
    /// What ended the connection abnormally, if anything did.
    public var failure: TransferError?
}

/// The receiving side of one connection (SPEC.md §7.3), on its own thread.
final class ReceiverConnection {
    /// A stream being received into its partial file.
    private final class Incoming {
        let offer: Offer
        let components: [String]
        /// The partial file; closed (-1) once it waits in a commit batch of several files.
        var fd: CInt
        var received: UInt64
        var digest = StreamDigest()
        /// Start of the byte range whose write-back has been started but not waited for.
        var writebackStart: UInt64
        var previousWindow: (start: UInt64, length: UInt64)?
        var durable: UInt64
        var lastProgress = monotonicSeconds()

        init(offer: Offer, components: [String], fd: CInt, start: UInt64) {
            self.offer = offer
            self.components = components
            self.fd = fd
            received = start
            writebackStart = start
            durable = start
        }
    }

    /// Ends the conversation: `fatal` is reported to the peer in an ERROR first.
    private enum Stop: Error {
        case fatal(ErrorCode, String)
        case peerGone(String)
    }

    private static let writePiece = 256 << 10

    private let socket: TCPSocket
    private let directory: TargetDirectory
    private let journal: CommitJournal
    private let options: ReceiverOptions
    private let log: @Sendable (String) -> Void
    private let writer: RecordWriter
    private var reader: RecordReader
    private var current: Incoming?
    private var discarding: TransferID?
    private var pending: [Incoming] = []
    private var pendingBytes: UInt64 = 0
    private var lastInput = monotonicSeconds()
    private var summary: ConnectionSummary
    /// Whether the peer sent a valid preamble (so our preamble and ERRORs make sense to it).
    private var greeted = false

    init(
        socket: TCPSocket,
        peer: String,
        directory: TargetDirectory,
        journal: CommitJournal,
        options: ReceiverOptions,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.socket = socket
        self.directory = directory
        self.journal = journal
        self.options = options
        self.log = log
        writer = RecordWriter(socket: socket)
        reader = RecordReader(socket: socket)
        summary = ConnectionSummary(peer: peer)
    }

    /// Serves the connection to its end and closes the socket.
    func run() -> ConnectionSummary {
        // Reads wake every second for the idle check; a write that makes no progress for
        // the idle timeout fails.
        socket.setTimeouts(receive: 1, send: options.idleTimeout)
        do {
            try converse()
            try commitPending()
            writer.enqueue(.goodbye)
            try flush()
            // The client closes first (SPEC.md §7.4): wait for its FIN, then close.
            socket.drain(seconds: options.idleTimeout)
            socket.close()
        } catch let stop as Stop {
            end(stop)
        } catch {
            end(.fatal(.internalError, "\(error)"))
        }
        return summary
    }

    private func converse() throws {
        guard case .preamble(let preamble) = try next() else { throw Stop.fatal(.protocolViolation, "no preamble") }
        greeted = true
        writer.enqueue(bytes: Preamble().bytes)
        guard preamble.version == Preamble.currentVersion else {
            throw Stop.fatal(.unsupportedVersion, "this receiver speaks protocol version 1, not \(preamble.version)")
        }
        guard case .record(.hello) = try next() else {
            throw Stop.fatal(.protocolViolation, "expected HELLO after the preamble")
        }
        writer.enqueue(.welcome(Welcome(parameters: [.agent(agentName)])))
        while true {
            let message: RecordDecoder.Message
            if let ready = try readIfReady() {
                message = ready
            } else {
                // About to wait for the sender: finish what it may be waiting for first.
                try commitPending()
                try flush()
                message = try next()
            }
            guard case .record(let record) = message else { throw Stop.fatal(.protocolViolation, "a second preamble") }
            if try handle(record) { return }
            do {
                try writer.flushIfDue()
            } catch {
                throw Stop.peerGone("sending failed: \(error.reason)")
            }
        }
    }

    /// Applies one record; true on the sender's GOODBYE.
    private func handle(_ record: Record) throws -> Bool {
        switch record {
        case .offer(let offer):
            guard current == nil && discarding == nil else {
                throw Stop.fatal(.protocolViolation, "OFFER before the previous stream's END or CANCEL")
            }
            try receiveOffer(offer)
        case .data(let bytes):
            if discarding != nil { return false }
            guard let incoming = current else { throw Stop.fatal(.protocolViolation, "DATA without an OFFER") }
            try receive(bytes, into: incoming)
        case .end(let end):
            if discarding != nil {
                discarding = nil
                return false
            }
            guard let incoming = current else { throw Stop.fatal(.protocolViolation, "END without an OFFER") }
            current = nil
            try finish(incoming, end: end)
        case .cancel(let cancel):
            if discarding != nil {
                discarding = nil
                return false
            }
            guard let incoming = current else { throw Stop.fatal(.protocolViolation, "CANCEL without an OFFER") }
            current = nil
            keepPartial(incoming)
            log("\(summary.peer): '\(incoming.offer.name)' cancelled by the sender: \(cancel.message)")
        case .goodbye:
            guard current == nil && discarding == nil else {
                throw Stop.fatal(.protocolViolation, "GOODBYE inside a stream")
            }
            return true
        case .error(let error):
            if error.fatal { throw Stop.peerGone("sender reported \(error.code): \(error.message)") }
            log("\(summary.peer): sender reported \(error.code): \(error.message)")
        case .unknown, .keepAlive:
            break  // reading it reset the idle clock; that was its purpose
        default:
            throw Stop.fatal(.protocolViolation, "\(record.kind) is sent by receivers, not senders")
        }
        return false
    }

    // MARK: Offers

    private func receiveOffer(_ offer: Offer) throws {
        let id = offer.transferID
        let components: [String]
        switch TargetDirectory.components(of: offer.name) {
        case .success(let parts): components = parts
        case .failure(let error): return refuse(offer, error)
        }
        switch directory.openParent(of: components, create: false) {
        case .success(let fd): if fd >= 0 { close(fd) }
        case .failure(let error): return refuse(offer, error)
        }
        if let entry = journal.entry(for: id), entry.name == offer.name,
            offer.size == nil || offer.size == entry.length,
            directory.committedSize(of: components) == entry.length
        {
            answer(offer, .alreadyCommitted, offset: entry.length)
            writer.enqueue(
                .ack(Ack(transferID: id, committedLength: entry.length, digest: entry.digest, durable: true))
            )
            log("\(summary.peer): '\(offer.name)' already committed; acknowledged again")
            return
        }
        guard journal.claim(id) else {
            return refuse(
                offer,
                .refused(code: .busy, message: "'\(offer.name)' is being received on another connection")
            )
        }
        let held = offer.size == nil ? 0 : directory.partialSize(id) ?? 0
        if offer.offset == 0, held > 0, let size = offer.size, held <= size {
            journal.release(id)
            return answer(offer, .resume, offset: held)
        }
        if offer.offset > held {
            journal.release(id)
            return answer(offer, .resume, offset: held)
        }
        if let size = offer.size, let free = directory.freeBytes(), size - offer.offset > free {
            journal.release(id)
            return refuse(
                offer,
                .refused(
                    code: .noSpace,
                    message: "'\(offer.name)' needs \(size - offer.offset) bytes; \(free) are free"
                )
            )
        }
        let fd: CInt
        do {
            fd = try directory.openPartial(id, keeping: offer.offset)
        } catch {
            journal.release(id)
            return refuse(
                offer,
                .refused(code: .ioError, message: "cannot create a file for '\(offer.name)': \(error.reason)")
            )
        }
        let incoming = Incoming(offer: offer, components: components, fd: fd, start: offer.offset)
        if offer.offset > 0 {
            // The whole-stream digest covers the kept prefix too: hash it from disk.
            guard digestFile(fd, count: offer.offset, at: 0, into: &incoming.digest) else {
                close(fd)
                directory.removePartial(id)
                journal.release(id)
                return refuse(
                    offer,
                    .refused(code: .ioError, message: "cannot read back the kept part of '\(offer.name)'")
                )
            }
        }
        current = incoming
        answer(offer, .accept, offset: offer.offset)
    }

    private func answer(_ offer: Offer, _ decision: Answer.Decision, offset: UInt64, error: TransferError? = nil) {
        var record = Answer(transferID: offer.transferID, decision: decision, offset: offset)
        if case .refused(let code, let message) = error {
            record.code = code
            record.message = message
        }
        writer.enqueue(.answer(record))
        if decision != .accept {
            // The sender is streaming this offer's data at us: tell it at once, so it stops.
            try? writer.flush()
            // Its DATA for this offer, if it sent any, is dropped until END or CANCEL.
            if !offer.awaitAnswer { discarding = offer.transferID }
        }
    }

    private func refuse(_ offer: Offer, _ error: TransferError) {
        summary.failedFiles += 1
        log("\(summary.peer): refused '\(offer.name)': \(error)")
        answer(offer, .refuse, offset: 0, error: error)
    }

    // MARK: Data

    private func receive(_ bytes: ArraySlice<UInt8>, into incoming: Incoming) throws {
        let count = UInt64(bytes.count)
        if let size = incoming.offer.size, incoming.received + count > size {
            return fail(
                incoming,
                .lengthMismatch,
                "'\(incoming.offer.name)': more than the declared \(size) bytes arrived"
            )
        }
        var failure: CInt = 0
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let piece = min(ReceiverConnection.writePiece, raw.count - offset)
                let written = write(incoming.fd, raw.baseAddress! + offset, piece)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
            incoming.digest.update(raw)
        }
        if failure != 0 {
            let code: ErrorCode = failure == ENOSPC || failure == EDQUOT ? .noSpace : .ioError
            return fail(incoming, code, "cannot write '\(incoming.offer.name)': \(String(cString: strerror(failure)))")
        }
        incoming.received += count
        // Overlap write-back with the transfer: start it for each full window, and wait
        // for the window before, so the final fsync has little left to do.
        let window = options.writeBackWindow
        if incoming.received - incoming.writebackStart >= window {
            let start = incoming.writebackStart
            let length = incoming.received - start
            _ = xfer_start_writeback(incoming.fd, Int64(start), Int64(length))
            if let previous = incoming.previousWindow,
                xfer_wait_writeback(incoming.fd, Int64(previous.start), Int64(previous.length)) == 0
            {
                incoming.durable = previous.start + previous.length
            }
            incoming.previousWindow = (start, length)
            incoming.writebackStart = incoming.received
        }
        let now = monotonicSeconds()
        if now - incoming.lastProgress >= 0.25 {
            incoming.lastProgress = now
            writer.enqueue(
                .progress(
                    Progress(
                        transferID: incoming.offer.transferID,
                        received: incoming.received,
                        durable: incoming.durable
                    )
                )
            )
        }
    }

    /// Fails one stream (non-fatal ERROR), drops its partial, and discards the rest of it.
    private func fail(_ incoming: Incoming, _ code: ErrorCode, _ message: String) {
        close(incoming.fd)
        journal.release(incoming.offer.transferID)
        directory.removePartial(incoming.offer.transferID)
        if current === incoming {
            current = nil
            discarding = incoming.offer.transferID
        }
        summary.failedFiles += 1
        log("\(summary.peer): \(message)")
        writer.enqueue(
            .error(ErrorRecord(code: code, transferID: incoming.offer.transferID, fatal: false, message: message))
        )
    }

    private func finish(_ incoming: Incoming, end: End) throws {
        let name = incoming.offer.name
        if end.totalLength != incoming.received || (incoming.offer.size.map { $0 != incoming.received } ?? false) {
            let declared = incoming.offer.size.map { ", OFFER declared \($0)" } ?? ""
            return fail(
                incoming,
                .lengthMismatch,
                "'\(name)': END says \(end.totalLength) bytes, \(incoming.received) arrived\(declared)"
            )
        }
        let digest = incoming.digest.value
        if end.digest != digest {
            return fail(
                incoming,
                .digestMismatch,
                "'\(name)': digest mismatch: END says \(hex16(end.digest)), received bytes give \(hex16(digest))"
            )
        }
        pending.append(incoming)
        pendingBytes += incoming.received
        if pending.count >= 2 {
            // A batch is synced with one syncfs, which needs no open file: close them, so a
            // batch of a thousand small files holds no thousand descriptors.
            for waiting in pending where waiting.fd >= 0 {
                applyMetadata(waiting)
                close(waiting.fd)
                waiting.fd = -1
            }
        }
        if pending.count >= options.commitBatchFiles || pendingBytes >= options.commitBatchBytes { try commitPending() }
    }

    // MARK: Commit

    /// Makes every verified stream durable under its final name, then ACKs each, in order.
    /// One sync covers a batch (group commit); a single file gets its own fsync.
    private func commitPending() throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        pendingBytes = 0
        let writer = self.writer
        let last = batch[batch.count - 1]
        let lastID = last.offer.transferID
        let lastReceived = last.received
        let heartbeat = Heartbeat(interval: 1) {
            try? writer.send(.progress(Progress(transferID: lastID, received: lastReceived, durable: 0)))
        }
        var failures: [ObjectIdentifier: (ErrorCode, String)] = [:]
        for incoming in batch where incoming.fd >= 0 { applyMetadata(incoming) }
        let synced = batch.count == 1 ? fsync(batch[0].fd) == 0 : xfer_sync_filesystem(directory.fd) == 0
        if !synced {
            let reason = SystemError("fsync").reason
            for incoming in batch {
                failures[ObjectIdentifier(incoming)] = (.ioError, "cannot sync '\(incoming.offer.name)': \(reason)")
            }
        }
        var parents: [String: CInt] = [:]
        for incoming in batch where failures[ObjectIdentifier(incoming)] == nil {
            let parentKey = incoming.components.dropLast().joined(separator: "/")
            var parent = parents[parentKey]
            if parent == nil {
                switch directory.openParent(of: incoming.components, create: true) {
                case .success(let fd):
                    parent = fd
                    parents[parentKey] = fd
                case .failure(let error):
                    failures[ObjectIdentifier(incoming)] = (error.wireCode, "'\(incoming.offer.name)': \(error)")
                    continue
                }
            }
            if renameat(
                directory.stateFD,
                TargetDirectory.partialName(incoming.offer.transferID),
                parent!,
                incoming.components.last!
            ) != 0 {
                failures[ObjectIdentifier(incoming)] = (
                    .ioError, "cannot rename '\(incoming.offer.name)' into place: \(SystemError("rename").reason)"
                )
            }
        }
        // The new directory entries must be durable too before the ACK.
        if batch.count == 1 {
            for fd in parents.values { fsync(fd) }
        } else if !parents.isEmpty {
            _ = xfer_sync_filesystem(directory.fd)
        }
        for fd in parents.values { close(fd) }
        heartbeat.stop()
        var committed: [(TransferID, CommitJournal.Entry)] = []
        for incoming in batch {
            if incoming.fd >= 0 { close(incoming.fd) }
            let id = incoming.offer.transferID
            defer { journal.release(id) }
            if let (code, message) = failures[ObjectIdentifier(incoming)] {
                directory.removePartial(id)
                summary.failedFiles += 1
                log("\(summary.peer): \(message)")
                writer.enqueue(.error(ErrorRecord(code: code, transferID: id, fatal: false, message: message)))
                continue
            }
            let digest = incoming.digest.value
            committed.append(
                (id, CommitJournal.Entry(length: incoming.received, digest: digest, name: incoming.offer.name))
            )
            summary.committedFiles += 1
            summary.committedBytes += incoming.received
            writer.enqueue(.ack(Ack(transferID: id, committedLength: incoming.received, digest: digest, durable: true)))
        }
        journal.record(committed)
    }

    /// Gives the file the sender's permission bits (at most 0o777) and modification time.
    private func applyMetadata(_ incoming: Incoming) {
        _ = fchmod(incoming.fd, mode_t(incoming.offer.mode & 0o777))
        let mtime = incoming.offer.modificationTime
        var times = [
            timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1),  // atime: UTIME_NOW
            timespec(tv_sec: Int(mtime.seconds), tv_nsec: Int(mtime.nanoseconds)),
        ]
        _ = futimens(incoming.fd, &times)
    }

    // MARK: Ending

    private func end(_ stop: Stop) {
        // Verified streams are committed even when the conversation breaks: a retry then
        // finds them already committed.
        try? commitPending()
        if let incoming = current {
            current = nil
            keepPartial(incoming)
        }
        switch stop {
        case .fatal(let code, let message):
            summary.failure = code == .timeout ? .timeout(message) : .protocolViolation(message)
            log("\(summary.peer): dropped: \(message)")
            guard greeted else {
                // Not an xfer client (no valid preamble): say nothing, just close (SPEC.md §3).
                socket.shutdownWrite()
                socket.drain(seconds: 1)
                socket.close()
                return
            }
            writer.enqueue(.error(ErrorRecord(code: code, fatal: true, message: message)))
            try? writer.flush()
            // Read before closing so our ERROR is not destroyed by an RST (SPEC.md §7.5).
            socket.shutdownWrite()
            socket.drain(seconds: 2)
            socket.close()
        case .peerGone(let message):
            summary.failure = .connectionLost(message)
            log("\(summary.peer): connection ended: \(message)")
            socket.close()
        }
    }

    /// Keeps a partial stream for a later resume: synced, so its length is true.
    private func keepPartial(_ incoming: Incoming) {
        _ = fdatasync(incoming.fd)
        close(incoming.fd)
        journal.release(incoming.offer.transferID)
        if incoming.offer.size == nil {
            directory.removePartial(incoming.offer.transferID)  // a stream cannot be resumed
        } else {
            log("\(summary.peer): kept \(incoming.received) bytes of '\(incoming.offer.name)' to resume")
        }
    }

    // MARK: Input

    private func next() throws -> RecordDecoder.Message {
        do {
            let message = try reader.next { () throws(ReadFailure) in
                if monotonicSeconds() - lastInput > options.idleTimeout {
                    throw .idle(.timeout("no data from the sender for \(Int(options.idleTimeout)) s"))
                }
            }
            lastInput = monotonicSeconds()
            return message
        } catch {
            throw stop(for: error)
        }
    }

    private func readIfReady() throws -> RecordDecoder.Message? {
        do {
            let message = try reader.nextIfReady()
            if message != nil { lastInput = monotonicSeconds() }
            return message
        } catch {
            throw stop(for: error)
        }
    }

    private func stop(for failure: ReadFailure) -> Stop {
        switch failure {
        case .endOfStream(let buffered):
            let inside = buffered > 0 ? " inside a record" : current != nil ? " inside a stream" : " before GOODBYE"
            return .peerGone("the sender closed the connection\(inside)")
        case .system(let error): return .peerGone(error.description)
        case .framing(let error): return .fatal(error.wireCode, error.description)
        case .idle(.timeout(let text)): return .fatal(.timeout, text)
        case .idle(let error): return .fatal(error.wireCode, "\(error)")
        }
    }

    private func flush() throws {
        do {
            try writer.flush()
        } catch {
            throw Stop.peerGone("sending failed: \(error.reason)")
        }
    }
}
