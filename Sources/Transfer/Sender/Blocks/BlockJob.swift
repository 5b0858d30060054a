import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// One file being sent as blocks (SPEC.md §16): its descriptor, shared by every connection
/// that reads a block of it (`pread`, so none moves another's position), and closed only
/// when the last of them lets go of the job.
final class BlockJob: @unchecked Sendable {
    /// The stream's index in the sender's ledger.
    let stream: Int
    let transferID: TransferID
    let size: UInt64
    let layout: BlockLayout
    /// Blocks in the file.
    let count: UInt32
    /// Readable with `pread`; owned: closed when the job goes.
    let descriptor: CInt

    init(stream: Int, transferID: TransferID, size: UInt64, layout: BlockLayout, descriptor: CInt) {
        self.stream = stream
        self.transferID = transferID
        self.size = size
        self.layout = layout
        count = UInt32(layout.count(size: size))
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}
