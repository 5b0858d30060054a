import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of a ``RawSender``.
public struct RawSendOptions: Sendable {
    /// Seconds to wait for the TCP connection.
    public var connectTimeout: Double = 10
    /// Seconds without progress (no byte written, acknowledged or read, no end of stream)
    /// while waiting for the peer, before the send is decided on what is known by then.
    /// Time spent waiting for a quiet source with every byte so far acknowledged does not
    /// count.
    public var timeout: Double = 30
    /// Seconds between readings of the send queue (`SIOCOUTQ`) while nothing else wakes
    /// the sender. The kernel signals no readiness when an acknowledgement arrives, so
    /// it is read this often (and after every write and read).
    public var sampleInterval: Double = 0.01
    /// Seconds between ``RawSendEvent/progress(_:)`` events (the last one always comes).
    public var progressInterval: Double = 0.2
    /// Seconds to wait for a reset, at most (and never longer than ``timeout``), before
    /// the FIN, when the peer ended its side before it had our stream. Such a peer (a
    /// half-close) resets the connection when it closes with our data unread, and
    /// that reset is seen only while our side is still open.
    public var halfCloseWait: Double = 2

    /// The defaults: 10 s to connect, 30 s without progress, the queue read every 10 ms,
    /// progress five times a second, 2 s for a half-closed peer's reset.
    public init() {}
}

/// What a raw send reads from.
public enum RawSource: Sendable, Hashable {
    /// A file (or anything `open` can read: a FIFO, a device), read to its end.
    case file(path: String)
    /// Standard input, read to its end: a stream of unknown length.
    case standardInput
}

/// Figures for progress displays: *acknowledged* bytes are the ones that count.
public struct RawProgress: Sendable, Equatable {
    /// Bytes the local kernel accepted (written to the socket). Not evidence of anything.
    public var written: UInt64
    /// Bytes the peer's TCP acknowledged (`SIOCOUTQ`); `nil` where that cannot be measured.
    public var acknowledged: UInt64?
    /// The source's size, when it is a regular file.
    public var total: UInt64?
    /// Bytes read from the peer and discarded (or shown).
    public var replyBytes: UInt64
    /// Whether the peer closed its side (end of stream read).
    public var peerClosed: Bool

    /// Progress figures.
    public init(
        written: UInt64 = 0,
        acknowledged: UInt64? = nil,
        total: UInt64? = nil,
        replyBytes: UInt64 = 0,
        peerClosed: Bool = false
    ) {
        self.written = written
        self.acknowledged = acknowledged
        self.total = total
        self.replyBytes = replyBytes
        self.peerClosed = peerClosed
    }
}

/// What a ``RawSender`` reports while it works, in order, from the sending thread.
public enum RawSendEvent: Sendable {
    /// The TCP connection is up.
    case connected(Endpoint)
    /// Figures, at most every ``RawSendOptions/progressInterval`` seconds, and once at the end.
    case progress(RawProgress)
    /// Bytes the peer sent (read so that nothing unread is left when the socket closes).
    case reply([UInt8])
}

/// The outcome of ``RawSender/send(_:onEvent:)``.
public struct RawSendReport: Sendable {
    /// The strongest claim the evidence supports.
    public var verdict: RawVerdict
    /// The last figures.
    public var progress: RawProgress
    /// Bytes written but not yet sent at the end (held back by the peer's receive window
    /// or by congestion control); `nil` when unknown.
    public var unsent: UInt64?
    /// Whether the peer advertised a zero receive window at the end: its application was
    /// not reading. `nil` when unknown.
    public var peerWindowClosed: Bool?
    /// Segments the kernel retransmitted, when known.
    public var retransmitted: UInt64?
    /// Seconds from the start to the verdict.
    public var seconds: Double

    /// A report.
    public init(
        verdict: RawVerdict,
        progress: RawProgress = RawProgress(),
        unsent: UInt64? = nil,
        peerWindowClosed: Bool? = nil,
        retransmitted: UInt64? = nil,
        seconds: Double = 0
    ) {
        self.verdict = verdict
        self.progress = progress
        self.unsent = unsent
        self.peerWindowClosed = peerWindowClosed
        self.retransmitted = retransmitted
        self.seconds = seconds
    }
}

