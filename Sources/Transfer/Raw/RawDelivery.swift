#if canImport(Glibc)
    import Glibc
#endif

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
