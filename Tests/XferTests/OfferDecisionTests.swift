import Framing
import Testing

@testable import Transfer

/// The receiver's answer to an OFFER, rule by rule, from values: no directory, no journal.
@Suite struct OfferDecisionTests {
    static let id = TransferID(high: 1, low: 2)
    static let identity = FileIdentity(
        device: 1,
        inode: 2,
        size: 3,
        changeSeconds: 4,
        changeNanoseconds: 5,
        modificationSeconds: 6,
        modificationNanoseconds: 7
    )
    static let entry = CommitJournal.Entry(length: 3, digest: 99, name: "a.txt", identity: identity)

    static func offer(size: UInt64? = 3, offset: UInt64 = 0, name: String = "a.txt") -> Offer {
        Offer(transferID: id, size: size, offset: offset, name: name)
    }

    static func code(_ decision: OfferDecision?) -> ErrorCode? {
        if case .refuse(let failure) = decision { return failure.code }
        return nil
    }

    @Test func theSameFileUnderItsNameIsAlreadyCommitted() {
        let decision = OfferDecision.beforeClaim(
            Self.offer(),
            existing: Self.identity,
            committed: Self.entry,
            openOnThisConnection: false
        )
        #expect(decision == .alreadyCommitted(Self.entry))
        // An offer of unknown size matches any committed length.
        #expect(
            OfferDecision.beforeClaim(
                Self.offer(size: nil),
                existing: Self.identity,
                committed: Self.entry,
                openOnThisConnection: false
            ) == .alreadyCommitted(Self.entry)
        )
    }

    @Test func aFileReplacedSinceTheCommitIsNotIt() {
        var replaced = Self.identity
        replaced.inode += 1
        #expect(
            OfferDecision.beforeClaim(
                Self.offer(),
                existing: replaced,
                committed: Self.entry,
                openOnThisConnection: false
            )
                == nil
        )
        // Same size, another change time: still another file.
        var touched = Self.identity
        touched.changeNanoseconds += 1
        #expect(
            OfferDecision.beforeClaim(
                Self.offer(),
                existing: touched,
                committed: Self.entry,
                openOnThisConnection: false
            )
                == nil
        )
    }

    @Test func anotherNameOrSizeOrNoFileIsNotAlreadyCommitted() {
        let entry = Self.entry
        for (offer, existing) in [
            (Self.offer(name: "b.txt"), Self.identity),
            (Self.offer(size: 4), Self.identity),
            (Self.offer(), nil),
        ] {
            #expect(
                OfferDecision.beforeClaim(offer, existing: existing, committed: entry, openOnThisConnection: false)
                    == nil
            )
        }
        #expect(
            OfferDecision.beforeClaim(
                Self.offer(),
                existing: Self.identity,
                committed: nil,
                openOnThisConnection: false
            )
                == nil
        )
    }

    @Test func aSecondOpenOfferOnAConnectionIsRefusedBusy() {
        let decision = OfferDecision.beforeClaim(
            Self.offer(),
            existing: nil,
            committed: nil,
            openOnThisConnection: true
        )
        #expect(Self.code(decision) == .busy)
        // Already committed wins: the ACK is true whatever else is open.
        #expect(
            OfferDecision.beforeClaim(
                Self.offer(),
                existing: Self.identity,
                committed: Self.entry,
                openOnThisConnection: true
            )
                == .alreadyCommitted(Self.entry)
        )
    }

    @Test func anIDClaimedElsewhereIsRefusedBusy() {
        #expect(Self.code(OfferDecision.claimedElsewhere(Self.offer())) == .busy)
    }

    @Test func aNewOfferFindingAFittingPartialIsAskedToResume() {
        #expect(OfferDecision.resuming(Self.offer(size: 10), held: 4) == .resume(at: 4))
        #expect(OfferDecision.resuming(Self.offer(size: 10), held: 10) == .resume(at: 10))
        // A partial longer than the stream is not its prefix: start again.
        #expect(OfferDecision.resuming(Self.offer(size: 10), held: 11) == nil)
        #expect(OfferDecision.resuming(Self.offer(size: 10), held: 0) == nil)
        #expect(OfferDecision.resuming(Self.offer(size: nil), held: 0) == nil)
    }

    @Test func aResumePastWhatIsHeldIsAskedToResumeThere() {
        #expect(OfferDecision.resuming(Self.offer(size: 10, offset: 6), held: 4) == .resume(at: 4))
        #expect(OfferDecision.resuming(Self.offer(size: 10, offset: 6), held: 0) == .resume(at: 0))
        // Resuming at or before the held length is accepted (the rest is cut).
        #expect(OfferDecision.resuming(Self.offer(size: 10, offset: 4), held: 4) == nil)
        #expect(OfferDecision.resuming(Self.offer(size: 10, offset: 2), held: 4) == nil)
    }

    @Test func roomIsMadeOnlyWhenTheRestDoesNotFit() {
        #expect(OfferDecision.shortfall(Self.offer(size: 100), free: 100) == nil)
        #expect(OfferDecision.shortfall(Self.offer(size: 100), free: 99) == 100)
        #expect(OfferDecision.shortfall(Self.offer(size: 100, offset: 40), free: 60) == nil)
        #expect(OfferDecision.shortfall(Self.offer(size: 100, offset: 40), free: 59) == 60)
        // Unknown size or unknown free space: nothing to check.
        #expect(OfferDecision.shortfall(Self.offer(size: nil), free: 0) == nil)
        #expect(OfferDecision.shortfall(Self.offer(size: 100), free: nil) == nil)
    }

    @Test func withoutRoomAfterMakingItTheOfferIsRefusedNoSpace() {
        #expect(OfferDecision.space(Self.offer(size: 100, offset: 40), free: 60) == .accept(at: 40))
        #expect(OfferDecision.space(Self.offer(size: 100), free: nil) == .accept(at: 0))
        let refused = OfferDecision.space(Self.offer(size: 100, offset: 40), free: 10)
        #expect(refused == .refuse(ReceiverFailure(.noSpace, "'a.txt' needs 60 bytes; 10 are free")))
    }

    @Test func aRefusalLogsInTheReceiversWords() {
        // The receiver refused: its log names the code, not "receiver refused" (the sender's words).
        #expect(ReceiverFailure(.busy, "x").logText == "busy (code 13): x")
        #expect(ReceiverFailure(TransferError.refused(code: .badName, message: "n")) == ReceiverFailure(.badName, "n"))
    }
}
