import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// A sender's session (SPEC.md §16): how many connections it asked for, what the receiver
/// granted, the scheduler that deals blocks to them, and the further connections (lanes),
/// started when the first file is sent as blocks.
final class SenderBlocks: @unchecked Sendable {
    /// Connections asked for in HELLO, the first included.
    let asked: Int
    let scheduler = BlockScheduler()
    private let endpoint: Endpoint
    private let options: SenderOptions
    /// The first connection's session: lanes count their bytes in its progress.
    private let first: SenderSession
    private let condition = Condition()
    private var grant: SessionGrant?
    private var streams = 1
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

    /// The receiver granted a session of `streams` connections.
    func granted(_ grant: SessionGrant, streams: Int) {
        condition.withLock {
            self.grant = grant
            self.streams = streams
        }
    }

    /// The layout of blocks, when a session was granted.
    var layout: BlockLayout? {
        condition.withLock { grant.map { BlockLayout(blockSize: $0.blockSize) } }
    }

    /// Whether a file of `size` bytes goes as blocks in the granted session: two blocks at
    /// least, and no more than one HAVE can list (SPEC.md §16.3).
    func splits(size: UInt64) -> Bool {
        guard let layout else { return false }
        return size >= 2 * UInt64(layout.blockSize) && layout.count(size: size) <= UInt64(Have.maxBlockCount)
    }

    /// Whether `source` is a regular file that ``splits(size:)``.
    func wouldSplit(_ source: SendSource) -> Bool {
        guard case .file(let path, _) = source else { return false }
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && splits(size: UInt64(info.st_size))
    }

    /// Starts the lanes, once: each joins the session on a connection of its own.
    func startLanes() {
        condition.lock()
        guard let grant, !lanesStarted else {
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
                grant: grant,
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
