import Framing

/// What the receiver answers an OFFER (SPEC.md §7.2), decided from values the connection
/// gathered: no socket, no file. The connection asks in steps because each input costs a
/// system call or a claim that the earlier steps may make unnecessary (a new file, the
/// common case, costs one `stat`): ``beforeClaim(_:existing:committed:openOnThisConnection:)``,
/// then the claim (``claimedElsewhere(_:)`` when it fails), ``resuming(_:held:)``, and
/// ``space(_:free:)`` with the free bytes, asked again after ``shortfall(_:free:)`` made room.
enum OfferDecision: Equatable {
    /// Receive the stream from `offset` (0, or the kept prefix the sender resumes from).
    case accept(at: UInt64)
    /// A partial of this ID is held: the sender should resume at `offset` instead.
    case resume(at: UInt64)
    /// Committed earlier: ACK it at once with the journal's length and digest.
    case alreadyCommitted(CommitJournal.Entry)
    /// Refused with a code and message, the stream's bytes to be discarded.
    case refuse(ReceiverFailure)

    /// The first step: whether the offer is answered before claiming its ID.
    ///
    /// - Parameters:
    ///   - existing: the identity of the regular file now at the offer's name, if any.
    ///   - committed: the journal's entry for the offer's ID, read only when `existing` is
    ///     not nil (nil otherwise).
    ///   - openOnThisConnection: whether this connection holds a claim on the ID already.
    /// - Returns: `alreadyCommitted` when the file at the name is the one committed under
    ///   this ID (same name, same length when the offer says one, same identity: a file
    ///   replaced since is not it); `refuse` `busy` for a second open offer of one ID on a
    ///   connection (SPEC.md §7.2); nil to go on and claim the ID.
    static func beforeClaim(
        _ offer: Offer,
        existing: FileIdentity?,
        committed: CommitJournal.Entry?,
        openOnThisConnection: Bool
    ) -> OfferDecision? {
        if let existing, let entry = committed, entry.name == offer.name,
            offer.size == nil || offer.size == entry.length, existing == entry.identity
        {
            return .alreadyCommitted(entry)
        }
        if openOnThisConnection {
            return .refuse(
                ReceiverFailure(
                    .busy,
                    "'\(offer.name)' (transfer ID \(offer.transferID)) is offered twice on this connection; its earlier offer is not finished"
                )
            )
        }
        return nil
    }

    /// The answer when another connection holds the claim on the offer's ID.
    static func claimedElsewhere(_ offer: Offer) -> OfferDecision {
        .refuse(ReceiverFailure(.busy, "'\(offer.name)' is being received on another connection"))
    }

    /// The partial of the offer's ID the receiver holds, and whether it asks for a resume.
    ///
    /// - Parameter held: the partial's length (0 when there is none, or when the offer has
    ///   no declared size: a stream of unknown length is never resumed).
    /// - Returns: `resume` at `held` when a new offer (offset 0) finds a partial that fits
    ///   its size, or when an offer resumes past what is held; nil to go on.
    static func resuming(_ offer: Offer, held: UInt64) -> OfferDecision? {
        if (offer.offset == 0 && held > 0 && offer.size.map { held <= $0 } == true) || offer.offset > held {
            return .resume(at: held)
        }
        return nil
    }

    /// The bytes to free for the offer when `free` bytes are not enough; nil when they are,
    /// or when the size or the free space is unknown.
    static func shortfall(_ offer: Offer, free: UInt64?) -> UInt64? {
        guard let size = offer.size, let free, size - offer.offset > free else { return nil }
        return size - offer.offset
    }

    /// The last step: accept at the offer's offset, or refuse `noSpace` when `free` bytes
    /// (asked after making room) still cannot hold the rest of the stream.
    static func space(_ offer: Offer, free: UInt64?) -> OfferDecision {
        if let size = offer.size, let free, size - offer.offset > free {
            return .refuse(
                ReceiverFailure(.noSpace, "'\(offer.name)' needs \(size - offer.offset) bytes; \(free) are free")
            )
        }
        return .accept(at: offer.offset)
    }
}
