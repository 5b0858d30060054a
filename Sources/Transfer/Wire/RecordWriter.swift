import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's outgoing records. The connection's thread and its heartbeat both write,
/// so every call takes the lock. Small records collect and leave together: when the
/// connection is about to wait for input, or when they are old or many enough.
final class RecordWriter: Sendable {
    private struct Queue {
        var buffer: [UInt8] = []
        /// After authentication: seals every record (SPEC.md §13.4).
        var sealer: RecordSealer?
        /// When the oldest queued byte was queued.
        var oldest = 0.0
        /// A record this side built wrong (a bug, or a value from the wire that no check
        /// stopped): nothing more is sent on this connection.
        var invalid: String?
    }

    private let socket: TCPSocket
    private let queue = Mutex(Queue())

    init(socket: TCPSocket) { self.socket = socket }

    /// Queues a record.
    func enqueue(_ record: Record) {
        queue.withLock { queue in
            if queue.buffer.isEmpty { queue.oldest = monotonicSeconds() }
            guard queue.invalid == nil else { return }
            do {
                if queue.sealer != nil {
                    try queue.sealer!.seal(record, appendingTo: &queue.buffer)
                } else {
                    try RecordEncoder.append(record, to: &queue.buffer)
                }
            } catch {
                // Not a crash: one connection's fault must not end every other one (a peer
                // once made the receiver build an invalid ERROR and killed the process).
                // The next flush fails, and the connection ends.
                queue.invalid = "\(error)"
            }
        }
    }

    /// From now on, seals every record.
    func startSealing(_ sealer: RecordSealer) {
        queue.withLock { $0.sealer = sealer }
    }

    /// Queues raw bytes (the preamble, the handshake's records as encoded for the transcript).
    func enqueue(bytes: [UInt8]) {
        queue.withLock { queue in
            if queue.buffer.isEmpty { queue.oldest = monotonicSeconds() }
            queue.buffer += bytes
        }
    }

    /// Sends what is queued (holding the lock, so records never interleave).
    func flush() throws(SystemError) {
        let failure: SystemError? = queue.withLock { queue in
            if let invalid = queue.invalid { return SystemError("encode a record (\(invalid))", errno: EINVAL) }
            guard !queue.buffer.isEmpty else { return nil }
            defer { queue.buffer.removeAll(keepingCapacity: true) }
            do throws(SystemError) {
                try socket.writeAll(queue.buffer)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Sends what is queued if it has waited 50 ms or grown past 32 KiB, so a sender
    /// streaming many files hears its ANSWERs and ACKs promptly without a write per record.
    func flushIfDue() throws(SystemError) {
        let due = queue.withLock {
            !$0.buffer.isEmpty && ($0.buffer.count > 32 << 10 || monotonicSeconds() - $0.oldest > 0.05)
        }
        if due { try flush() }
    }

    /// Queues and sends one record at once.
    func send(_ record: Record) throws(SystemError) {
        enqueue(record)
        try flush()
    }
}

/// Runs `action` every `interval` seconds on its own thread until stopped: the receiver's
/// PROGRESS keep-alive while it syncs, so the sender never waits in silence (SPEC.md §7.3).
final class Heartbeat: @unchecked Sendable {
    private let condition = Condition()
    private var stopped = false
    private var finished = false

    /// Starts beating.
    /// - Throws: ``ThreadStartError`` when its thread cannot start: there is then no
    ///   heartbeat to stop (``stop()`` would wait for a thread that never ran).
    init(interval: Double, action: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        try DetachedThread.start("keep-alives") { [self] in
            condition.lock()
            while !stopped {
                if !condition.wait(seconds: interval) && !stopped {
                    condition.unlock()
                    action()
                    condition.lock()
                }
            }
            finished = true
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Stops the heartbeat and waits until its thread no longer runs `action`.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
