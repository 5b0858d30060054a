#if canImport(Glibc)
    import Glibc
#endif

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

/// The evidence a raw-mode send gathers, and the verdict it supports: a value type with no
/// I/O and no clock, so every rule can be tested on its own.
///
/// Feed it what happens, in order: bytes written, the end of writing (FIN queued),
/// `SIOCOUTQ` readings, bytes and the end of stream read from the peer, failures. Then
/// ``verdict(timedOut:)`` says whether the send is decided.
///
/// ```
///   written ─────────────────────────────┐ shutdown(SHUT_WR): the FIN is one more
///   |◀── acknowledged ──▶|◀ SIOCOUTQ ──▶|F|   sequence number, so SIOCOUTQ == 0
///                        snd_una     write_seq  means every byte and the FIN
/// ```
///
/// The rules, strongest first: a failure (reset, or another error) decides at once; every
/// byte and the FIN acknowledged *and* the peer's end of stream is ``RawVerdict/delivered(bytes:)``,
/// unless that end of stream came before our end was acknowledged (a half-close: then
/// ``RawVerdict/acknowledgedNotClosed(bytes:endAcknowledged:peerHalfClosed:)``); only when
/// the caller's timeout passed without progress is the send decided otherwise.
public struct RawDelivery: Sendable, Equatable {
    /// Why the connection ended badly.
    public enum Failure: Sendable, Equatable {
        /// `ECONNRESET`, or `EPIPE` (a write after a reset).
        case reset
        /// Any other socket error (`ETIMEDOUT` from the kernel, `EHOSTUNREACH`, ...).
        case other(errno: CInt)
        /// The source could not be read.
        case source(String)
    }

    /// Whether this system reports unacknowledged bytes (Linux: yes).
    public let measurable: Bool
    /// Bytes the local kernel accepted (`send` returned them).
    public private(set) var written: UInt64 = 0
    /// Whether the whole source was written and `shutdown(SHUT_WR)` queued the FIN.
    public private(set) var finished = false
    /// Whether the whole source was written (the FIN may still wait: ``RawSender`` queues
    /// it once the data is acknowledged).
    public private(set) var sourceWritten = false
    /// The last `SIOCOUTQ` reading: sequence space not yet acknowledged (the FIN included
    /// once queued); `nil` before the first.
    public private(set) var unacknowledged: UInt64?
    /// Bytes read from the peer (a greeting, a reply): drained, so our close finds none.
    public private(set) var replyBytes: UInt64 = 0
    /// Whether the peer's end of stream (its FIN) was read.
    public private(set) var peerClosed = false
    /// Whether that end of stream came before the peer's TCP had acknowledged our whole
    /// stream and its FIN (as far as measured when it was read): the peer ended its side
    /// before it could have read to our end, which says nothing about reading, and a peer
    /// that closes later with our data unread resets the connection. ``RawSender`` holds
    /// its FIN back to see that reset, and such a peer is never ``RawVerdict/delivered(bytes:)``.
    public private(set) var peerClosedEarly = false
    /// The first failure seen; later ones are consequences of it.
    public private(set) var failure: Failure?
    /// Whether the peer closed its side before the first failure.
    public private(set) var peerClosedBeforeFailure = false
    private var highestAcknowledged: UInt64 = 0

    /// Evidence for one send.
    /// - Parameter measurable: Whether `SIOCOUTQ` readings will come (``measured(unacknowledged:)``).
    public init(measurable: Bool) {
        self.measurable = measurable
    }

    /// The local kernel accepted `count` more bytes.
    public mutating func wrote(_ count: Int) {
        written &+= UInt64(max(count, 0))
    }

    /// The whole source is written; the FIN is not queued yet.
    public mutating func wroteSource() {
        sourceWritten = true
    }

    /// The whole source is written and the FIN is queued (`shutdown(SHUT_WR)`).
    public mutating func finishedWriting() {
        sourceWritten = true
        finished = true
    }

    /// A `SIOCOUTQ` reading taken after the writes recorded so far.
    public mutating func measured(unacknowledged reading: UInt64) {
        unacknowledged = reading
        highestAcknowledged = max(highestAcknowledged, Self.acknowledged(written: written, finished: finished, reading))
    }

