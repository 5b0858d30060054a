import CXferSystem

/// One reading of a connected TCP socket's send queue, from the local kernel: how many
/// bytes the peer's TCP has not acknowledged yet, and why (Linux only).
///
/// The corresponding C calls are `ioctl(SIOCOUTQ)`, `ioctl(SIOCOUTQNSD)` and
/// `getsockopt(TCP_INFO)`. `SIOCOUTQ` is `write_seq - snd_una`: after `shutdown(SHUT_WR)`
/// the FIN takes one sequence number, so a reading of 0 then means every byte *and* the
/// FIN were acknowledged. The numbers stay readable after a reset: `snd_una` is frozen at
/// the last acknowledgement the peer sent before it.
struct TCPQueue: Sendable, Equatable {
    /// Sequence space (bytes, plus the FIN once queued) not yet acknowledged by the peer.
    var unacknowledged: UInt64
    /// Of those, bytes not sent at all yet (held back by the peer's window or congestion).
    var unsent: UInt64
    /// `tcpi_state` (1 ESTABLISHED, 7 CLOSE, ...).
    var state: UInt8
    /// The receive window the peer last advertised, when the kernel reports it.
    var peerWindow: UInt64?
    /// Smoothed round-trip time, seconds.
    var roundTrip: Double
    /// Segments retransmitted so far.
    var retransmitted: UInt64

    /// Whether this system can tell acknowledged bytes at all (Linux: yes).
    static var isSupported: Bool {
        #if os(Linux)
            return true
        #else
            return false
        #endif
    }

    /// Reads the counters of socket `fd`; `nil` where the system has none (not Linux) or
    /// the socket is not a connected TCP socket.
    static func read(_ fd: CInt) -> TCPQueue? {
        var raw = xfer_tcp_queue()
        guard xfer_tcp_queue(fd, &raw) == 0 else { return nil }
        return TCPQueue(
            unacknowledged: UInt64(raw.unacknowledged),
            unsent: UInt64(raw.unsent),
            state: raw.state,
            peerWindow: raw.peer_window == UInt32.max ? nil : UInt64(raw.peer_window),
            roundTrip: Double(raw.rtt_us) / 1e6,
            retransmitted: UInt64(raw.retransmitted)
        )
    }
}
