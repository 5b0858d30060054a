import Testing

@testable import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// Raw mode's verdict rules on their own: evidence in, verdict out, no sockets.
@Suite struct RawModeVerdictTests {
    /// 1000 bytes written and the FIN queued, measured as `unacknowledged`.
    static func finished(unacknowledged: UInt64?, written: Int = 1000) -> RawDelivery {
        var delivery = RawDelivery(measurable: true)
        delivery.wrote(written)
        delivery.finishedWriting()
        if let unacknowledged { delivery.measured(unacknowledged: unacknowledged) }
        return delivery
    }

    @Test("Nothing is decided before there is evidence, and nothing but a timeout decides it then")
    func undecided() {
        let fresh = RawDelivery(measurable: true)
        #expect(fresh.verdict(timedOut: false) == nil)
        #expect(fresh.acknowledged == nil)
        #expect(
            fresh.verdict(timedOut: true)
                == .notAcknowledged(written: 0, acknowledged: nil, peerClosed: false, complete: false)
        )
    }

    @Test("Delivered needs every byte and the FIN acknowledged, then the peer's end of stream")
    func deliveredNeedsAllThree() {
        // FIN pending (SIOCOUTQ counts it as one): not yet.
        var delivery = Self.finished(unacknowledged: 1)
        #expect(delivery.acknowledged == 1000)
        #expect(!delivery.endAcknowledged)
        #expect(delivery.verdict(timedOut: false) == nil)
        // Everything acknowledged, but no end of stream yet.
        delivery.measured(unacknowledged: 0)
        #expect(delivery.verdict(timedOut: false) == nil)
        delivery.peerEnded()
        #expect(delivery.verdict(timedOut: false) == .delivered(bytes: 1000))
        // A timeout does not take away what was proven.
        #expect(delivery.verdict(timedOut: true) == .delivered(bytes: 1000))
        // The other order (the peer's end of stream while our FIN was unacknowledged) is a
        // half-close: see halfCloseIsNoClose.
        var early = Self.finished(unacknowledged: 1)
        early.peerEnded()
        early.measured(unacknowledged: 0)
        #expect(early.verdict(timedOut: false)?.isDelivered == false)
    }

    @Test("The peer's end of stream while we still write is no delivery: the rest may meet a reset")
    func earlyEndOfStream() {
        var delivery = RawDelivery(measurable: true)
        delivery.wrote(500)
        delivery.measured(unacknowledged: 0)
        delivery.peerEnded()
        #expect(delivery.verdict(timedOut: false) == nil)
        delivery.wrote(500)
        delivery.finishedWriting()
        delivery.measured(unacknowledged: 501)
        #expect(delivery.verdict(timedOut: false) == nil)
        delivery.failed(errno: ECONNRESET)
        #expect(delivery.verdict(timedOut: false) == .reset(written: 1000, acknowledged: 500, peerClosedFirst: true))
    }

    @Test("An end of stream before ours was acknowledged is a half-close: at most acknowledged, never delivered")
    func halfCloseIsNoClose() {
        // Issue 16: the peer's FIN came first (nothing of ours acknowledged yet), then every
        // byte and our FIN were acknowledged, and no reset came.
        var early = RawDelivery(measurable: true)
        early.wrote(1000)
        early.measured(unacknowledged: 1000)
        early.peerEnded()
        #expect(early.peerClosedEarly)
        early.measured(unacknowledged: 0)
        early.finishedWriting()
        early.measured(unacknowledged: 0)
        #expect(
            early.verdict(timedOut: false)
                == .acknowledgedNotClosed(bytes: 1000, endAcknowledged: true, peerHalfClosed: true)
        )
        #expect(early.verdict(timedOut: false)?.description.contains("only half-closed") == true)
        // Its end of stream before the source was even written is early too.
        var beforeData = RawDelivery(measurable: true)
        beforeData.measured(unacknowledged: 0)
        beforeData.peerEnded()
        #expect(beforeData.peerClosedEarly)
        // The reset it sends when it closes with our data unread is the verdict.
        early.failed(errno: ECONNRESET)
        #expect(early.verdict(timedOut: false) == .reset(written: 1000, acknowledged: 1000, peerClosedFirst: true))
        // Every byte acknowledged but our FIN held back: the peer did not have our end of
        // stream either, so its end of stream is early.
        var beforeOurEnd = RawDelivery(measurable: true)
        beforeOurEnd.wrote(1000)
        beforeOurEnd.wroteSource()
        beforeOurEnd.measured(unacknowledged: 0)
        beforeOurEnd.peerEnded()
        #expect(beforeOurEnd.peerClosedEarly)
        // After our end of stream was acknowledged, an end of stream is a close after it.
        var late = RawDelivery(measurable: true)
        late.wrote(1000)
        late.finishedWriting()
        late.measured(unacknowledged: 0)
        late.peerEnded()
        #expect(!late.peerClosedEarly)
        #expect(late.verdict(timedOut: false) == .delivered(bytes: 1000))
    }

    @Test("Acknowledged but never closed: its own verdict, and only after the timeout")
    func acknowledgedNotClosed() {
        let delivery = Self.finished(unacknowledged: 0)
        #expect(delivery.verdict(timedOut: false) == nil)
        #expect(delivery.verdict(timedOut: true) == .acknowledgedNotClosed(bytes: 1000, endAcknowledged: true))
        // Every byte acknowledged, the FIN not (yet): the data still reached the peer's kernel.
        let finPending = Self.finished(unacknowledged: 1)
        #expect(finPending.verdict(timedOut: true) == .acknowledgedNotClosed(bytes: 1000, endAcknowledged: false))
    }

    @Test("Not acknowledged: bytes outstanding at the timeout, or a peer that closed without acknowledging our end")
    func notAcknowledged() {
        let outstanding = Self.finished(unacknowledged: 401)
        #expect(outstanding.acknowledged == 600)
        #expect(
            outstanding.verdict(timedOut: true)
                == .notAcknowledged(written: 1000, acknowledged: 600, peerClosed: false, complete: true)
        )
        var closed = Self.finished(unacknowledged: 1)
        closed.peerEnded()
        #expect(
            closed.verdict(timedOut: true)
                == .notAcknowledged(written: 1000, acknowledged: 1000, peerClosed: true, complete: true)
        )
        // Still writing when the timeout came (a peer that does not read): not complete.
        var stuck = RawDelivery(measurable: true)
        stuck.wrote(4000)
        stuck.measured(unacknowledged: 3000)
        #expect(
            stuck.verdict(timedOut: true)
                == .notAcknowledged(written: 4000, acknowledged: 1000, peerClosed: false, complete: false)
        )
        // Everything written and acknowledged but the FIN never queued: not complete either.
        var unfinished = RawDelivery(measurable: true)
        unfinished.wrote(10)
        unfinished.measured(unacknowledged: 0)
        #expect(
            unfinished.verdict(timedOut: true)
                == .notAcknowledged(written: 10, acknowledged: 10, peerClosed: false, complete: false)
        )
    }

    @Test("A reset decides at once and says how much was acknowledged before it", arguments: [ECONNRESET, EPIPE])
    func reset(code: CInt) {
        var delivery = RawDelivery(measurable: true)
        delivery.wrote(1000)
        delivery.measured(unacknowledged: 700)
        delivery.failed(errno: code)
        #expect(delivery.verdict(timedOut: false) == .reset(written: 1000, acknowledged: 300, peerClosedFirst: false))
        // A reset after everything was acknowledged is still a reset: the application did
        // not read it all (Linux resets on close with unread data).
        var late = Self.finished(unacknowledged: 0)
        late.failed(errno: code)
        late.peerEnded()
        #expect(late.verdict(timedOut: false) == .reset(written: 1000, acknowledged: 1000, peerClosedFirst: false))
    }

    @Test("The first failure wins: EPIPE after the kernel gave up is not a reset")
    func firstFailureWins() {
        var delivery = RawDelivery(measurable: true)
        delivery.wrote(10)
        delivery.failed(errno: ETIMEDOUT)
        delivery.failed(errno: EPIPE)
        guard case .connectionFailed(10, nil, let reason) = delivery.verdict(timedOut: false) else {
            Issue.record("\(String(describing: delivery.verdict(timedOut: false)))")
            return
        }
        #expect(reason == String(cString: strerror(ETIMEDOUT)))
        var source = Self.finished(unacknowledged: 0)
        source.sourceFailed("disk on fire")
        source.failed(errno: ECONNRESET)
        #expect(source.verdict(timedOut: false) == .localIO("disk on fire"))
    }

    @Test("Acknowledged bytes never decrease and never exceed what was written, whatever the readings say")
    func acknowledgedIsClamped() {
        var delivery = RawDelivery(measurable: true)
        delivery.wrote(100)
        delivery.measured(unacknowledged: 20)
        #expect(delivery.acknowledged == 80)
        delivery.measured(unacknowledged: 60)  // impossible: snd_una does not go back
        #expect(delivery.acknowledged == 80)
        delivery.measured(unacknowledged: UInt64.max)
        #expect(delivery.acknowledged == 80)
        #expect(RawDelivery.acknowledged(written: 100, finished: false, 101) == 0)
        #expect(RawDelivery.acknowledged(written: 100, finished: true, 101) == 0)
        #expect(RawDelivery.acknowledged(written: 100, finished: true, 1) == 100)
        #expect(RawDelivery.acknowledged(written: 100, finished: true, 0) == 100)
        #expect(RawDelivery.acknowledged(written: 0, finished: true, 1) == 0)
        #expect(RawDelivery.acknowledged(written: UInt64.max, finished: true, 0) == UInt64.max)
    }

    @Test("Where SIOCOUTQ does not exist, a clean close is reported as not known to be acknowledged")
    func unmeasurable() {
        var delivery = RawDelivery(measurable: false)
        delivery.wrote(1000)
        delivery.finishedWriting()
        #expect(delivery.verdict(timedOut: false) == nil)
        delivery.peerEnded()
        #expect(
            delivery.verdict(timedOut: false)
                == .notAcknowledged(written: 1000, acknowledged: nil, peerClosed: true, complete: true)
        )
        var reset = RawDelivery(measurable: false)
        reset.failed(errno: ECONNRESET)
        #expect(reset.verdict(timedOut: false) == .reset(written: 0, acknowledged: nil, peerClosedFirst: false))
        #expect(!(reset.verdict(timedOut: false)?.isDelivered ?? true))
    }

    @Test("Replies are counted and change nothing else")
    func replies() {
        var delivery = Self.finished(unacknowledged: 0)
        delivery.received(13)
        delivery.received(-1)
        #expect(delivery.replyBytes == 13)
        #expect(delivery.verdict(timedOut: false) == nil)
    }

    @Test("Every verdict has a name for scripts and a sentence that says what is not known")
    func wording() {
        let verdicts: [RawVerdict] = [
            .delivered(bytes: 5), .acknowledgedNotClosed(bytes: 5, endAcknowledged: true),
            .reset(written: 5, acknowledged: 2, peerClosedFirst: false),
            .notAcknowledged(written: 5, acknowledged: 2, peerClosed: false, complete: false),
            .connectionFailed(written: 5, acknowledged: nil, reason: "x"), .cannotConnect("x"), .localIO("x"),
        ]
        #expect(Set(verdicts.map(\.name)).count == verdicts.count)
        #expect(RawVerdict.delivered(bytes: 5).description.contains("cannot tell whether the peer application"))
        #expect(
            RawVerdict.acknowledgedNotClosed(bytes: 5, endAcknowledged: true).description.contains("peer's kernel")
        )
        #expect(
            RawVerdict.reset(written: 5, acknowledged: 2, peerClosedFirst: false).description.contains("2 of the 5")
        )
        #expect(
            RawVerdict.notAcknowledged(written: 5, acknowledged: 2, peerClosed: false, complete: false).description
                .contains("reset")
        )
    }
}
