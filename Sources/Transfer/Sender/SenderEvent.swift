/// What a ``Sender`` reports while it works, in order, from any thread.
public enum SenderEvent: Sendable {
    /// The TCP connection is up.
    case connected(Endpoint)
    /// A stream was offered; `resumedFrom` is the offset of a resumed offer.
    case started(name: String, size: UInt64?, resumedFrom: UInt64?)
    /// Totals over the whole run.
    case progress(SendProgress)
    /// The receiver confirmed a stream: committed that many bytes with the same digest.
    case confirmed(name: String, delivery: Delivery)
    /// A stream failed; others may still succeed.
    case failed(name: String, error: TransferError)
    /// Something the user should know that fails nothing (e.g. a receiver that closed
    /// without GOODBYE after confirming everything).
    case warning(String)
}

/// A stream the receiver confirmed, and how.
public struct Delivery: Sendable, Equatable {
    /// Bytes in the committed stream (a kept prefix included).
    public var bytes: UInt64
    /// Whether the receiver said the bytes are on stable storage (its ACK's `durable` flag).
    public var durable: Bool
    /// The receiver already had it from an earlier run: nothing was sent.
    public var alreadyCommitted: Bool
    /// The offset the stream was resumed from, when the receiver kept a prefix.
    public var resumedFrom: UInt64?

    /// A delivery record.
    public init(bytes: UInt64, durable: Bool, alreadyCommitted: Bool = false, resumedFrom: UInt64? = nil) {
        self.bytes = bytes
        self.durable = durable
        self.alreadyCommitted = alreadyCommitted
        self.resumedFrom = resumedFrom
    }
}

/// Byte counts for progress displays. Only bytes this run wrote count as "sent": a prefix
/// the receiver kept, or a file it already had, is "kept", so a rate is never inflated.
public struct SendProgress: Sendable, Equatable {
    /// What the sender is doing now.
    public enum Phase: String, Sendable {
        /// Writing DATA.
        case sending
        /// Reading a local file to hash a prefix the receiver kept (or a file it has).
        case hashing
        /// Everything is written; waiting for the receiver to commit (it syncs).
        case syncing
    }

    /// Bytes of DATA written to the socket in this run.
    public var sent: UInt64
    /// Bytes not sent because the receiver kept them (resumed prefixes, files it had).
    public var kept: UInt64
    /// Bytes of this run's DATA that the receiver reported received (PROGRESS, ACK).
    public var received: UInt64
    /// Bytes in confirmed (ACKed) streams, kept bytes included.
    public var confirmed: UInt64
    /// All bytes of all streams, when every size is known.
    public var total: UInt64?
    /// The stream being sent, hashed or waited for.
    public var current: String?
    /// What is happening to it.
    public var phase: Phase

    /// Progress figures.
    public init(
        sent: UInt64 = 0,
        kept: UInt64 = 0,
        received: UInt64 = 0,
        confirmed: UInt64 = 0,
        total: UInt64? = nil,
        current: String? = nil,
        phase: Phase = .sending
    ) {
        self.sent = sent
        self.kept = kept
        self.received = received
        self.confirmed = confirmed
        self.total = total
        self.current = current
        self.phase = phase
    }
}

/// The outcome of ``Sender/send(_:onEvent:)``.
public struct SendReport: Sendable {
    /// Streams the receiver confirmed, in order.
    public var confirmed: [(name: String, delivery: Delivery)] = []
    /// Streams that failed, with why, in order.
    public var failures: [(name: String, error: TransferError)] = []
    /// What ended the connection early, if anything did.
    public var connectionError: TransferError?
    /// Things that failed nothing but are worth saying.
    public var warnings: [String] = []
    /// Bytes of DATA this run wrote.
    public var sentBytes: UInt64 = 0

    /// An empty report.
    public init() {}

    /// Whether every stream was confirmed (durable or not).
    public var succeeded: Bool { failures.isEmpty && connectionError == nil }

    /// The failure that best explains the run: the connection's, else the first stream's.
    public var primaryError: TransferError? { connectionError ?? failures.first?.error }
}
