// The records of protocol 1.3 (SPEC.md §16): one transfer over several connections.
// A session is granted on the first connection (SESSION), further connections join it
// (JOIN), and a large file's bytes travel as blocks (BLOCK, DATA…, BLOCKEND) on any of
// them, each acknowledged (BLOCKACK) on the connection that carried it.

/// SESSION (0x0F), server → client, on the first connection only: the session the
/// client may add connections to, and the size of a file's blocks in it.
public struct SessionGrant: Hashable, Sendable {
    /// Bytes in ``sessionID``.
    public static let idByteCount = 16
    /// Bytes in ``token``.
    public static let tokenByteCount = 32
    /// The smallest block size a server may choose: 64 KiB.
    public static let minimumBlockSize: UInt32 = 1 << 16
    /// The largest block size a server may choose: 64 MiB.
    public static let maximumBlockSize: UInt32 = 1 << 26

    /// Names the session in a JOIN; random, never all zero.
    public var sessionID: [UInt8]
    /// The secret a JOIN must carry: 32 bytes from a cryptographic random source.
    public var token: [UInt8]
    /// Bytes per block (a power of two, 64 KiB to 64 MiB); a file's last block may be shorter.
    public var blockSize: UInt32

    /// A grant; the decoder checks the field rules, the encoder trusts the caller.
    public init(sessionID: [UInt8], token: [UInt8], blockSize: UInt32) {
        self.sessionID = sessionID
        self.token = token
        self.blockSize = blockSize
    }
}

/// JOIN (0x10), client → server, the first record after the handshake of a further
/// connection: it asks to carry blocks of the session named, proving it was told the token.
public struct Join: Hashable, Sendable {
    /// The session's ID, as its SESSION said.
    public var sessionID: [UInt8]
    /// The session's token, as its SESSION said.
    public var token: [UInt8]

    /// A join of `sessionID` with `token`.
    public init(sessionID: [UInt8], token: [UInt8]) {
        self.sessionID = sessionID
        self.token = token
    }
}

/// HAVE (0x11), server → client, right before the ANSWER `accept` of a `blocks` offer:
/// the blocks of it the server already holds (kept from an earlier connection), which the
/// client does not send again.
public struct Have: Hashable, Sendable {
    /// The offer's transfer.
    public var transferID: TransferID
    /// Blocks in the file (`ceil(size ÷ block size)`).
    public var blockCount: UInt32
    /// Bit `i % 8` (least significant first) of byte `i / 8` set: block `i` is held.
    public var bitmap: [UInt8]

    /// The most blocks a `blocks` offer may have (SPEC.md §16.3): one HAVE lists them all
    /// even sealed (a bitmap of 1,048,538 bytes).
    public static let maxBlockCount: UInt32 = 8_388_304

    /// A HAVE for `blockCount` blocks with `bitmap`.
    public init(transferID: TransferID, blockCount: UInt32, bitmap: [UInt8]) {
        self.transferID = transferID
        self.blockCount = blockCount
        self.bitmap = bitmap
    }

    /// A HAVE listing the blocks in `held` (each below `blockCount`).
    public init(transferID: TransferID, blockCount: UInt32, held: some Sequence<UInt32>) {
        var bitmap = [UInt8](repeating: 0, count: (Int(blockCount) + 7) / 8)
        for index in held { bitmap[Int(index / 8)] |= 1 << (index % 8) }
        self.init(transferID: transferID, blockCount: blockCount, bitmap: bitmap)
    }

    /// Whether block `index` is held.
    public func holds(_ index: UInt32) -> Bool {
        index < blockCount && bitmap[Int(index / 8)] & (1 << (index % 8)) != 0
    }

    /// The indexes of the blocks held, in order.
    public var held: [UInt32] { (0..<blockCount).filter(holds) }
}

/// BLOCK (0x12), client → server: the DATA records that follow, up to BLOCKEND, are block
/// `index` of a `blocks` offer, written at `index × block size`.
public struct BlockStart: Hashable, Sendable {
    /// The `blocks` offer the block belongs to.
    public var transferID: TransferID
    /// The block's index, from 0.
    public var index: UInt32

    /// Block `index` of `transferID`.
    public init(transferID: TransferID, index: UInt32) {
        self.transferID = transferID
        self.index = index
    }
}

/// BLOCKEND (0x13), client → server: the block just sent is whole; XXH64 of its bytes.
public struct BlockEnd: Hashable, Sendable {
    /// XXH64 (seed 0) of the block's bytes.
    public var digest: UInt64

    /// The end of a block whose bytes have this digest.
    public init(digest: UInt64) { self.digest = digest }
}

/// BLOCKACK (0x14), server → client, on the connection that carried the block: its bytes
/// matched its BLOCKEND and are written to the partial file (not yet synced: only the
/// file's ACK says durable).
public struct BlockAck: Hashable, Sendable {
    /// The block's offer.
    public var transferID: TransferID
    /// The block's index.
    public var index: UInt32

    /// The acknowledgement of block `index` of `transferID`.
    public init(transferID: TransferID, index: UInt32) {
        self.transferID = transferID
        self.index = index
    }
}

extension SessionGrant {
    /// Whether `size` is a block size a server may grant: a power of two, 64 KiB to 64 MiB.
    public static func isValidBlockSize(_ size: UInt32) -> Bool {
        size >= minimumBlockSize && size <= maximumBlockSize && size & (size - 1) == 0
    }

    /// Blocks in a file of `size` bytes (at least one, even for an empty file is not
    /// allowed: a `blocks` offer has a size of at least 1).
    public func blockCount(size: UInt64) -> UInt64 {
        BlockLayout(blockSize: blockSize).count(size: size)
    }
}

/// How a file of known size is cut into blocks of one size (SPEC.md §16.4).
public struct BlockLayout: Hashable, Sendable {
    /// Bytes per block.
    public let blockSize: UInt32

    /// A layout of `blockSize`-byte blocks.
    public init(blockSize: UInt32) { self.blockSize = blockSize }

    /// Blocks in a file of `size` bytes: `ceil(size ÷ block size)`.
    public func count(size: UInt64) -> UInt64 {
        size / UInt64(blockSize) + (size % UInt64(blockSize) == 0 ? 0 : 1)
    }

    /// Where block `index` starts and how long it is, in a file of `size` bytes; `nil`
    /// for an index past the file.
    public func range(of index: UInt32, size: UInt64) -> (offset: UInt64, length: UInt64)? {
        let offset = UInt64(index) * UInt64(blockSize)
        guard offset < size else { return nil }
        return (offset, min(UInt64(blockSize), size - offset))
    }
}

/// The block tree digest of a `blocks` offer (SPEC.md §16.5): XXH64 (seed 0) over each
/// block's XXH64 as a u64, big-endian, in index order. It stands for the whole-stream digest
/// in the offer's END and ACK, and is computed from the blocks' digests as they are
/// verified, without reading the file again.
public func blockTreeDigest(_ blockDigests: some Sequence<UInt64>) -> UInt64 {
    var digest = StreamDigest()
    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 * 1024)
    for value in blockDigests {
        bytes.appendBigEndian(value)
        if bytes.count >= 8 * 1024 {
            digest.update(bytes)
            bytes.removeAll(keepingCapacity: true)
        }
    }
    digest.update(bytes)
    return digest.value
}
