/// Opens one direction's SEALED records (SPEC.md §13.4), in order: record `n` opens only
/// with nonce `n`, so a record dropped, repeated, reordered, replayed from another
/// connection or altered fails to open. ``RecordDecoder/startOpening(_:)`` uses it.
public struct RecordOpener: RecordOpening {
    private let aead: AEAD
    private let secret: TrafficSecret
    /// The sequence number the next record must have been sealed with.
    public private(set) var sequence: UInt64 = 0

    /// An opener for one direction.
    /// - Throws: ``CryptoUnavailable`` when the system's libcrypto cannot be used.
    public init(suite: CipherSuite, secret: TrafficSecret) throws(CryptoUnavailable) {
        aead = try AEAD(suite: suite, key: secret.key)
        self.secret = secret
    }

    /// Opens a SEALED record in place: `header` is its first 6 header bytes (the additional
    /// data), `payload` its ciphertext and tag. On success the first `payload.count - 16`
    /// bytes hold the plaintext (inner kind, flags, payload); on failure they are zeroed.
    public mutating func open(header: UnsafeRawBufferPointer, payload: UnsafeMutableRawBufferPointer) -> Bool {
        defer { sequence &+= 1 }
        guard payload.count >= RecordSealer.overhead else { return false }
        let tagStart = payload.count - CipherSuite.tagByteCount
        let opened = secret.nonce(sequence).withUnsafeBytes { nonce in
            aead.open(
                nonce: nonce,
                additionalData: header,
                text: UnsafeMutableRawBufferPointer(rebasing: payload[..<tagStart]),
                tag: UnsafeRawBufferPointer(rebasing: payload[tagStart...])
            )
        }
        return opened
    }
}
