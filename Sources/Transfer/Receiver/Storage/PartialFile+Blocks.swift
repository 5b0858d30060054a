import Framing

// What a kept partial of a `blocks` offer remembers (SPEC.md §16.8): its block size and the
// blocks it holds, on the file itself, like its destination name.
extension PartialFile {
    /// The extended attribute: block size (u32, big-endian), then a bitmap of the blocks
    /// held, as HAVE carries it.
    static let blocksAttribute = "user.xfer.blocks"

    /// Records which of the file's blocks are held (before the sync that keeps the file).
    /// - Throws: when it cannot be recorded: then the partial is not worth keeping.
    func recordBlocks(_ held: [UInt32], blockCount: UInt32, blockSize: UInt32) throws(SystemError) {
        var value = [
            UInt8(blockSize >> 24), UInt8(blockSize >> 16 & 0xFF), UInt8(blockSize >> 8 & 0xFF),
            UInt8(blockSize & 0xFF),
        ]
        value += Have(transferID: .none, blockCount: blockCount, held: held).bitmap
        try file.setAttribute(PartialFile.blocksAttribute, to: value)
    }

    /// The blocks a kept partial recorded as held, if it recorded them for `blockSize` and
    /// `blockCount` blocks; otherwise none (the partial is written afresh).
    func recordedBlocks(blockCount: UInt32, blockSize: UInt32) -> [UInt32] {
        let bytes = (Int(blockCount) + 7) / 8
        guard let value = try? file.attribute(PartialFile.blocksAttribute, maximumSize: 4 + bytes + 1),
            value.count == 4 + bytes,
            UInt32(value[0]) << 24 | UInt32(value[1]) << 16 | UInt32(value[2]) << 8 | UInt32(value[3]) == blockSize
        else { return [] }
        return Have(transferID: .none, blockCount: blockCount, bitmap: Array(value[4...])).held
    }

    /// Forgets the record (the committed file carries no xfer bookkeeping).
    func forgetBlocks() {
        _ = try? file.removeAttribute(PartialFile.blocksAttribute)
    }
}
