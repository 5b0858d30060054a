/// What an ACK confirms, bound to the offer it answers (SPEC.md §13.5):
///
/// ```
/// SHA-256("xfer-1.2 ack" || OFFER payload without its offset field
///         || u64 committed length || u64 digest)
/// ```
///
/// On a sealed connection every ACK carries one, and the sender compares it with the one it
/// computes from its own OFFER: a receiver cannot confirm a stream under another name, size,
/// mode or time than the sender offered. It is a hash of values both sides know, not a
/// secret, so it may be compared with `==`; xfer compares it in constant time all the same.
///
/// The value as records carry it; how it is computed and compared is cryptography
/// (`AckBinding+Offer.swift`).
public struct AckBinding: Hashable, Sendable {
    /// Bytes of a binding.
    public static let byteCount = 32

    /// The binding's bytes, as sent in the ACK.
    public let bytes: [UInt8]

    /// A binding as read from an ACK.
    public init(bytes: [UInt8]) {
        precondition(bytes.count == AckBinding.byteCount, "an ACK binding is 32 bytes")
        self.bytes = bytes
    }

}

extension Offer {
    /// Where the offset lies in an OFFER's payload (SPEC.md §6.2).
    static let offsetField = 24..<32
}