/// Raw mode: one byte stream to a peer that speaks no protocol (`nc -l`, a printer on port
/// 9100, a log collector), confirmed as far as TCP allows.
///
/// No framing is added. The sender streams the source, then `shutdown(SHUT_WR)` once the
/// peer's TCP acknowledged every byte (see below), and meanwhile reads (and discards, or
/// hands over as ``RawSendEvent/reply(_:)``) whatever the peer sends, so that closing never
/// leaves unread data behind (which would make the local kernel send RST). It reads the
/// send queue (`SIOCOUTQ`, Linux only) until every byte and the FIN are acknowledged, waits
/// for the peer's end of stream, and notices a reset at any point. ``RawDelivery`` turns
/// that evidence into a ``RawVerdict``.
///
/// What it cannot prove: that the peer *application* read or kept the bytes. An
/// acknowledgement comes from the peer's kernel; an end of stream only says the peer
/// closed. Only xfer's own protocol (``Sender``) gets an answer from the application.
///
/// The FIN waits for the data's acknowledgement because once both sides' FINs are
/// acknowledged the local connection is gone, and a reset that comes later is never seen.
/// A peer that ended its side before it had our stream (a half-close) may still read it,
/// or close with it unread, which resets: for such a peer the FIN waits up to
/// ``RawSendOptions/halfCloseWait`` more for that reset, and it is never called delivered.
///
/// One thread does everything with `poll`: no thread is blocked on the peer while another
/// writes. When the send is given up before the whole source was written (a timeout, a
/// local read error, ``abortIfIncomplete()``), the connection is reset rather than closed,
/// so the peer never mistakes a prefix for the whole stream.
public final class RawSender: Sendable {
    /// Where it sends.
    public let endpoint: Endpoint
    /// The settings it was created with.
    public let options: RawSendOptions
    /// The connected socket while a send runs, and whether its FIN is queued.
    private let connection = Mutex<(fd: CInt, finished: Bool)>((-1, false))

    /// A raw sender to `endpoint`; nothing happens until ``send(_:onEvent:)``.
    public init(endpoint: Endpoint, options: RawSendOptions = RawSendOptions()) {
        self.endpoint = endpoint
        self.options = options
    }

    /// From any thread, typically on an interruption just before the process exits: when
    /// the whole source has not been written yet, makes the socket's close a reset
    /// (`SO_LINGER` 0), so the peer sees a failure instead of a clean but short stream.
    /// After the FIN was queued it does nothing: every byte is on its way.
    /// - Returns: Whether the close will now reset the connection.
    @discardableResult
    public func abortIfIncomplete() -> Bool {
        connection.withLock { connection in
            guard connection.fd >= 0, !connection.finished else { return false }
            var value = linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
            return true
        }
    }

    /// Sends `source` on one connection and waits for the verdict.
    /// - Parameter onEvent: Called on this thread, in order.
    /// - Returns: The verdict and the last figures. A source that cannot be opened is
    ///   reported before connecting (``RawVerdict/localIO(_:)``).
    public func send(_ source: RawSource, onEvent: (RawSendEvent) -> Void) -> RawSendReport {
        let started = monotonicSeconds()
        let input: CInt
        var total: UInt64?
        switch source {
        case .standardInput:
            input = STDIN_FILENO
        case .file(let path):
            input = open(path, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else {
                return RawSendReport(verdict: .localIO("cannot read '\(path)': \(SystemError("open").reason)"))
            }
        }
        defer { if input != STDIN_FILENO { close(input) } }
        var info = stat()
        if fstat(input, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR {
                return RawSendReport(verdict: .localIO("a directory cannot be sent as one raw stream"))
            }
            if info.st_mode & S_IFMT == S_IFREG { total = UInt64(info.st_size) }
        }
        let socket: TCPSocket
        do {
            switch try TCPSocket.connectRaw(to: endpoint, timeout: options.connectTimeout) {
            case .connected(let connected):
                socket = connected
            case .resetAtOnce:
                let none = TCPQueue.isSupported ? UInt64(0) : nil
                let progress = RawProgress(acknowledged: none, total: total)
                onEvent(.connected(endpoint))
                onEvent(.progress(progress))
                return RawSendReport(
                    verdict: .reset(written: 0, acknowledged: none, peerClosedFirst: false),
                    progress: progress,
                    seconds: monotonicSeconds() - started
                )
            }
        } catch {
            return RawSendReport(verdict: .cannotConnect(error.description))
        }
        connection.withLock { $0 = (socket.fd, false) }
        onEvent(.connected(endpoint))
        var run = RawSendRun(socket: socket, input: input, total: total, options: options)
        let verdict = run.loop(
            onEvent: onEvent,
            finished: { self.connection.withLock { $0.finished = true } }
        )
        let last = TCPQueue.read(socket.fd)
        // Forget the descriptor before closing it, so an interruption never touches a reused one.
        connection.withLock { $0 = (-1, false) }
        run.close(onEvent: onEvent)
        let progress = run.progress
        onEvent(.progress(progress))
        return RawSendReport(
            verdict: verdict,
            progress: progress,
            unsent: last?.unsent,
            peerWindowClosed: last?.peerWindow.map { $0 == 0 },
            retransmitted: last?.retransmitted,
            seconds: monotonicSeconds() - started
        )
    }
}

/// One raw send's loop: the socket, the source, the evidence.
private struct RawSendRun: ~Copyable {
    let socket: TCPSocket
    let input: CInt
    let total: UInt64?
    let options: RawSendOptions
    var delivery = RawDelivery(measurable: TCPQueue.isSupported)
    /// Source bytes read but not yet written: `buffer[pending]`.
    var buffer = [UInt8](repeating: 0, count: 256 << 10)
    var pending = 0..<0
    var sourceEnded = false
    /// When every byte was acknowledged while the peer had ended its side early: the start
    /// of the wait for its reset, before the FIN.
    var halfCloseWaitStarted: Double?
    var scratch = [UInt8](repeating: 0, count: 64 << 10)

