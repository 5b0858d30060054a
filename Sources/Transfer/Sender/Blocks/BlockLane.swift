import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// One further connection of a sender's session (SPEC.md §16): its own handshake (with a
/// key, its own proofs and keys), JOIN once the first connection has the session's token,
/// then the blocks the scheduler deals it, until the first connection has sent everything;
/// then GOODBYE and the close discipline of §7.4.
struct BlockLane: Sendable {
    let lane: Int
    let endpoint: Endpoint
    let options: SenderOptions
    let scheduler: BlockScheduler
    /// The first connection's session: the lane's bytes count in its progress.
    let first: SenderSession

    func run() {
        defer { scheduler.laneStopped() }
        let session = SenderSession(sources: [], options: options) { _ in }
        session.locked {
            session.lane = lane
            session.scheduler = scheduler
        }
        let socket: TCPSocket
        do {
            socket = try TCPSocket.connect(to: endpoint, timeout: options.connectTimeout)
        } catch {
            scheduler.laneEnded(lane)
            return
        }
        socket.setTimeouts(receive: 1, send: 1)
        do {
            try DetachedThread.start("block lane \(lane) reader") { session.readReplies(from: socket) }
        } catch {
            scheduler.laneEnded(lane)
            socket.close()
            return
        }
        var writer = SenderWriter(socket: socket, session: session, options: options)
        writer.carryBlocks(lane: lane, scheduler: scheduler, first: first)
        // A receiver that never answered this connection (it serves one, or its queue is
        // full) owes nothing here: a short wait, then the close (SPEC.md §16.8).
        if !session.waitForReader(unlessSilentFor: 2) {
            socket.shutdownBoth()
            session.waitForReader()
        }
        scheduler.laneEnded(lane)
        socket.close()
    }
}

extension SenderWriter {
    /// A lane's writing: handshake, JOIN, blocks, GOODBYE (or, after a failure, its side shut).
    mutating func carryBlocks(lane: Int, scheduler: BlockScheduler, first: SenderSession) {
        do {
            guard try handshake(parameters: []) else {
                session.writerIsWaiting()
                return
            }
            // Started on the WELCOME's grant: the token comes in SESSION, on the first
            // connection. If that one ended first, there is nothing to join: this connection
            // ends empty, with GOODBYE.
            if let grant = first.waitForSessionDecision() {
                try carryJoined(grant, lane: lane, scheduler: scheduler, first: first)
            }
            if session.connectionError == nil {
                try output.append(.goodbye, flushingTo: socket)
                try flush()
            } else {
                if !session.receiverEnded, let (code, message) = session.ownComplaint {
                    try? output.append(
                        .error(ErrorRecord(code: code, fatal: true, message: message)),
                        flushingTo: socket
                    )
                    try? flush()
                }
                socket.shutdownWrite()
            }
        } catch {
            session.writeFailed(SystemError("send", errno: (error as? SystemError)?.errno ?? EIO))
            socket.shutdownWrite()
        }
        scheduler.laneEnded(lane)
        session.writerIsWaiting()
    }

    /// JOIN, then the blocks the scheduler deals `lane`, until the first connection has sent
    /// everything or this connection fails.
    private mutating func carryJoined(
        _ grant: SessionGrant,
        lane: Int,
        scheduler: BlockScheduler,
        first: SenderSession
    ) throws {
        try output.append(.join(Join(sessionID: grant.sessionID, token: grant.token)), flushingTo: socket)
        try flush()
        var next: (BlockJob, UInt32)?
        while session.connectionError == nil {
            if next == nil {
                // Before waiting: the BLOCKENDs written so far must reach the receiver.
                try flush()
                guard let waited = scheduler.waitForBlock(lane: lane, seconds: options.keepAliveInterval) else {
                    break
                }
                guard let dealt = waited else {
                    // Nothing to carry now: "still here", so the receiver keeps the connection.
                    try output.append(.keepAlive, flushingTo: socket)
                    continue
                }
                next = dealt
            }
            let (job, index) = next!
            next = nil
            guard try sendBlock(job, index, scheduler: scheduler, counting: first) else {
                // Half a block cannot be taken back: this connection ends with a fatal
                // ERROR, and the file fails (SPEC.md §16.4).
                scheduler.fail("shrank while being read")
                session.abandon(.sourceUnreadable, "the file shrank while block \(index) was being sent")
                break
            }
            next = scheduler.take(lane: lane)
        }
    }
}
