import Foundation
import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of a ``Sender``.
public struct SenderOptions: Sendable {
    /// Seconds to wait for the TCP connection.
    public var connectTimeout: Double = 10
    /// Seconds without any record from the receiver, while waiting for it, before giving up.
    public var idleTimeout: Double = 30
    /// Bytes of file data per DATA record (1 to 1 MiB).
    public var recordSize: Int = 1 << 20
    /// Seconds a stream of unknown length may be quiet before a KEEPALIVE is sent, so the
    /// receiver's idle timeout (xfer: 30 s) does not drop a slow but live sender.
    public var keepAliveInterval: Double = 5

    /// The defaults: 10 s to connect, 30 s idle timeout, 1 MiB records, keep-alive every 5 s.
    public init() {}
}

/// The sending side of SPEC.md §7.1: one connection, every stream pipelined, and success
/// only for streams the receiver acknowledged with the same length and digest.
///
/// The calling thread writes; a second thread reads the receiver's records as they come,
/// so neither side can block the other (SPEC.md §7.1). Memory stays constant: one output
/// buffer of a few MiB, whatever the sizes sent.
public final class Sender: Sendable {
    /// Where it sends.
    public let endpoint: Endpoint
    /// The settings it was created with.
    public let options: SenderOptions

    /// A sender to `endpoint`; nothing happens until ``send(_:onEvent:)``.
    public init(endpoint: Endpoint, options: SenderOptions = SenderOptions()) {
        self.endpoint = endpoint
        self.options = options
    }

    /// Sends `sources` in one connection and waits for the receiver's verdict on each.
    /// - Parameter onEvent: Called from this and the reading thread, never concurrently.
    /// - Returns: Which streams were confirmed and which failed, and why.
    public func send(_ sources: [SendSource], onEvent: @escaping @Sendable (SenderEvent) -> Void) -> SendReport {
        let session = SenderSession(sources: sources, options: options, onEvent: onEvent)
        let socket: TCPSocket
        do {
            socket = try TCPSocket.connect(to: endpoint, timeout: options.connectTimeout)
        } catch {
            var report = SendReport()
            report.connectionError = error
            return report
        }
        // Reads wake every second so the reader can apply the idle timeout itself;
        // writes give up after the idle timeout without progress.
        socket.setTimeouts(receive: 1, send: options.idleTimeout)
        onEvent(.connected(endpoint))
        let reader = Thread { session.readReplies(from: socket) }
        reader.stackSize = 1 << 20
        reader.start()
        var writer = SenderWriter(socket: socket, session: session, options: options)
        writer.run(sources)
        session.waitForReader()
        socket.close()
        return session.report()
    }
}

/// The sending thread's half: writes records, reads sources.
private struct SenderWriter: ~Copyable {
    let socket: TCPSocket
    let session: SenderSession
    let options: SenderOptions
    var output = OutputBuffer(capacity: 4 << 20)

    init(socket: TCPSocket, session: SenderSession, options: SenderOptions) {
        self.socket = socket
        self.session = session
        self.options = options
    }

    mutating func run(_ sources: [SendSource]) {
        do {
            try output.append(bytes: Preamble().bytes, flushingTo: socket)
            try output.append(.hello(Hello(parameters: [.agent(agentName)])), flushingTo: socket)
            for (index, source) in sources.enumerated() {
                guard session.connectionError == nil else { break }
                try send(source, index: index, offset: 0, awaitAnswer: false)
            }
            // A receiver that holds part of a stream asks to resume it; offer those again
            // from where it stands, waiting for its answer first (SPEC.md §7.2).
            try output.flush(to: socket)
            for (index, offset) in session.waitForResumeRequests() {
                try send(sources[index], index: index, offset: offset, awaitAnswer: true)
            }
            try output.append(.goodbye, flushingTo: socket)
            try output.flush(to: socket)
        } catch let error as SystemError {
            session.writeFailed(error)
        } catch {
            session.writeFailed(SystemError("send", errno: EIO))
        }
        session.writerIsWaiting()
    }

