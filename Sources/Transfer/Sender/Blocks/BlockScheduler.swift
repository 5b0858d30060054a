import Framing

/// Deals the blocks of the file being sent to the session's connections (SPEC.md §16):
/// whichever connection is free takes the next block, so a slow one carries fewer. Each
/// block is outstanding on one connection until its BLOCKACK; a connection that ends gives
/// its outstanding blocks back, and another sends them again.
///
/// Lanes are numbered: 0 is the session's first connection, 1… the joined ones.
final class BlockScheduler: @unchecked Sendable {
    private let condition = Condition()
    private var job: BlockJob?
    private var queue: [UInt32] = []
    private var outstanding: [UInt32: Int] = [:]
    /// Each block's digest, as read when it was (last) sent, or hashed when the receiver held it.
    private var digests: [UInt64?] = []
    private var finished = false
    private var running = 0
    private var endedLanes: Set<Int> = []
    /// Offers whose blocks are no longer dealt: a late BLOCKACK of one crossed their end.
    private var closedJobs: Set<TransferID> = []
    /// Why the job cannot go on (its source could not be read whole on some connection).
    private var failure: String?
    /// Since when each lane with outstanding blocks has waited for a BLOCKACK.
    private var waitingSince: [Int: Double] = [:]

    // MARK: The first connection's writer

    /// Starts a job: every block not in `held` is to be sent.
    func start(_ job: BlockJob, held: Set<UInt32>) {
        locked {
            self.job = job
            failure = nil
            closedJobs.remove(job.transferID)
            queue = (0..<job.count).filter { !held.contains($0) }.reversed()
            outstanding = [:]
            digests = [UInt64?](repeating: nil, count: Int(job.count))
            condition.broadcast()
        }
    }

    /// Records the digest of a block the receiver holds (the first connection hashed it).
    func heldDigest(_ index: UInt32, _ digest: UInt64) {
        locked { digests[Int(index)] = digest }
    }

    /// Whether every block sent has its BLOCKACK (and every held one its digest): the
    /// tree digest, else `nil`.
    func treeDigest() -> UInt64? {
        locked {
            guard queue.isEmpty, outstanding.isEmpty, !digests.contains(nil) else { return nil }
            return blockTreeDigest(digests.lazy.map { $0! })
        }
    }

    /// Waits up to `seconds` for a change (an ACK, a lane's end).
    func wait(seconds: Double) {
        locked { _ = condition.wait(seconds: seconds) }
    }

    /// The job is over (sent, or failed): nothing more of it is dealt.
    func stop() {
        locked {
            if let job { closedJobs.insert(job.transferID) }
            job = nil
            queue = []
            outstanding = [:]
            waitingSince = [:]
            condition.broadcast()
        }
    }

    /// A connection could not read a block of the job whole: the job fails (its source
    /// changed), and nothing more of it is dealt.
    func fail(_ reason: String) {
        locked {
            failure = failure ?? reason
            queue = []
            condition.broadcast()
        }
    }

    /// Why the job failed, if it did.
    var failed: String? { locked { failure } }

    /// Every stream is sent: lanes say GOODBYE.
    func finish() {
        locked {
            finished = true
            condition.broadcast()
        }
    }

    // MARK: Any connection

    /// The next block for `lane`, at once if one is queued; `nil` if none is now.
    func take(lane: Int) -> (BlockJob, UInt32)? {
        locked {
            guard let job, !endedLanes.contains(lane), let index = queue.popLast() else { return nil }
            give(index, to: lane)
            return (job, index)
        }
    }

    /// Waits up to `seconds` for a block for `lane`; `nil` also once ``finish()`` was called.
    func waitForBlock(lane: Int, seconds: Double) -> (BlockJob, UInt32)?? {
        locked {
            let deadline = monotonicSeconds() + seconds
            while !finished && (job == nil || queue.isEmpty) {
                let left = deadline - monotonicSeconds()
                if left <= 0 { return .some(nil) }
                _ = condition.wait(seconds: left)
            }
            if finished && (job == nil || queue.isEmpty) { return nil }
            guard let job, !endedLanes.contains(lane), let index = queue.popLast() else { return .some(nil) }
            give(index, to: lane)
            return .some((job, index))
        }
    }

    /// `lane` read block `index` whole: its digest, before its BLOCKEND is written.
    func sent(_ index: UInt32, of job: BlockJob, digest: UInt64) {
        locked {
            guard self.job === job else { return }
            digests[Int(index)] = digest
        }
    }

    /// A BLOCKACK arrived on `lane`.
    /// - Throws: ``TransferError/protocolViolation(_:)`` for a block not outstanding on it.
    func acknowledged(_ ack: BlockAck, lane: Int) throws(TransferError) {
        try locked { () throws(TransferError) in
            if job?.transferID != ack.transferID && closedJobs.contains(ack.transferID) { return }
            guard let job, job.transferID == ack.transferID, outstanding[ack.index] == lane else {
                throw .protocolViolation("BLOCKACK for block \(ack.index), which was not sent on this connection")
            }
            outstanding[ack.index] = nil
            waitingSince[lane] = outstanding.values.contains(lane) ? monotonicSeconds() : nil
            condition.broadcast()
        }
    }

    /// `lane`'s connection ended: its unacknowledged blocks go back in the queue.
    func laneEnded(_ lane: Int) {
        locked {
            endedLanes.insert(lane)
            waitingSince[lane] = nil
            for (index, owner) in outstanding where owner == lane {
                outstanding[index] = nil
                queue.append(index)
            }
            condition.broadcast()
        }
    }

    // MARK: Lane threads

    /// A lane thread starts.
    func laneStarted() { locked { running += 1 } }

    /// A lane thread is done (its connection closed).
    func laneStopped() {
        locked {
            running -= 1
            condition.broadcast()
        }
    }

    /// Waits until every lane thread is done.
    func waitForLanes() {
        locked { while running > 0 { condition.wait() } }
    }

    /// Since when `lane` has waited for a BLOCKACK (the oldest wait not answered by one),
    /// if it has outstanding blocks: its reader's idle clock.
    func waitingSince(lane: Int) -> Double? {
        locked { waitingSince[lane] }
    }

    private func give(_ index: UInt32, to lane: Int) {
        outstanding[index] = lane
        if waitingSince[lane] == nil { waitingSince[lane] = monotonicSeconds() }
    }

    private func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        try condition.withLock(body)
    }
}
