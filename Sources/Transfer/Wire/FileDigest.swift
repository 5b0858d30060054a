import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Feeds `count` bytes of `fd` to `digest` without sending them anywhere: the sender hashes
/// the prefix a receiver kept, the receiver re-reads the prefix it kept (SPEC.md §11).
/// - Parameter offset: Read with `pread` from here; `nil` reads from the current position.
/// - Returns: false if the file ended, or could not be read, before `count` bytes.
func digestFile(_ fd: CInt, count: UInt64, at offset: UInt64? = nil, into digest: inout StreamDigest) -> Bool {
    digestFile(count: count, into: &digest) { raw, done in
        offset.map { pread(fd, raw.baseAddress, raw.count, off_t($0 + done)) } ?? read(fd, raw.baseAddress, raw.count)
    }
}

/// Feeds bytes `offset..<offset + count` of `file` to `digest`, as
/// ``digestFile(_:count:at:into:)`` does, reading with ``FileDescriptor/read(into:at:)``.
/// - Returns: false if the file ended, or could not be read, before `count` bytes (`errno`
///   says why).
func digestFile(_ file: FileDescriptor, count: UInt64, at offset: UInt64, into digest: inout StreamDigest) -> Bool {
    digestFile(count: count, into: &digest) { raw, done in (try? file.read(into: raw, at: offset + done)) ?? -1 }
}

/// The loop of both: `read` fills the buffer it is given with the bytes after the `done`
/// already digested, returning how many (0 at the end, -1 with `errno` on failure).
private func digestFile(
    count: UInt64,
    into digest: inout StreamDigest,
    read: (UnsafeMutableRawBufferPointer, _ done: UInt64) -> Int
) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var done: UInt64 = 0
    while done < count {
        let wanted = Int(min(UInt64(buffer.count), count - done))
        let got = buffer.withUnsafeMutableBytes { raw in
            read(UnsafeMutableRawBufferPointer(rebasing: raw[..<wanted]), done)
        }
        if got < 0 && errno == EINTR { continue }
        guard got > 0 else { return false }
        buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<got])) }
        done += UInt64(got)
    }
    return true
}

/// A digest as 16 lower-case hexadecimal digits, for messages.
func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
