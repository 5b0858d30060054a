/// The 8 bytes each side sends first, before any record (SPEC.md §3):
///
/// ```
///  0      4        6         8
///  +------+--------+---------+
///  | XFER | version| reserved|
///  +------+--------+---------+
/// ```
///
/// The client sends the highest version it speaks; the server answers with the version it
/// will use. When that differs from the client's, the server follows with a fatal ERROR
/// `unsupportedVersion` and the client may reconnect with the server's version.
public struct Preamble: Hashable, Sendable {
    /// The magic bytes "XFER".
    public static let magic: [UInt8] = [0x58, 0x46, 0x45, 0x52]
    /// The version this implementation speaks.
    public static let currentVersion: UInt16 = 1

    /// The protocol version announced.
    public var version: UInt16

    /// A preamble announcing `version`.
    public init(version: UInt16 = Preamble.currentVersion) { self.version = version }

    /// The 8 wire bytes.
    public var bytes: [UInt8] {
        var bytes = Preamble.magic
        bytes.appendBigEndian(version)
        bytes.appendBigEndian(UInt16(0))
        return bytes
    }

    /// Decodes exactly 8 bytes.
    /// - Throws: ``FramingError/badMagic(_:)`` when the first four are not "XFER".
    public init<Bytes: Collection<UInt8>>(decoding bytes: Bytes) throws(FramingError) {
        precondition(bytes.count == ProtocolLimits.preambleSize)
        let array = Array(bytes)
        guard array.prefix(4).elementsEqual(Preamble.magic) else { throw .badMagic(Array(array.prefix(4))) }
        version = UInt16(array[4]) << 8 | UInt16(array[5])
        // Bytes 6–7 are reserved: sent as zero, ignored on receipt (SPEC.md §3).
    }
}
