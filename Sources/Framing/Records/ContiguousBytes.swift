/// Calls `body` with `bytes` in contiguous memory: in place when the sequence has
/// contiguous storage (arrays, slices, buffers), else through a temporary array.
func withContiguousBytes<Result>(
    of bytes: some Sequence<UInt8>,
    _ body: (UnsafeRawBufferPointer) throws -> Result
) rethrows -> Result {
    if let result = try bytes.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return try Array(bytes).withUnsafeBytes(body)
}
