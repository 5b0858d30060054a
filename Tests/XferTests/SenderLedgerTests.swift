import Framing
import Testing

@testable import Transfer

/// The sender's rules for the receiver's records, on their own: no sockets.
@Suite struct SenderLedgerTests {
    static let id = TransferID(high: 7, low: 7)
    static let other = TransferID(high: 8, low: 8)

    /// A ledger with one 10-byte stream offered at `offset`.
    static func offered(offset: UInt64 = 0, size: UInt64? = 10) -> SenderLedger {
        var ledger = SenderLedger(names: ["a"])
        ledger.offered(0, id: id, size: size, offset: offset, awaitAnswer: false)
        return ledger
    }

    static func accept(_ offset: UInt64 = 0) -> Record {
        .answer(Answer(transferID: id, decision: .accept, offset: offset))
    }

    static func ack(length: UInt64 = 10, digest: UInt64 = 99, durable: Bool = true, id: TransferID = id) -> Record {
        .ack(Ack(transferID: id, committedLength: length, digest: digest, durable: durable))
    }

    static func violates(_ ledger: inout SenderLedger, _ record: Record) -> Bool {
        do {
            _ = try ledger.apply(record)
            return false
        } catch {
            if case .protocolViolation = error { return true }
            return false
        }
    }

    @Test func matchingAckConfirms() throws {
        var ledger = Self.offered()
        _ = try ledger.apply(Self.accept())
        ledger.sent(0, 10)
        #expect(ledger.expect(0, length: 10, digest: 99) == .none)
        #expect(try ledger.apply(Self.ack()) == .decided(index: 0))
        #expect(ledger.streams[0].outcome == .confirmed(Delivery(bytes: 10, durable: true)))
    }

    @Test func nonDurableAckIsNotDurable() throws {
        var ledger = Self.offered()
        _ = try ledger.apply(Self.accept())
        _ = ledger.expect(0, length: 10, digest: 99)
        _ = try ledger.apply(Self.ack(durable: false))
        #expect(ledger.streams[0].outcome == .confirmed(Delivery(bytes: 10, durable: false)))
    }

    @Test func wrongLengthOrDigestFails() throws {
        for wrong in [Self.ack(length: 9), Self.ack(digest: 98)] {
            var ledger = Self.offered()
            _ = try ledger.apply(Self.accept())
            _ = ledger.expect(0, length: 10, digest: 99)
            _ = try ledger.apply(wrong)
            guard case .failed(.integrity)? = ledger.streams[0].outcome else {
                Issue.record("\(wrong) gave \(String(describing: ledger.streams[0].outcome))")
                continue
            }
        }
    }

    @Test func ackBeforeEndIsAViolation() throws {
        var ledger = Self.offered()
        _ = try ledger.apply(Self.accept())
        #expect(Self.violates(&ledger, Self.ack()))
    }

    @Test func ackWithoutAnswerOrForAnUnknownIDIsAViolation() {
        var ledger = Self.offered()
        #expect(Self.violates(&ledger, Self.ack()))
        var unknown = Self.offered()
        #expect(Self.violates(&unknown, Self.ack(id: Self.other)))
        #expect(Self.violates(&unknown, .answer(Answer(transferID: Self.other, decision: .accept, offset: 0))))
    }

    @Test func secondAckAndErrorAfterAckAreViolations() throws {
        var ledger = Self.offered()
        _ = try ledger.apply(Self.accept())
        _ = ledger.expect(0, length: 10, digest: 99)
        _ = try ledger.apply(Self.ack())
        var twice = ledger
        #expect(Self.violates(&twice, Self.ack(digest: 1)))
        let error = ErrorRecord(code: .ioError, transferID: Self.id, fatal: false, message: "late")
        #expect(Self.violates(&ledger, .error(error)))
    }

    @Test func ackAfterErrorIsAViolation() throws {
        var ledger = Self.offered()
        _ = try ledger.apply(Self.accept())
        let error = ErrorRecord(code: .noSpace, transferID: Self.id, fatal: false, message: "full")
        #expect(try ledger.apply(.error(error)) == .decided(index: 0))
        _ = ledger.expect(0, length: 10, digest: 99)
        #expect(Self.violates(&ledger, Self.ack()))
    }

    @Test func acceptAtAnotherOffsetIsAViolation() {
        var ledger = Self.offered()
        #expect(Self.violates(&ledger, Self.accept(5)))
    }

    @Test func resumePastTheSizeIsAViolation() {
        var ledger = Self.offered()
        #expect(Self.violates(&ledger, .answer(Answer(transferID: Self.id, decision: .resume, offset: .max))))
    }

    @Test func wireExtremesNeverTrap() throws {
        var ledger = Self.offered(offset: 4)
        _ = try ledger.apply(Self.accept(4))
        ledger.sent(0, 3)
        // Within the size but past what this side counted as sent (a race): clamped.
        _ = try ledger.apply(.progress(Progress(transferID: Self.id, received: 10, durable: 0)))
        #expect(ledger.streams[0].received == 3)
        // Below the offset: nothing.
        _ = try ledger.apply(.progress(Progress(transferID: Self.id, received: 1, durable: 0)))
        #expect(ledger.streams[0].received == 3)
        // Past the size, or for an ID never offered: a lie.
        var past = ledger
        #expect(Self.violates(&past, .progress(Progress(transferID: Self.id, received: .max, durable: .max))))
        var stranger = ledger
        #expect(Self.violates(&stranger, .progress(Progress(transferID: Self.other, received: .max, durable: 0))))
        _ = ledger.expect(0, length: 7, digest: 1)
        _ = try ledger.apply(Self.ack(length: .max, digest: 1))
        guard case .failed(.integrity)? = ledger.streams[0].outcome else {
            Issue.record("an ACK of 2^64-1 bytes was not an integrity failure")
            return
        }
    }

    @Test func alreadyCommittedWaitsForTheLocalDigest() throws {
        var ledger = Self.offered()
        _ = try ledger.apply(.answer(Answer(transferID: Self.id, decision: .alreadyCommitted, offset: 10)))
        ledger.cancelled(0)  // the sender stops streaming it; the ACK is still expected
        #expect(try ledger.apply(Self.ack()) == .none)
        #expect(ledger.expect(0, length: 10, digest: 99) == .decided(index: 0))
        #expect(ledger.streams[0].outcome == .confirmed(Delivery(bytes: 10, durable: true, alreadyCommitted: true)))
    }

    @Test func resumedStreamSaysFromWhere() throws {
        var ledger = Self.offered(offset: 6)
        _ = try ledger.apply(Self.accept(6))
        _ = ledger.expect(0, length: 10, digest: 99)
        _ = try ledger.apply(Self.ack())
        #expect(ledger.streams[0].outcome == .confirmed(Delivery(bytes: 10, durable: true, resumedFrom: 6)))
    }

    @Test func fatalErrorEndsTheConnection() throws {
        var ledger = Self.offered()
        let effect = try ledger.apply(.error(ErrorRecord(code: .busy, fatal: true, message: "later")))
        guard case .fatal(.refused(code: .busy, _)) = effect else {
            Issue.record("\(effect)")
            return
        }
    }
}