    init(socket: TCPSocket, input: CInt, total: UInt64?, options: RawSendOptions) {
        self.socket = socket
        self.input = input
        self.total = total
        self.options = options
    }

    var progress: RawProgress {
        RawProgress(
            written: delivery.written,
            acknowledged: delivery.acknowledged,
            total: total,
            replyBytes: delivery.replyBytes,
            peerClosed: delivery.peerClosed
        )
    }

    /// Whether the send waits for the peer: a write it does not take, bytes it has not
    /// acknowledged, or its end of stream. Otherwise it waits for the source (a quiet
    /// standard input), which is no reason to time out.
    var waitingForPeer: Bool {
        if !pending.isEmpty || delivery.finished || delivery.failure != nil { return true }
        guard delivery.measurable else { return false }
        return (delivery.acknowledged ?? 0) < delivery.written
    }

    /// Writes, reads and measures until the evidence decides.
    mutating func loop(onEvent: (RawSendEvent) -> Void, finished: () -> Void) -> RawVerdict {
        var lastMovement = monotonicSeconds()
        var lastEvent = -Double.infinity
        /// The figures last seen (any change is progress) and last reported.
        var seen = progress
        var shown = progress
        while true {
            let writing = !pending.isEmpty
            // After the peer's end of stream there is nothing to read; a reset after it is
            // seen through SO_ERROR below (poll would report POLLHUP without end).
            let watchSocket = writing || !delivery.peerClosed
            let wantSource = !sourceEnded && pending.isEmpty && !delivery.finished
            var fds = [
                pollfd(
                    fd: watchSocket ? socket.fd : -1,
                    events: Int16(delivery.peerClosed ? 0 : POLLIN) | Int16(writing ? POLLOUT : 0),
                    revents: 0
                ),
                pollfd(fd: wantSource ? input : -1, events: Int16(POLLIN), revents: 0),
            ]
            let remaining = options.timeout - (monotonicSeconds() - lastMovement)
            let wait = max(0, min(options.sampleInterval, remaining))
            let ready = poll(&fds, 2, CInt((wait * 1000).rounded(.up)))
            if ready < 0 && errno != EINTR {
                delivery.failed(errno: errno)
            }
            if ready > 0 {
                if fds[0].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 && !delivery.peerClosed {
                    readReplies(onEvent: onEvent)
                }
                if fds[0].revents & Int16(POLLOUT | POLLERR) != 0 && !pending.isEmpty {
                    writePending()
                }
                if fds[1].revents != 0 {
                    readSource()
                    writePending()
                }
            }
            if sourceEnded && pending.isEmpty && !delivery.finished && delivery.failure == nil {
                if !delivery.sourceWritten {
                    // Every byte is on its way: an interruption from now on closes normally.
                    delivery.wroteSource()
                    finished()
                }
                if readyToEnd() { endStream() }
            }
            measure()
            let now = monotonicSeconds()
            let current = progress
            if current != seen || !waitingForPeer {
                lastMovement = now
                seen = current
            }
            let timedOut = now - lastMovement >= options.timeout
            if timedOut && delivery.sourceWritten && !delivery.finished && delivery.failure == nil {
                // Given up waiting for acknowledgements, with every byte written: the stream
                // ends normally (the verdict says what was acknowledged).
                endStream()
                measure()
            }
            let verdict = delivery.verdict(timedOut: timedOut)
            if verdict == nil && current != shown && now - lastEvent >= options.progressInterval {
                onEvent(.progress(current))
                lastEvent = now
                shown = current
            }
            if let verdict { return verdict }
        }
    }

