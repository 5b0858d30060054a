import Foundation
import Framing

/// The receiver's outgoing records. The connection's thread and its heartbeat both write,
/// so every call takes the lock. Small records collect and leave together: when the
/// connection is about to wait for input, or when they are old or many enough.
final class RecordWriter: @unchecked Sendable {
    private let socket: TCPSocket
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var oldest = 0.0

    init(socket: TCPSocket) { self.socket = socket }

    /// Queues a record.
    func enqueue(_ record: Record) {
        lock.withLock {
            if buffer.isEmpty { oldest = monotonicSeconds() }
            do {
                try RecordEncoder.append(record, to: &buffer)
            } catch {
                preconditionFailure("xfer built an invalid record: \(error)")
            }
        }
    }

    /// Queues raw bytes (the preamble).
    func enqueue(bytes: [UInt8]) {
        lock.withLock {
            if buffer.isEmpty { oldest = monotonicSeconds() }
            buffer += bytes
        }
    }

    /// Sends what is queued.
    func flush() throws(SystemError) {
        lock.lock()
        defer { lock.unlock() }
        guard !buffer.isEmpty else { return }
        defer { buffer.removeAll(keepingCapacity: true) }
        try socket.writeAll(buffer)
    }

    /// Sends what is queued if it has waited 50 ms or grown past 32 KiB, so a sender
    /// streaming many files hears its ANSWERs and ACKs promptly without a write per record.
    func flushIfDue() throws(SystemError) {
        let due = lock.withLock { !buffer.isEmpty && (buffer.count > 32 << 10 || monotonicSeconds() - oldest > 0.05) }
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
    private let condition = NSCondition()
    private var stopped = false
    private var finished = false

    init(interval: Double, action: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            condition.lock()
            while !stopped {
                if !condition.wait(until: Date(timeIntervalSinceNow: interval)) && !stopped {
                    condition.unlock()
                    action()
                    condition.lock()
                }
            }
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
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
