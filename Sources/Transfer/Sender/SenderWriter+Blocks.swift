import Framing

#if canImport(Glibc)
    import Glibc
#endif

// A large file as blocks over the session's connections (SPEC.md §16): the OFFER and END on
// the first connection, the blocks on whichever connection is free.
extension SenderWriter {
    /// Sends `source` as a `blocks` offer if a session was granted and it is a file of at
    /// least two blocks.
    /// - Returns: false when it is not one (the caller sends it as a stream).
    mutating func sendAsBlocks(_ source: SendSource, index: Int) throws -> Bool {
        guard let blocks, let layout = blocks.layout, case .file(let path, let name) = source else { return false }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        var before = stat()
        guard fd >= 0, fstat(fd, &before) == 0, before.st_mode & S_IFMT == S_IFREG,
            blocks.splits(size: UInt64(before.st_size))
        else {
            if fd >= 0 { close(fd) }
            return false  // the stream path opens it again and says what is wrong, if anything
        }
        let size = UInt64(before.st_size)
        // Owned by the job from here: closed when the last connection reading it lets go.
        let job = BlockJob(
            stream: index,
            transferID: options.resume
                ? transferID(name: name, info: before, blockSize: layout.blockSize) : TransferID.random(),
            size: size,
            layout: layout,
            descriptor: fd
        )
        var offer = Offer(
            transferID: job.transferID,
            size: size,
            mode: UInt32(before.st_mode) & 0o7777,
            modificationTime: Timestamp(
                seconds: Int64(before.st_mtim.tv_sec),
                nanoseconds: UInt32(before.st_mtim.tv_nsec)
            ),
            name: name,
            awaitAnswer: true
        )
        offer.blocks = true
        session.offered(index: index, offer)
        try output.append(.offer(offer), flushingTo: socket)
        try flush()
        guard let answer = session.waitForAnswer(index) else { return true }  // the connection ended
        switch answer.decision {
        case .accept: break
        case .alreadyCommitted:
            // Its ACK is checked against the tree digest of the whole file, hashed here.
            session.phase(.hashing, index: index)
            var digests: [UInt64] = []
            for block in 0..<job.count {
                guard let digest = try hashBlock(job, block) else {
                    session.localFailure(index: index, .localIO("cannot read '\(name)' to check the receiver's copy"))
                    return true
                }
                digests.append(digest)
            }
            session.expect(index, length: size, digest: blockTreeDigest(digests))
            return true
        case .refuse, .resume: return true  // the reading thread recorded why
        }
        let held = Set(session.have(for: job.transferID)?.held ?? [])
        let scheduler = blocks.scheduler
        scheduler.start(job, held: held)
        blocks.startLanes()
        defer { scheduler.stop() }
        if !held.isEmpty {
            // What the receiver kept is in the tree digest too: hashed here, not sent.
            session.phase(.hashing, index: index)
            for block in held.sorted() {
                guard let digest = try hashBlock(job, block) else {
                    try cancel(index, .sourceUnreadable, "it shrank while being read")
                    session.localFailure(index: index, .localIO("'\(name)' shrank while being read; send it again"))
                    return true
                }
                scheduler.heldDigest(block, digest)
            }
            session.sent(index: index, 0, force: true)
        }
        var tree: UInt64?
        while tree == nil {
            if session.connectionError != nil { return true }
            if session.isDecided(index) {
                // The receiver failed it (a non-fatal ERROR): close the offer (SPEC.md §16.4).
                try cancel(index, .cancelled, "the receiver reported an error for it")
                return true
            }
            if let reason = scheduler.failed {
                try cancel(index, .sourceUnreadable, reason)
                session.localFailure(index: index, .localIO("'\(name)' \(reason); send it again"))
                return true
            }
            if let (job, block) = scheduler.take(lane: 0) {
                guard try sendBlock(job, block, scheduler: scheduler, counting: session) else {
                    // A block cannot be abandoned half sent: this connection, and so the
                    // session, ends with a fatal ERROR (SPEC.md §16.4).
                    session.localFailure(index: index, .localIO("'\(name)' shrank while being read; send it again"))
                    session.abandon(.sourceUnreadable, "'\(name)' shrank while block \(block) was being sent")
                    return true
                }
                continue
            }
            try flush()
            tree = scheduler.treeDigest()
            if tree == nil {
                // The other connections' blocks are in flight: wait for their BLOCKACKs,
                // saying "still here" on this connection meanwhile.
                scheduler.wait(seconds: 0.2)
                if monotonicSeconds() - lastWrite >= options.keepAliveInterval {
                    try output.append(.keepAlive, flushingTo: socket)
                    try flush()
                }
            }
        }
        if let change = changed(fd, since: before) {
            try cancel(index, .sourceUnreadable, "it changed while being read (\(change))")
            session.localFailure(
                index: index,
                .localIO("'\(name)' changed while being read (\(change)); it was not sent: send it again")
            )
            return true
        }
        // Known before END is written, so an ACK can never arrive ahead of it.
        session.expect(index, length: size, digest: tree!)
        try output.append(.end(End(totalLength: size, digest: tree!)), flushingTo: socket)
        return true
    }

    /// Sends block `index` of `job`: BLOCK, its bytes as DATA, BLOCKEND with their digest.
    /// - Parameter counting: The first connection's session, whose progress counts the bytes.
    /// - Returns: false when the file ended or could not be read before the block's end.
    mutating func sendBlock(
        _ job: BlockJob,
        _ index: UInt32,
        scheduler: BlockScheduler,
        counting: SenderSession
    ) throws -> Bool {
        guard let range = job.layout.range(of: index, size: job.size) else { return false }
        try output.append(.block(BlockStart(transferID: job.transferID, index: index)), flushingTo: socket)
        var digest = StreamDigest()
        var done: UInt64 = 0
        while done < range.length {
            var readError: CInt = 0
            let wanted = Int(min(UInt64(options.recordSize), range.length - done))
            let count = try output.appendData(maxPayload: wanted, flushingTo: socket) { space in
                let count = pread(job.descriptor, space.baseAddress, space.count, off_t(range.offset + done))
                if count < 0 {
                    readError = errno
                    return 0
                }
                digest.update(UnsafeRawBufferPointer(rebasing: space[..<count]))
                return count
            }
            if readError == EINTR { continue }
            guard readError == 0, count > 0 else { return false }
            done += UInt64(count)
            if output.count >= 1 << 20 { try flush() }
            counting.sent(index: job.stream, UInt64(count))
        }
        // Before BLOCKEND is written, so a BLOCKACK never finds it missing.
        scheduler.sent(index, of: job, digest: digest.value)
        try output.append(.blockEnd(BlockEnd(digest: digest.value)), flushingTo: socket)
        return true
    }

    /// XXH64 of block `index` of `job`, read from the file; `nil` if it could not be read whole.
    mutating func hashBlock(_ job: BlockJob, _ index: UInt32) throws -> UInt64? {
        guard let range = job.layout.range(of: index, size: job.size) else { return nil }
        var digest = StreamDigest()
        guard digestFile(job.descriptor, count: range.length, at: range.offset, into: &digest) else { return nil }
        if monotonicSeconds() - lastWrite >= options.keepAliveInterval {
            try output.append(.keepAlive, flushingTo: socket)
            try flush()
        }
        return digest.value
    }
}
