import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a raw send reads from.
public enum RawSource: Sendable, Hashable {
    /// A file (or anything `open` can read: a FIFO, a device), read to its end.
    case file(path: String)
    /// Standard input, read to its end: a stream of unknown length.
    case standardInput
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
