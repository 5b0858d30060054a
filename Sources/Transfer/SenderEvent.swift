/// What a ``Sender`` reports while it works, in order, from any thread.
public enum SenderEvent: Sendable {
    /// The TCP connection is up.
    case connected(Endpoint)
    /// A stream was offered.
    case started(name: String, size: UInt64?)
    /// Totals over the whole run.
    case progress(SendProgress)
    /// The receiver confirmed a stream: committed `bytes` with the same digest.
    case confirmed(name: String, bytes: UInt64, durable: Bool)
    /// A stream failed; others may still succeed.
    case failed(name: String, error: TransferError)
}

/// Byte counts for progress displays: what was written to the socket ("in flight"), what
/// the receiver says it received, and what it confirmed.
public struct SendProgress: Sendable, Equatable {
    /// Bytes of DATA written to the socket.
    public var sent: UInt64
    /// Bytes the receiver reported received and checked (PROGRESS and ACK records).
    public var received: UInt64
    /// Bytes in confirmed (ACKed) streams.
    public var confirmed: UInt64
    /// All bytes to send, when every size is known.
    public var total: UInt64?
}

/// The outcome of ``Sender/send(_:onEvent:)``.
public struct SendReport: Sendable {
    /// Streams the receiver confirmed, with their byte counts, in order.
    public var confirmed: [(name: String, bytes: UInt64, durable: Bool)] = []
    /// Streams that failed, with why, in order.
    public var failures: [(name: String, error: TransferError)] = []
    /// What ended the connection early, if anything did.
    public var connectionError: TransferError?

    /// Whether every stream was confirmed.
    public var succeeded: Bool { failures.isEmpty && connectionError == nil }

    /// The failure that best explains the run: the connection's, else the first stream's.
    public var primaryError: TransferError? { connectionError ?? failures.first?.error }
}
