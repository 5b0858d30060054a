import CXferChecksums

/// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final xor
/// 0xFFFFFFFF. The check value of the ASCII bytes "123456789" is 0xE3069283.
///
/// Every xfer record carries one over its header and payload (SPEC.md §4). The default
/// entry point uses the CPU's CRC instruction (SSE 4.2 on x86-64, CRC32 on arm64) when the
/// CPU has it, chosen once at run time, and a table-driven fallback otherwise.
public enum CRC32C {
    /// Whether ``checksum(_:continuing:)`` runs on the CPU's CRC instruction.
    public static var isHardwareAccelerated: Bool { xfer_crc32c_hardware_available() != 0 }

    /// The CRC-32C of `bytes`.
    /// - Parameters:
    ///   - bytes: The data.
    ///   - previous: The CRC of the bytes before these (0 to start), so that split input
    ///     gives the same result as contiguous input.
    /// - Returns: The CRC-32C after `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        xfer_crc32c(previous, bytes.baseAddress, bytes.count)
    }

    /// The CRC-32C of a byte collection; see ``checksum(_:continuing:)``.
    @inlinable
    public static func checksum<Bytes: Sequence<UInt8>>(_ bytes: Bytes, continuing previous: UInt32 = 0) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({
            checksum(UnsafeRawBufferPointer($0), continuing: previous)
        }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { checksum($0, continuing: previous) }
    }

    /// The portable slicing-by-8 implementation, whatever the CPU. Exposed for tests and
    /// benchmarks; gives the same results as ``checksum(_:continuing:)``.
    public static func tableChecksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        xfer_crc32c_table(previous, bytes.baseAddress, bytes.count)
    }

    /// The hardware implementation, or `nil` when this CPU has no CRC-32C instruction.
    public static func hardwareChecksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32? {
        guard isHardwareAccelerated else { return nil }
        return xfer_crc32c_hardware(previous, bytes.baseAddress, bytes.count)
    }
}

/// The whole-stream digest carried by END and ACK records: XXH64 with seed 0 over every
/// byte of the stream from offset 0 (SPEC.md §6).
///
/// It detects accidental damage that per-record checksums cannot see (a lost, repeated or
/// reordered record, a resumed prefix that is not the same data); it is not a
/// cryptographic hash and does not stop a deliberate attacker.
public struct StreamDigest: Sendable {
    private var state = xfer_xxh64_state()

    /// A digest of the empty stream.
    public init() {
        xfer_xxh64_reset(&state, 0)
    }

    /// Feeds the next bytes of the stream.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        xfer_xxh64_update(&state, bytes.baseAddress, bytes.count)
    }

    /// Feeds the next bytes of the stream.
    public mutating func update<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// The number of bytes fed so far.
    public var byteCount: UInt64 { state.total_length }

    /// The digest of all bytes fed so far; feeding may continue afterwards.
    public var value: UInt64 {
        withUnsafePointer(to: state) { xfer_xxh64_digest($0) }
    }
}
