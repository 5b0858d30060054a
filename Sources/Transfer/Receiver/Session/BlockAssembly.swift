import Framing
import Synchronization

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
        /// Blocks some connection is receiving now.
        var receiving: Set<UInt32> = []
        var closed = false
    }
    private let state: Mutex<State>

    /// What a BLOCK may do.
    enum Claim: Equatable {
        /// Receive it: its bytes go to `offset`, `length` of them.
        case write(offset: UInt64, length: UInt64)
        /// Held already: read its bytes and drop them; its BLOCKEND must match `digest`.
        case duplicate(length: UInt64, digest: UInt64)
        /// Another connection is receiving it now.
        case busy
        /// Past the file's last block.
        case outside
        /// The offer has ended.
        case closed
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

    /// Claims block `index` for a connection about to receive it.
    func claim(_ index: UInt32) -> Claim {
        guard let range = layout.range(of: index, size: size) else { return .outside }
        return state.withLock { state in
            if state.closed { return .closed }
            if let digest = state.digests[Int(index)] { return .duplicate(length: range.length, digest: digest) }
            guard state.receiving.insert(index).inserted else { return .busy }
            return .write(offset: range.offset, length: range.length)
        }
    }

    /// Writes bytes of a claimed block at `offset`.
    /// - Returns: false when the offer has ended (nothing was written).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(SystemError) -> Bool {
        try state.withLock { (state: inout State) throws(SystemError) -> Bool in
            guard !state.closed else { return false }
            try partial.file.writeAll(bytes, at: offset)
            return true
        }
    }

    /// Block `index` arrived whole and matched `digest`: it is held. Its write-back starts.
    /// - Returns: false when the offer has ended meanwhile.
    func finish(_ index: UInt32, digest: UInt64) throws(SystemError) -> Bool {
        try state.withLock { (state: inout State) throws(SystemError) -> Bool in
            state.receiving.remove(index)
            guard !state.closed else { return false }
            if let range = layout.range(of: index, size: size) {
                // Started now, so the commit's sync has little left; never waited for here.
                try partial.file.startWriteback(offset: range.offset, length: range.length)
            }
            state.digests[Int(index)] = digest
            state.heldCount += 1
            return true
        }
    }

    /// The connection receiving block `index` ended before its BLOCKEND.
    func abandon(_ index: UInt32) {
        state.withLock { _ = $0.receiving.remove(index) }
    }

    /// No block is written any more; returns when no write is under way.
    func close() {
        state.withLock { $0.closed = true }
    }

    /// The first block not held, if any.
    var firstMissing: UInt32? {
        state.withLock { state in state.digests.firstIndex(of: nil).map { UInt32($0) } }
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