    /// `count` bytes were read from the peer and discarded (or shown).
    public mutating func received(_ count: Int) {
        replyBytes &+= UInt64(max(count, 0))
    }

    /// The peer's end of stream was read (call it after a ``measured(unacknowledged:)``
    /// taken when it was read: what was acknowledged by then decides whether it came early).
    public mutating func peerEnded() {
        guard !peerClosed else { return }
        peerClosed = true
        peerClosedEarly = measurable && !endAcknowledged
    }

    /// A socket call failed with `errno` (`ECONNRESET` and `EPIPE` are a reset).
    public mutating func failed(errno code: CInt) {
        fail(code == ECONNRESET || code == EPIPE ? .reset : .other(errno: code))
    }

    /// The source could not be read.
    public mutating func sourceFailed(_ reason: String) {
        fail(.source(reason))
    }

    private mutating func fail(_ failure: Failure) {
        guard self.failure == nil else { return }
        self.failure = failure
        peerClosedBeforeFailure = peerClosed
    }

    /// Data bytes the peer's TCP acknowledged, at most ``written``; `nil` when nothing was
    /// measured (no reading yet, or not measurable here). Never decreases.
    public var acknowledged: UInt64? {
        unacknowledged == nil ? nil : highestAcknowledged
    }

    /// Whether the FIN was acknowledged too (every byte and the end of stream).
    public var endAcknowledged: Bool {
        finished && unacknowledged == 0
    }

    /// Data bytes acknowledged by a reading: the sequence space used (bytes, plus one for
    /// a queued FIN) less what is unacknowledged, at most the bytes written. A reading
    /// larger than the sequence space (impossible, but never trusted) means 0.
    static func acknowledged(written: UInt64, finished: Bool, _ reading: UInt64) -> UInt64 {
        // The FIN is the last sequence number: once queued, it is the first thing unacknowledged.
        let dataUnacknowledged = finished ? max(reading, 1) - 1 : reading
        guard dataUnacknowledged <= written else { return 0 }
        return written - dataUnacknowledged
    }

    /// The verdict the evidence supports, or `nil` while the send is undecided.
    /// - Parameter timedOut: Whether the caller's timeout passed without progress (no
    ///   byte written, acknowledged or read, no end of stream).
    /// - Returns: ``RawVerdict/delivered(bytes:)`` as soon as every byte and the FIN are
    ///   acknowledged and the peer closed; a failure's verdict at once; after a timeout
    ///   ``RawVerdict/acknowledgedNotClosed(bytes:endAcknowledged:)`` when every byte
    ///   reached the peer's kernel, else ``RawVerdict/notAcknowledged(written:acknowledged:peerClosed:complete:)``.
    public func verdict(timedOut: Bool) -> RawVerdict? {
        switch failure {
        case .reset:
            return .reset(written: written, acknowledged: acknowledged, peerClosedFirst: peerClosedBeforeFailure)
        case .other(let code):
            return .connectionFailed(
                written: written,
                acknowledged: acknowledged,
                reason: String(cString: strerror(code))
            )
        case .source(let reason):
            return .localIO(reason)
        case nil:
            break
        }
        if finished && peerClosed {
            if endAcknowledged {
                // A peer that ended its side before it had our end of stream did not close
                // after reading to it: at most acknowledged (no reset came while we waited).
                if peerClosedEarly {
                    return .acknowledgedNotClosed(bytes: written, endAcknowledged: true, peerHalfClosed: true)
                }
                return .delivered(bytes: written)
            }
            // Without SIOCOUTQ nothing more will be learned: say only what is known.
            if !measurable {
                return .notAcknowledged(written: written, acknowledged: nil, peerClosed: true, complete: true)
            }
        }
        guard timedOut else { return nil }
        if finished && !peerClosed, let acknowledged, acknowledged == written {
            return .acknowledgedNotClosed(bytes: written, endAcknowledged: endAcknowledged)
        }
        return .notAcknowledged(
            written: written,
            acknowledged: acknowledged,
            peerClosed: peerClosed,
            complete: finished
        )
    }
}
