/// What a ``RecordDecoder`` needs to open SEALED records (SPEC.md §13.4): the record layer
/// depends on this, and the cryptography (``RecordOpener``) conforms, so the records do
/// not depend on the cryptography.
public protocol RecordOpening: Sendable {
    /// The sequence number the next record must have been sealed with.
    var sequence: UInt64 { get }

    /// Opens a SEALED record in place: `header` is its first 6 header bytes (the additional
    /// data), `payload` its ciphertext and tag. On success the first `payload.count - 16`
    /// bytes hold the plaintext (inner kind, flags, payload); on failure they are zeroed.
    /// Every call, opened or not, moves on to the next sequence number.
    mutating func open(header: UnsafeRawBufferPointer, payload: UnsafeMutableRawBufferPointer) -> Bool
}