    /// Offers one source and sends its bytes from `offset`.
    private mutating func send(_ source: SendSource, index: Int, offset: UInt64, awaitAnswer: Bool) throws {
        let fd: CInt
        var size: UInt64?
        var id: TransferID
        var mode: UInt32 = 0o644
        var mtime = Timestamp(seconds: Int64(time(nil)))
        switch source {
        case .standardInput:
            fd = STDIN_FILENO
            id = TransferID(high: UInt64.random(in: .min ... .max), low: UInt64.random(in: .min ... .max))
        case .file(let path, let name):
            fd = open(path, O_RDONLY | O_CLOEXEC)
            var info = stat()
            guard fd >= 0, fstat(fd, &info) == 0 else {
                if fd >= 0 { close(fd) }
                session.localFailure(index: index, .localIO("cannot read '\(path)': \(SystemError("open").reason)"))
                return
            }
            size = UInt64(info.st_size)
            mode = UInt32(info.st_mode) & 0o7777
            mtime = Timestamp(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: UInt32(info.st_mtim.tv_nsec))
            id = transferID(name: name, info: info)
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var digest = StreamDigest()
        // The digest covers the whole stream, so a resumed file's kept prefix is hashed
        // locally, not sent; before the OFFER, so a failure here leaves nothing half-said.
        if offset > 0 {
            guard digestFile(fd, count: offset, into: &digest) else {
                session.localFailure(index: index, .localIO("'\(source.name)' shrank while being read"))
                return
            }
        }
        var position = offset
        session.offered(index: index, id: id, size: size)
        let offer = Offer(
            transferID: id,
            size: size,
            offset: offset,
            mode: mode,
            modificationTime: mtime,
            name: source.name,
            awaitAnswer: awaitAnswer
        )
        try output.append(.offer(offer), flushingTo: socket)

        if awaitAnswer {
            // With awaitAnswer nothing more is sent for a non-accepted offer (SPEC.md §6.2).
            try output.flush(to: socket)
            guard let answer = session.waitForAnswer(id) else { return }  // connection ended
            switch answer.decision {
            case .accept: break
            case .alreadyCommitted:
                expectCommitted(id, fd: fd, index: index, name: source.name, size: size, position: position, &digest)
                return
            case .resume:
                session.localFailure(
                    index: index,
                    .protocolViolation("the receiver asked again to resume '\(source.name)', from \(answer.offset)")
                )
                return
            case .refuse: return  // the reading thread recorded why
            }
        }
        while size.map({ position < $0 }) ?? true {
            // The reader thread saw the connection end: stop reading the source.
            if session.connectionError != nil { return }
            if let answer = session.answer(for: id), answer.decision != .accept {
                // The receiver discards the rest (SPEC.md §7.2): stop and close the offer.
                if answer.decision == .alreadyCommitted {
                    expectCommitted(
                        id,
                        fd: fd,
                        index: index,
                        name: source.name,
                        size: size,
                        position: position,
                        &digest
                    )
                }
                try output.append(
                    .cancel(Cancel(code: .cancelled, message: "receiver answered \(answer.decision)")),
                    flushingTo: socket
                )
                return
            }
            if size == nil && !isReadable(fd) {
                // A stream that has nothing more right now (a slow pipe, a terminal): send
                // what we have before blocking on it, and say how far we are.
                try output.flush(to: socket)
                session.sent(0, force: true)
                // A quiet stream must not look like a dead sender to the receiver's idle
                // timeout: say "still here" until there is more (SPEC.md §7.1).
                while !isReadable(fd, within: options.keepAliveInterval) {
                    if session.connectionError != nil { return }
                    try output.append(.keepAlive, flushingTo: socket)
                    try output.flush(to: socket)
                }
            }
            let wanted = size.map { Int(min(UInt64(options.recordSize), $0 - position)) } ?? options.recordSize
            var readError: CInt = 0
            let count = try output.appendData(maxPayload: wanted, flushingTo: socket) { space in
                let count = read(fd, space.baseAddress, wanted)
                if count < 0 {
                    readError = errno
                    return 0
                }
                digest.update(UnsafeRawBufferPointer(rebasing: space[..<count]))
                return count
            }
            if readError == EINTR { continue }
            if readError != 0 || (count == 0 && size != nil) {
                let reason = readError != 0 ? String(cString: strerror(readError)) : "file shrank while being read"
                try output.append(.cancel(Cancel(code: .sourceUnreadable, message: reason)), flushingTo: socket)
                session.localFailure(index: index, .localIO("cannot read '\(source.name)': \(reason)"))
                return
            }
            if count == 0 { break }  // end of standard input
            position += UInt64(count)
            if output.count >= 1 << 20 { try output.flush(to: socket) }
            session.sent(UInt64(count))
        }
        try output.append(.end(End(totalLength: position, digest: digest.value)), flushingTo: socket)
        session.expect(id, length: position, digest: digest.value)
    }

    /// For an offer answered "already committed": the ACK that follows is checked against
    /// the digest of the whole file, so hash what was not read yet.
    private func expectCommitted(
        _ id: TransferID,
        fd: CInt,
        index: Int,
        name: String,
        size: UInt64?,
        position: UInt64,
        _ digest: inout StreamDigest
    ) {
        guard let size, digestFile(fd, count: size - position, into: &digest) else {
            session.localFailure(index: index, .localIO("cannot read '\(name)' to check the receiver's copy"))
            return
        }
        session.expect(id, length: size, digest: digest.value)
    }

    /// Whether a read from `fd` would return at once, or does within `seconds`.
    private func isReadable(_ fd: CInt, within seconds: Double = 0) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&pfd, 1, CInt(seconds * 1000))
            if ready < 0 && errno == EINTR { continue }
            return ready != 0  // an error counts as readable: the read then reports it
        }
    }

    /// Same file, same name, same size and time: same ID, so a retry can resume
    /// (SPEC.md §11). Two XXH64 values over the identity, with different prefixes.
    private func transferID(name: String, info: stat) -> TransferID {
        let identity =
            "\(name)\u{0}\(info.st_dev)\u{0}\(info.st_ino)\u{0}\(info.st_size)\u{0}\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        var high = StreamDigest()
        high.update(Array("xfer-id-high\u{0}\(identity)".utf8))
        var low = StreamDigest()
        low.update(Array("xfer-id-low\u{0}\(identity)".utf8))
        return TransferID(high: high.value, low: low.value)
    }
}

/// The implementation's agent string for HELLO and WELCOME.
public let agentName = "xfer/\(xferVersion)"
/// This implementation's version.
public let xferVersion = "1.0.0"
