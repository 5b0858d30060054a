/// Verified streams waiting for their commit, in offer order, and the rule that says when
/// to commit them: a batch closes at `files` streams, at `bytes` bytes, at ``nameBytes``
/// of names, or when the receiver's ``DescriptorBudget`` has no descriptor left for the
/// stream just added (it holds its file open until the commit).
///
/// Larger batches mean fewer syncs (a batch's files share one file-system sync); the limits
/// bound what one connection holds meanwhile. Pure bookkeeping: the connection takes the
/// descriptors from the budget and gives them back, and the ``Committer`` commits.
struct CommitBatch<Stream> {
    /// The most name bytes a batch holds: 256 files of 4 KiB names, a few MiB in all. Each
    /// name is held several times until the commit (the offer, its path components, the
    /// journal line), so long names close a batch sooner.
    static var nameBytes: Int { 1 << 20 }

    /// At most this many streams in a batch (`ReceiverOptions.commitBatchFiles`).
    let files: Int
    /// A batch closes once it holds this many bytes (`ReceiverOptions.commitBatchBytes`).
    let bytes: UInt64
    /// The streams, in offer order.
    private(set) var streams: [Stream] = []
    /// Bytes of the streams.
    private(set) var byteCount: UInt64 = 0
    /// Bytes of the streams' names.
    private(set) var nameByteCount = 0
    /// Descriptors the streams took from the receiver's budget, to give back at the commit.
    private(set) var descriptors = 0

    /// An empty batch closing at `files` streams or `bytes` bytes.
    init(files: Int, bytes: UInt64) {
        self.files = files
        self.bytes = bytes
    }

    /// Whether nothing waits.
    var isEmpty: Bool { streams.isEmpty }

    /// Adds a verified stream of `length` bytes named by `nameBytes` bytes; `budgeted` says
    /// whether the budget had a descriptor for it.
    ///
    /// - Returns: whether the batch must be committed now.
    mutating func add(_ stream: Stream, length: UInt64, nameBytes: Int, budgeted: Bool) -> Bool {
        streams.append(stream)
        byteCount += length
        nameByteCount += nameBytes
        if budgeted { descriptors += 1 }
        return streams.count >= files || byteCount >= bytes || nameByteCount >= CommitBatch.nameBytes || !budgeted
    }

    /// Empties the batch for its commit.
    ///
    /// - Returns: the streams in offer order, and the descriptors to give back to the budget.
    mutating func take() -> (streams: [Stream], descriptors: Int) {
        defer { self = CommitBatch(files: files, bytes: bytes) }
        return (streams, descriptors)
    }
}
