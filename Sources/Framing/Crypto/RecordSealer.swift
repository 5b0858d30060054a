/// Seals one direction's records after an authenticated handshake (SPEC.md §13.4): every
/// record becomes a SEALED record whose payload is the AEAD ciphertext of the inner kind,
/// flags and payload, followed by the tag.
///
/// ```
///  outer header (AAD)                    ciphertext                      tag
///  +------+-------+--------+-------+   +------------+-------------+--------------+-----------+
///  | 0x0E | 0x00  | length | CRC   |   | inner kind | inner flags | inner payload| 16 bytes  |
///  +------+-------+--------+-------+   +------------+-------------+--------------+-----------+
///  length = inner payload + 18; nonce = iv XOR (0^4 || u64 sequence); CRC as in §4
/// ```
///
/// The sequence starts at 0 and grows by one per record, so no nonce is ever used twice
/// under one key; the two directions have different keys and IVs.
public struct RecordSealer: Sendable {
    /// Bytes a sealed record adds to its inner payload: inner kind, inner flags and the tag.
    public static let overhead = 2 + CipherSuite.tagByteCount
    /// The largest inner payload: the outer record stays within ``ProtocolLimits/maxPayload``.
    public static let maxInnerPayload = ProtocolLimits.maxPayload - overhead

    private let aead: AEAD
    private let secret: TrafficSecret
    /// The sequence number of the next record.
    public private(set) var sequence: UInt64 = 0

    /// A sealer for one direction.
    /// - Throws: ``CryptoUnavailable`` when the system's libcrypto cannot be used.
    public init(suite: CipherSuite, secret: TrafficSecret) throws(CryptoUnavailable) {
        aead = try AEAD(suite: suite, key: secret.key)
        self.secret = secret
    }

    /// Appends `record`, sealed, to `buffer`.
    /// - Throws: ``FramingError/invalidField(kind:field:reason:)`` for a record that cannot be
    ///   encoded, or whose payload is over ``maxInnerPayload``.
    public mutating func seal(_ record: Record, appendingTo buffer: inout [UInt8]) throws(FramingError) {
        var plain: [UInt8] = []
        try RecordEncoder.append(record, to: &plain)
        let innerCount = plain.count - ProtocolLimits.headerSize
        guard innerCount <= RecordSealer.maxInnerPayload else {
            throw .invalidField(
                kind: record.kind,
                field: "payload",
                reason: "\(innerCount) bytes, over the sealed limit"
            )
        }
        let start = buffer.count
        buffer += [UInt8](repeating: 0, count: ProtocolLimits.headerSize)
        buffer.append(plain[0])
        buffer.append(plain[1])
        buffer += plain[ProtocolLimits.headerSize...]
        buffer += [UInt8](repeating: 0, count: CipherSuite.tagByteCount)
        buffer.withUnsafeMutableBytes { sealInPlace(UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
    }

    /// Seals a record laid out in place: `record` is 10 bytes of room for the outer header,
    /// the inner kind and flags, the inner payload, and 16 bytes of room for the tag. The
    /// payload is encrypted where it lies (DATA read straight from a file is never copied).
    public mutating func sealInPlace(_ record: UnsafeMutableRawBufferPointer) {
        let header = ProtocolLimits.headerSize
        precondition(
            record.count >= header + RecordSealer.overhead
                && record.count - header - RecordSealer.overhead <= RecordSealer.maxInnerPayload,
            "sealed record size out of range"
        )
        record[0] = RecordKind.sealed.rawValue
        record[1] = 0
        record.storeBytes(of: UInt32(record.count - header).bigEndian, toByteOffset: 2, as: UInt32.self)
        let tagStart = record.count - CipherSuite.tagByteCount
        secret.nonce(sequence).withUnsafeBytes { nonce in
            aead.seal(
                nonce: nonce,
                additionalData: UnsafeRawBufferPointer(rebasing: record[0..<6]),
                text: UnsafeMutableRawBufferPointer(rebasing: record[header..<tagStart]),
                tag: UnsafeMutableRawBufferPointer(rebasing: record[tagStart...])
            )
        }
        sequence += 1
        let crc = CRC32C.checksum(
            UnsafeRawBufferPointer(rebasing: record[header...]),
            continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: record[0..<6]))
        )
        record.storeBytes(of: crc.bigEndian, toByteOffset: 6, as: UInt32.self)
    }
}
