import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One `blocks` offer being received (SPEC.md §16): which blocks its partial file holds,
/// verified, with their digests, and which are being received, by whichever connection of
/// the session carries them.
///
/// Every write goes through here, under the lock: blocks come from several threads into
/// one descriptor, and once the offer is closed (END, CANCEL, its connection's end) nothing
/// may write to it again — its descriptor is about to be closed, and a number reused.
final class BlockAssembly: @unchecked Sendable {
    let transferID: TransferID
    let size: UInt64
    let layout: BlockLayout
    /// Blocks in the file.
    let count: UInt32
    /// The partial file; written only under `state`'s lock, closed by the offer's connection
    /// after ``close()``.
    let partial: PartialFile

    private struct State {
        /// The digest of each block held, verified against its BLOCKEND (or read back from
        /// a kept partial).
        var digests: [UInt64?]
        var heldCount = 0
        /// Blocks being received now, by which connections, and whether more than one
        /// wrote it (then its bytes in the file are read back before it is held).
        var receiving: [UInt32: (owners: Set<ObjectIdentifier>, contested: Bool)] = [:]
        var closed = false
    }
    private let state: Mutex<State>

    /// What a BLOCK may do.
    enum Claim: Equatable {
        /// Receive it: its bytes go to `offset`, `length` of them.
        case write(offset: UInt64, length: UInt64)
        /// Held already: read its bytes and drop them; its BLOCKEND must match `digest`.
        case duplicate(length: UInt64, digest: UInt64)
        /// Past the file's last block.
        case outside
        /// The offer has ended (END, CANCEL, a failure): read its `length` bytes, drop them.
        case closed(length: UInt64)
    }

    /// What became of a claimed block's bytes.
    enum Outcome: Equatable {
        case done
        /// The offer ended meanwhile: the rest of the block is dropped, unacknowledged.
        case closed
        /// Another connection's copy of the block was held first: the rest of this one is
        /// dropped, and its BLOCKEND must match `digest`.
        case held(digest: UInt64)
        /// The block's bytes in the file do not match the BLOCKEND: another connection wrote
        /// other bytes into it meanwhile.
        case mismatch
    }

    /// An assembly of a file of `size` bytes (at least 1) in `layout`'s blocks, holding the
    /// blocks of `held` (index → digest) already.
    init(transferID: TransferID, size: UInt64, layout: BlockLayout, partial: PartialFile, held: [UInt32: UInt64]) {
        self.transferID = transferID
        self.size = size
        self.layout = layout
        self.partial = partial
        count = UInt32(layout.count(size: size))
        var digests = [UInt64?](repeating: nil, count: Int(count))
        for (index, digest) in held where index < count { digests[Int(index)] = digest }
        state = Mutex(State(digests: digests, heldCount: digests.count { $0 != nil }))
    }

    /// Claims block `index` for the connection `owner`, about to receive it.
    ///
    /// A block may be open on two connections at once: a client sends one again once the
    /// connection that had it ended on its side, which this side may not have seen yet, and
    /// the old copy's bytes may even arrive after the new one's (SPEC.md §16.4). Both are
    /// received; the first whose BLOCKEND matches the bytes now in the file makes it held.
    func claim(_ index: UInt32, owner: ObjectIdentifier) -> Claim {
        guard let range = layout.range(of: index, size: size) else { return .outside }
        return state.withLock { state in
            if state.closed { return .closed(length: range.length) }
            if let digest = state.digests[Int(index)] { return .duplicate(length: range.length, digest: digest) }
            var entry = state.receiving[index] ?? ([], false)
            entry.owners.insert(owner)
            entry.contested = entry.contested || entry.owners.count > 1
            state.receiving[index] = entry
            return .write(offset: range.offset, length: range.length)
        }
    }

    /// Writes bytes of block `index`, claimed by `owner`, at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, block index: UInt32, owner: ObjectIdentifier)
        throws(SystemError) -> Outcome
    {
        try state.withLock { (state: inout State) throws(SystemError) -> Outcome in
            if state.closed { return .closed }
            // A held block is never written again: its bytes are the verified ones.
            if let digest = state.digests[Int(index)] { return .held(digest: digest) }
            try partial.file.writeAll(bytes, at: offset)
            return .done
        }
    }

    /// Block `index` arrived whole on `owner` and matched `digest`: it is held (after its
    /// bytes in the file were read back, if another connection wrote it too). Its
    /// write-back starts.
    func finish(_ index: UInt32, digest: UInt64, owner: ObjectIdentifier) throws(SystemError) -> Outcome {
        try state.withLock { (state: inout State) throws(SystemError) -> Outcome in
            if state.closed { return .closed }
            let entry = state.receiving[index]
            var left = entry?.owners ?? []
            left.remove(owner)
            state.receiving[index] = left.isEmpty ? nil : (left, entry?.contested ?? false)
            if let held = state.digests[Int(index)] { return .held(digest: held) }
            guard let range = layout.range(of: index, size: size) else { return .closed }
            if entry?.contested ?? false {
                var written = StreamDigest()
                guard digestFile(partial.file, count: range.length, at: range.offset, into: &written) else {
                    throw SystemError("read", "block \(index)", errno: errno == 0 ? EIO : errno)
                }
                if written.value != digest { return .mismatch }
            }
            // Started now, so the commit's sync has little left; never waited for here.
            try partial.file.startWriteback(offset: range.offset, length: range.length)
            state.digests[Int(index)] = digest
            state.heldCount += 1
            return .done
        }
    }

    /// The connection `owner` ended before block `index`'s BLOCKEND.
    func abandon(_ index: UInt32, owner: ObjectIdentifier) {
        state.withLock { state in
            guard var entry = state.receiving[index] else { return }
            entry.owners.remove(owner)
            state.receiving[index] = entry.owners.isEmpty ? nil : entry
        }
    }

    /// No block is written any more; returns when no write is under way.
    func close() {
        state.withLock { $0.closed = true }
    }

    /// The first block not held, if any.
    var firstMissing: UInt32? {
        state.withLock { state in state.digests.firstIndex(of: nil).map { UInt32($0) } }
    }

    /// The digest of block `index`, if it is held.
    func heldDigest(of index: UInt32) -> UInt64? {
        state.withLock { state in index < count ? state.digests[Int(index)] : nil }
    }

    /// The blocks held, with their digests.
    var held: [(index: UInt32, digest: UInt64)] {
        state.withLock { state in
            state.digests.enumerated().compactMap { index, digest in digest.map { (UInt32(index), $0) } }
        }
    }

    /// The block tree digest over every block's digest (SPEC.md §16.5); `nil` while a
    /// block is missing.
    var treeDigest: UInt64? {
        state.withLock { state in
            guard state.heldCount == state.digests.count else { return nil }
            return blockTreeDigest(state.digests.lazy.map { $0! })
        }
    }
}
