/// What a raw-mode send could honestly claim in the end: the strongest statement that the
/// local kernel's evidence supports, never more.
///
/// Raw mode talks to peers that speak no protocol, so the best evidence there is comes
/// from TCP itself: how much of the stream (and its FIN) the peer's *kernel* acknowledged
/// (`SIOCOUTQ`, Linux only), whether the peer closed its side (end of stream), and
/// whether it reset the connection. None of it says that the peer *application* read or
/// kept the bytes; only xfer's own protocol can say that.
public enum RawVerdict: Sendable, Equatable, CustomStringConvertible {
    /// Every byte and the FIN were acknowledged by the peer's TCP, and the peer closed the
    /// connection without resetting it. `bytes`: the whole stream.
    case delivered(bytes: UInt64)
    /// Every byte was acknowledged by the peer's TCP (it reached the peer's kernel), but
    /// the peer neither closed nor reset the connection within the timeout.
    /// `endAcknowledged`: whether the FIN was acknowledged too. `peerHalfClosed`: the peer
    /// had ended its side of the stream before its TCP acknowledged our end of stream (so
    /// its end of stream says nothing about reading our bytes), and did not reset the
    /// connection while the sender waited for that (a half-close is not a close).
    case acknowledgedNotClosed(bytes: UInt64, endAcknowledged: Bool, peerHalfClosed: Bool = false)
    /// The peer reset the connection (`ECONNRESET`, or `EPIPE` on a write after it).
    /// `acknowledged`: how many of the `written` bytes the peer's TCP had acknowledged
    /// before the reset (`nil`: not measurable here); a reset discards what the peer
    /// application had not read, so nothing beyond that can be claimed (a delayed ACK may
    /// hide a little the peer did receive). `peerClosedFirst`: the peer had sent its end
    /// of stream before the reset.
    case reset(written: UInt64, acknowledged: UInt64?, peerClosedFirst: Bool)
    /// Not every byte (or not the FIN) was acknowledged by the peer's TCP when the timeout
    /// passed without progress, or this system cannot tell (`acknowledged` is `nil`).
    /// `complete`: the whole source was written and the FIN queued; when it was not, the
    /// sender resets the connection, so the peer cannot mistake the part for the whole.
    case notAcknowledged(written: UInt64, acknowledged: UInt64?, peerClosed: Bool, complete: Bool)
    /// The connection failed otherwise (the kernel gave up retransmitting, a route
    /// vanished): `reason` is the system's text.
    case connectionFailed(written: UInt64, acknowledged: UInt64?, reason: String)
    /// No connection: nothing was sent.
    case cannotConnect(String)
    /// The source could not be read (before connecting, or part-way: then the connection
    /// was reset so the peer cannot take the part for the whole).
    case localIO(String)

    /// Whether the verdict is the strongest one, ``delivered(bytes:)``.
    public var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }

    /// A short name for scripts (`--json`): `delivered`, `acknowledged_not_closed`,
    /// `reset`, `not_acknowledged`, `connection_failed`, `cannot_connect`, `local_io`.
    public var name: String {
        switch self {
        case .delivered: return "delivered"
        case .acknowledgedNotClosed: return "acknowledged_not_closed"
        case .reset: return "reset"
        case .notAcknowledged: return "not_acknowledged"
        case .connectionFailed: return "connection_failed"
        case .cannotConnect: return "cannot_connect"
        case .localIO: return "local_io"
        }
    }

    /// One sentence: what is known, and what is not.
    public var description: String {
        switch self {
        case .delivered(let bytes):
            return "delivered to the peer's TCP: all \(bytes) bytes and the end of stream were acknowledged, "
                + "and the peer closed the connection without a reset (raw mode cannot tell whether the "
                + "peer application read them)"
        case .acknowledgedNotClosed(let bytes, let endAcknowledged, let peerHalfClosed):
            let acknowledged =
                "acknowledged, not closed: the peer's TCP acknowledged all \(bytes) bytes"
                + (endAcknowledged ? " and the end of stream" : " (not yet the end of stream)")
                + ", so the data reached the peer's kernel; "
            if peerHalfClosed {
                return acknowledged
                    + "but the peer only half-closed: it ended its side before it had our end of stream, "
                    + "which says nothing about reading the bytes, and it did not reset the connection while "
                    + "xfer waited; nothing says its application read them"
            }
            return acknowledged
                + "but the peer neither closed nor reset the connection in time, so nothing says its "
                + "application read them"
        case .reset(let written, let acknowledged, let peerClosedFirst):
            let acked: String
            switch acknowledged {
            case nil: acked = "\(written) bytes were written; how many were acknowledged cannot be told on this system"
            case 0:
                acked =
                    written == 0
                    ? "no byte was written yet" : "none of the \(written) bytes written was acknowledged by its TCP"
            case let count?:
                acked =
                    "before it, its TCP had acknowledged \(count) of the \(written) bytes written (no more can be claimed)"
            }
            return "the peer reset the connection\(peerClosedFirst ? " after closing its side" : ""): \(acked), "
                + "and a reset discards what the peer application had not read"
        case .notAcknowledged(let written, let acknowledged, let peerClosed, let complete):
            var text: String
            if let acknowledged {
                text = "not acknowledged: the peer's TCP acknowledged \(acknowledged) of the \(written) bytes written"
                if acknowledged == written { text += ", but not the end of stream" }
            } else {
                text =
                    "not known to be acknowledged: \(written) bytes were written, and this system cannot tell "
                    + "how many the peer's TCP acknowledged (SIOCOUTQ is Linux-only)"
            }
            if peerClosed { text += "; the peer closed its side" }
            if !complete {
                text +=
                    "; the source was not fully sent, so the connection was reset (the peer cannot take the part for the whole)"
            }
            return text
        case .connectionFailed(let written, let acknowledged, let reason):
            let acked = acknowledged.map { "\($0) of \(written) bytes acknowledged" } ?? "\(written) bytes written"
            return "connection failed (\(reason)) with \(acked)"
        case .cannotConnect(let reason): return "cannot connect: \(reason)"
        case .localIO(let reason): return "local I/O error: \(reason)"
        }
    }
}
