import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// A sender's session (SPEC.md §16): how many connections it asked for, what the receiver
/// granted, the scheduler that deals blocks to them, and the further connections (lanes),
/// started as soon as the WELCOME grants them when a file may go as blocks, so that their
/// handshakes overlap the first connection's.
final class SenderBlocks: @unchecked Sendable {
    /// Connections asked for in HELLO, the first included.
    let asked: Int
    let scheduler = BlockScheduler()
    private let endpoint: Endpoint
    private let options: SenderOptions
    /// The first connection's session: lanes count their bytes in its progress.
    private let first: SenderSession
    private let condition = Condition()
    private var lanesStarted = false

    init(asked: Int, endpoint: Endpoint, options: SenderOptions, first: SenderSession) {
        self.asked = asked
        self.endpoint = endpoint
        self.options = options
        self.first = first
        first.locked {
            first.askedStreams = asked
            first.scheduler = scheduler
        }
    }

    /// The layout of blocks, once the session's SESSION arrived.
    var layout: BlockLayout? {
        first.locked { first.grant.map { BlockLayout(blockSize: $0.blockSize) } }
    }

    /// Whether a file of `size` bytes goes as blocks in the granted session: two blocks at
    /// least, and no more than one HAVE can list (SPEC.md §16.3). False until SESSION came.
    func splits(size: UInt64) -> Bool {
        guard let layout else { return false }
        return size >= 2 * UInt64(layout.blockSize) && layout.count(size: size) <= UInt64(Have.maxBlockCount)
    }

    /// Whether `source` is a regular file that may go as blocks whatever block size the
    /// receiver chooses (SPEC.md §16.2): worth starting the further connections for.
    func mightSplit(_ source: SendSource) -> Bool {
        guard case .file(let path, _) = source else { return false }
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
            && UInt64(info.st_size) >= 2 * UInt64(SessionGrant.minimumBlockSize)
    }

    /// Starts the lanes, once: each does its handshake at once, and joins the session on
    /// a connection of its own when its SESSION arrives on the first.
    func startLanes() {
        // What the WELCOME granted; the SESSION (token, block size) follows (SPEC.md §16.2).
        let streams = first.locked { first.grantedStreams } ?? 1
        condition.lock()
        guard streams >= 2, !lanesStarted else {
            condition.unlock()
            return
        }
        lanesStarted = true
        let count = streams - 1
        condition.unlock()
        for lane in 1...count {
            let runner = BlockLane(
                lane: lane,
                endpoint: endpoint,
                options: options,
                scheduler: scheduler,
                first: first
            )
            scheduler.laneStarted()
            do {
                try DetachedThread.start("block lane \(lane)") { runner.run() }
            } catch {
                // Fewer connections: the others, the first included, carry its share.
                scheduler.laneStopped()
            }
        }
    }

    /// Every stream is sent: lanes say GOODBYE; returns once they have closed.
    func finish() {
        scheduler.finish()
        scheduler.waitForLanes()
    }
}
