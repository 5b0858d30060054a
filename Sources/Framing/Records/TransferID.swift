/// A 16-byte identifier of one transfer, chosen by the sender (SPEC.md §6.3).
///
/// It stays the same when the same transfer is retried, so a receiver can resume a partial
/// file or recognise one it already committed. The all-zero value means "no transfer" in
/// ERROR records that concern the whole connection.
public struct TransferID: Hashable, Sendable, CustomStringConvertible {
    /// The 16 bytes, in wire order.
    public let bytes: [UInt8]

    /// The all-zero ID: no particular transfer.
    public static let none = TransferID(unchecked: [UInt8](repeating: 0, count: 16))

    /// Creates an ID from exactly 16 bytes; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Creates an ID from two 64-bit halves, `high` first on the wire.
    public init(high: UInt64, low: UInt64) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        bytes.appendBigEndian(high)
        bytes.appendBigEndian(low)
        self.bytes = bytes
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// 32 lower-case hexadecimal digits.
    public var description: String { bytes.map { hex($0, width: 2) }.joined() }
}