    /// Whether the FIN may go now that every byte is written: once the peer's TCP
    /// acknowledged them all (until then our side stays open, so a reset is still seen),
    /// and for a peer that ended its side early (``RawDelivery/peerClosedEarly``), once
    /// ``RawSendOptions/halfCloseWait`` passed without a reset. At once where nothing can be
    /// measured.
    private mutating func readyToEnd() -> Bool {
        guard delivery.measurable else { return true }
        measure()
        guard delivery.failure == nil, delivery.acknowledged == delivery.written else { return false }
        guard delivery.peerClosedEarly else { return true }
        let now = monotonicSeconds()
        let started = halfCloseWaitStarted ?? now
        halfCloseWaitStarted = started
        return now - started >= min(options.halfCloseWait, options.timeout)
    }

    /// Queues the FIN after every byte written.
    private mutating func endStream() {
        if shutdown(socket.fd, CInt(SHUT_WR)) == 0 {
            delivery.finishedWriting()
        } else {
            delivery.failed(errno: errno)
        }
    }

    /// Reads what the peer sent until the socket would block: end of stream, a reset, or
    /// bytes to drain.
    private mutating func readReplies(onEvent: (RawSendEvent) -> Void) {
        while true {
            let count = scratch.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                delivery.received(count)
                onEvent(.reply(Array(scratch[..<count])))
                continue
            }
            if count == 0 {
                // What was acknowledged when the end of stream was read says whether it came
                // before our end of stream had arrived.
                measure()
                delivery.peerEnded()
                return
            }
            if errno == EINTR { continue }
            if errno != EAGAIN && errno != EWOULDBLOCK { delivery.failed(errno: errno) }
            return
        }
    }

    /// Writes pending source bytes until the socket would block.
    private mutating func writePending() {
        while !pending.isEmpty {
            let range = pending
            let sent = buffer.withUnsafeBytes {
                Glibc.send(socket.fd, $0.baseAddress! + range.lowerBound, range.count, CInt(MSG_NOSIGNAL))
            }
            if sent > 0 {
                delivery.wrote(sent)
                pending = (range.lowerBound + sent)..<range.upperBound
                continue
            }
            if sent < 0 && errno == EINTR { continue }
            if sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK { delivery.failed(errno: errno) }
            return
        }
    }

    /// Refills the buffer from the source (only called when it is empty and poll said so).
    private mutating func readSource() {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count > 0 {
                pending = 0..<count
                return
            }
            if count == 0 {
                sourceEnded = true
                return
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return }
            delivery.sourceFailed("cannot read the source: \(SystemError("read").reason)")
            return
        }
    }

    /// Reads the send queue and any pending socket error.
    private mutating func measure() {
        if let queue = TCPQueue.read(socket.fd) {
            delivery.measured(unacknowledged: queue.unacknowledged)
        }
        var error: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        if getsockopt(socket.fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error != 0 {
            delivery.failed(errno: error)
        }
    }

    /// Ends the connection: a reset when the source was not fully written (so the peer
    /// cannot take a prefix for the whole); otherwise a normal close, after reading what
    /// the peer sent last, so that no unread data turns the close into a reset.
    mutating func close(onEvent: (RawSendEvent) -> Void) {
        if !delivery.finished {
            socket.abort()
            return
        }
        if !delivery.peerClosed {
            while true {
                let count = scratch.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    delivery.received(count)
                    onEvent(.reply(Array(scratch[..<count])))
                    continue
                }
                if count < 0 && errno == EINTR { continue }
                break
            }
        }
        socket.close()
    }
}
