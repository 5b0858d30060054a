#if canImport(Glibc)
    import Glibc
#endif

/// One raw send's loop: the socket, the source, the evidence.
struct RawSendRun: ~Copyable {
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
