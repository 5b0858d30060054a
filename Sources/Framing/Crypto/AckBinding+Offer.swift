extension AckBinding {
    /// The binding of an ACK for `offer` that states `committedLength` and `digest`.
    public init(offer: Offer, committedLength: UInt64, digest: UInt64) {
        var payload: [UInt8] = []
        Record.offer(offer).appendPayload(to: &payload)
        // The offset is left out: a re-offer after `resume` and the first offer of a stream
        // describe the same stream from different positions.
        payload.removeSubrange(Offer.offsetField)
        var hash = SHA256()
        hash.update(Array("xfer-1.2 ack".utf8))
        hash.update(payload)
        var numbers: [UInt8] = []
        numbers.appendBigEndian(committedLength)
        numbers.appendBigEndian(digest)
        hash.update(numbers)
        bytes = hash.finalize()
    }

    /// Whether two bindings are the same, compared in constant time.
    public func matches(_ other: AckBinding) -> Bool { constantTimeEqual(bytes, other.bytes) }
}
