// What a raw send reports: progress figures, events as it works, and its outcome.

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
