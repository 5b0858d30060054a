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
