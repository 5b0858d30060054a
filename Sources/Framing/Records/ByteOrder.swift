// Network byte order (big-endian) helpers for building and reading payloads.

extension Array where Element == UInt8 {
    @inlinable
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// Appends a UTF-8 string prefixed by its length as a u16.
    mutating func appendString16(_ string: String) {
        let utf8 = Array(string.utf8)
        appendBigEndian(UInt16(truncatingIfNeeded: utf8.count))
        append(contentsOf: utf8)
    }
}

/// Reads big-endian fields from a record payload, front to back; every read names its
/// field so a short payload yields ``FramingError/truncatedField(kind:field:)``.
struct PayloadReader {
    private let bytes: ArraySlice<UInt8>
    private var index: Int
    private let kind: RecordKind

    init(_ bytes: ArraySlice<UInt8>, kind: RecordKind) {
        self.bytes = bytes
        self.index = bytes.startIndex
        self.kind = kind
    }

    var remaining: Int { bytes.endIndex - index }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: String) throws(FramingError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncatedField(kind: kind, field: field) }
        var value: T = 0
        for byte in bytes[index..<index + size] { value = value << 8 | T(byte) }
        index += size
        return value
    }

    mutating func readBytes(_ count: Int, _ field: String) throws(FramingError) -> ArraySlice<UInt8> {
        guard remaining >= count else { throw .truncatedField(kind: kind, field: field) }
        defer { index += count }
        return bytes[index..<index + count]
    }

    /// A u16-length-prefixed UTF-8 string of at most `limit` bytes.
    mutating func readString16(_ field: String, limit: Int) throws(FramingError) -> String {
        let count = Int(try read(UInt16.self, field + " length"))
        guard count <= limit else {
            throw .invalidField(kind: kind, field: field, reason: "\(count) bytes, over the limit of \(limit)")
        }
        let raw = try readBytes(count, field)
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw .invalidField(kind: kind, field: field, reason: "not valid UTF-8")
        }
        return string
    }

    func finish() throws(FramingError) {
        guard remaining == 0 else { throw .trailingBytes(kind: kind, count: remaining) }
    }
}
