import Framing

/// Settings of a ``Sender``.
public struct SenderOptions: Sendable {
    /// Seconds to wait for the TCP connection.
    public var connectTimeout: Double = 10
    /// Seconds without any record from the receiver, while waiting for it, before giving up.
    public var idleTimeout: Double = 30
    /// Bytes of file data per DATA record (1 to 1 MiB).
    public var recordSize: Int = 1 << 20
    /// Seconds a stream of unknown length may be quiet before a KEEPALIVE is sent, so the
    /// receiver's idle timeout (xfer: 30 s) does not drop a slow but live sender. Also
    /// the longest silence while the sender hashes a file before or after an offer.
    public var keepAliveInterval: Double = 5
    /// The pre-shared key: the receiver must prove it before anything is sent, and every
    /// record the sender acts on must carry a valid seal (SPEC.md §13). `nil`: none.
    public var key: AuthenticationKey?
    /// Whether a file keeps its transfer ID across runs, so the receiver can resume it
    /// or answer "already committed" (SPEC.md §11). `false` sends every file afresh, under
    /// a random ID.
    public var resume = true

    /// The defaults: 10 s to connect, 30 s idle timeout, 1 MiB records, keep-alive every 5 s,
    /// resumable IDs.
    public init() {}
}
