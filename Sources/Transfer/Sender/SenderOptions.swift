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

    /// Connections to use, the first included (SPEC.md §16): 1 sends everything over one,
    /// as protocol 1.2 does; 2–16 asks the receiver for a session in which files of at
    /// least two blocks go as blocks over all of them. `nil`: chosen from the first
    /// connection's round trip (``automaticStreams(roundTrip:)``).
    public var streams: Int?

    /// The number of connections for a path whose round trip is `roundTrip` seconds: one
    /// under 2 ms (loopback, a LAN: more would only cost), else one per 5 ms of round trip,
    /// 2 to 8. Linux bounds one connection's send window at 4 MiB by default (`tcp_wmem`),
    /// so one connection carries at most 4 MiB per round trip: ~80 MB/s at 50 ms.
    public static func automaticStreams(roundTrip: Double) -> Int {
        guard roundTrip >= 0.002 else { return 1 }
        return min(8, max(2, Int((roundTrip / 0.005).rounded(.up))))
    }

    /// The defaults: 10 s to connect, 30 s idle timeout, 1 MiB records, keep-alive every 5 s,
    /// resumable IDs.
    public init() {}
}
