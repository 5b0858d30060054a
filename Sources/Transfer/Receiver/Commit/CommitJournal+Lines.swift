import Framing

#if canImport(Glibc)
    import Glibc
#endif

// A CommitJournal entry as one line of a bucket file, and back.
extension CommitJournal {
    static func line(_ id: TransferID, _ entry: Entry) -> [UInt8] {
        let identity = entry.identity
        var text = "\(id) \(entry.length) \(String(entry.digest, radix: 16)) \(identity.device) \(identity.inode) "
        text += "\(identity.changeSeconds) \(identity.changeNanoseconds) "
        text += "\(identity.modificationSeconds) \(identity.modificationNanoseconds) \(entry.committedAt) "
        text += "\(entry.name)\n"
        return Array(text.utf8)
    }

    static func parse(_ line: ArraySlice<UInt8>) -> (TransferID, Entry)? {
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 10, omittingEmptySubsequences: false)
        guard fields.count == 11 else { return nil }
        let text = fields[..<10].map { String(decoding: $0, as: UTF8.self) }
        guard let id = TransferID(hex: text[0]), let length = UInt64(text[1]),
            let digest = UInt64(text[2], radix: 16), let device = UInt64(text[3]), let inode = UInt64(text[4]),
            let ctime = Int(text[5]), let ctimeNanoseconds = Int(text[6]), let mtime = Int(text[7]),
            let mtimeNanoseconds = Int(text[8]), let committedAt = Int(text[9]),
            let name = String(validating: fields[10], as: UTF8.self), !name.isEmpty
        else { return nil }
        let identity = FileIdentity(
            device: device,
            inode: inode,
            size: length,
            changeSeconds: ctime,
            changeNanoseconds: ctimeNanoseconds,
            modificationSeconds: mtime,
            modificationNanoseconds: mtimeNanoseconds
        )
        return (id, Entry(length: length, digest: digest, name: name, identity: identity, committedAt: committedAt))
    }

    /// Calls `body` with the range of each complete line in `raw` (a torn last line, with
    /// no newline, is left out). Found with memchr: a bucket of 256 KiB is scanned in
    /// microseconds, so a sender re-offering thousands of committed files is answered at
    /// network speed.
    static func forEachLine(in raw: UnsafeRawBufferPointer, _ body: (Range<Int>) -> Void) {
        guard let base = raw.baseAddress else { return }
        var start = 0
        while start < raw.count, let newline = memchr(base + start, 0x0A, raw.count - start) {
            let end = base.distance(to: UnsafeRawPointer(newline))
            body(start..<end)
            start = end + 1
        }
    }

    /// The complete lines of `bytes`.
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBytes { raw in forEachLine(in: raw) { ranges.append($0) } }
        return ranges.map { bytes[$0] }
    }
}

extension TransferID {
    /// Parses 32 hexadecimal digits.
    init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 32, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        self.init(bytes: bytes)
    }
}
