import Framing

#if canImport(Glibc)
    import Glibc
#endif

// One stream as the SenderWriter sends it: the offer, the source's bytes, its END or CANCEL.
extension SenderWriter {
    /// Offers one source and sends its bytes from `offset`.
    mutating func send(_ source: SendSource, index: Int, offset: UInt64, awaitAnswer: Bool) throws {
        let fd: CInt
        var size: UInt64?
        var id: TransferID
        var mode: UInt32 = 0o644
        var mtime = Timestamp(seconds: Int64(time(nil)))
        var before = stat()
        var producer: ProducerCommand?
        switch source {
        case .standardInput:
            fd = STDIN_FILENO
            id = TransferID.random()
        case .command(let command, _):
            do {
                producer = try ProducerCommand(command)
            } catch {
                session.localFailure(index: index, .localIO("cannot run '\(command)': \(error.reason)"))
                return
            }
            fd = producer!.output
            id = TransferID.random()
        case .file(let path, let name):
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0, fstat(fd, &before) == 0 else {
                let reason = SystemError("open").reason
                if fd >= 0 { close(fd) }
                session.localFailure(index: index, .localIO("cannot read '\(path)': \(reason)"))
                return
            }
            size = UInt64(before.st_size)
            mode = UInt32(before.st_mode) & 0o7777
            mtime = Timestamp(seconds: Int64(before.st_mtim.tv_sec), nanoseconds: UInt32(before.st_mtim.tv_nsec))
            id = options.resume ? transferID(name: name, info: before) : TransferID.random()
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        }
        defer {
            // A producer still running when the stream ends early is stopped, never left
            // writing to nobody; its output is closed by the reaping.
            if let producer { producer.stop() } else if fd != STDIN_FILENO { close(fd) }
        }
        var digest = StreamDigest()
        // The digest covers the whole stream, so a resumed file's kept prefix is hashed
        // locally, not sent; before the OFFER, so a failure here leaves nothing half-said.
        if offset > 0 {
            session.phase(.hashing, index: index)
            guard try hash(fd, count: offset, into: &digest) else {
                session.localFailure(index: index, .localIO("'\(source.name)' shrank while being read"))
                return
            }
        }
        var position = offset
        let offer = Offer(
            transferID: id,
            size: size,
            offset: offset,
            mode: mode,
            modificationTime: mtime,
            name: source.name,
            awaitAnswer: awaitAnswer
        )
        session.offered(index: index, offer)
        try output.append(.offer(offer), flushingTo: socket)

        if awaitAnswer {
            // With awaitAnswer nothing more is sent for a non-accepted offer (SPEC.md §6.2).
            try flush()
            guard let answer = session.waitForAnswer(index) else { return }  // connection ended
            switch answer.decision {
            case .accept: break
            case .alreadyCommitted:
                try expectCommitted(fd: fd, index: index, name: source.name, size: size, position: position, &digest)
                return
            case .resume:
                session.localFailure(
                    index: index,
                    .protocolViolation("the receiver asked again to resume '\(source.name)', from \(answer.offset)")
                )
                return
            case .refuse: return  // the reading thread recorded why
            }
        }
        while size.map({ position < $0 }) ?? true {
            // The reader thread saw the connection end: stop reading the source.
            if session.connectionError != nil { return }
            if let answer = session.answer(for: index), answer.decision != .accept {
                // The receiver discards the rest (SPEC.md §7.2): stop and close the offer.
                try cancel(index, .cancelled, "receiver answered \(answer.decision)")
                if answer.decision == .alreadyCommitted {
                    try expectCommitted(
                        fd: fd,
                        index: index,
                        name: source.name,
                        size: size,
                        position: position,
                        &digest
                    )
                }
                return
            }
            if session.isDecided(index) {
                // The receiver failed this stream (an ERROR): it discards the rest. Stop
                // reading it, close the offer, go on with the next.
                try cancel(index, .cancelled, "the receiver reported an error for it")
                return
            }
            if size == nil && !isReadable(fd) {
                // A stream that has nothing more right now (a slow pipe, a terminal): send
                // what we have before blocking on it, and say how far we are.
                try flush()
                session.sent(index: index, 0, force: true)
                // A quiet stream must not look like a dead sender to the receiver's idle
                // timeout: say "still here" until there is more (SPEC.md §7.1).
                while !isReadable(fd, within: options.keepAliveInterval) {
                    if session.connectionError != nil { return }
                    try output.append(.keepAlive, flushingTo: socket)
                    try flush()
                }
            }
            let wanted = size.map { Int(min(UInt64(options.recordSize), $0 - position)) } ?? options.recordSize
            var readError: CInt = 0
            let count = try output.appendData(maxPayload: wanted, flushingTo: socket) { space in
                let count = read(fd, space.baseAddress, space.count)
                if count < 0 {
                    readError = errno
                    return 0
                }
                digest.update(UnsafeRawBufferPointer(rebasing: space[..<count]))
                return count
            }
            if readError == EINTR { continue }
            if readError != 0 || (count == 0 && size != nil) {
                let reason = readError != 0 ? String(cString: strerror(readError)) : "it shrank while being read"
                try cancel(index, .sourceUnreadable, reason)
                session.localFailure(index: index, .localIO("cannot read '\(source.name)': \(reason); send it again"))
                return
            }
            if count == 0 { break }  // end of standard input
            position += UInt64(count)
            if output.count >= 1 << 20 { try flush() }
            session.sent(index: index, UInt64(count))
        }
        if case .file = source, let change = changed(fd, since: before) {
            // What was read is not one version of the file: do not let it be committed.
            try cancel(index, .sourceUnreadable, "it changed while being read (\(change))")
            session.localFailure(
                index: index,
                .localIO("'\(source.name)' changed while being read (\(change)); it was not sent: send it again")
            )
            return
        }
        if let producer, case .command(let command, let name) = source {
            // Its output ended; only its exit status says whether that was the whole of it.
            let status = producer.finish()
            guard status.succeeded else {
                try cancel(index, .sourceUnreadable, "the command producing it \(status)")
                session.localFailure(
                    index: index,
                    .localIO("'\(command)' \(status): its output was not committed as '\(name)'")
                )
                return
            }
        }
        // Known before END is written, so an ACK can never arrive ahead of it.
        session.expect(index, length: position, digest: digest.value)
        try output.append(.end(End(totalLength: position, digest: digest.value)), flushingTo: socket)
    }

    /// Closes the current offer with CANCEL.
    mutating func cancel(_ index: Int, _ code: ErrorCode, _ message: String) throws(SystemError) {
        session.cancelled(index)
        try output.append(.cancel(Cancel(code: code, message: message)), flushingTo: socket)
    }

    /// How the file behind `fd` differs from `before` (size or modification time), if it does.
    func changed(_ fd: CInt, since before: stat) -> String? {
        var after = stat()
        guard fstat(fd, &after) == 0 else { return "it can no longer be examined" }
        if after.st_size != before.st_size { return "size \(before.st_size) → \(after.st_size) bytes" }
        if after.st_mtim.tv_sec != before.st_mtim.tv_sec || after.st_mtim.tv_nsec != before.st_mtim.tv_nsec {
            return "modified"
        }
        return nil
    }

    /// Feeds `count` bytes of `fd` from its current position to `digest`, sending a
    /// KEEPALIVE whenever the wire has been quiet for the keep-alive interval: hashing a
    /// large prefix can take longer than the receiver's idle timeout.
    /// - Returns: false if the file ended or could not be read first.
    private mutating func hash(_ fd: CInt, count: UInt64, into digest: inout StreamDigest) throws -> Bool {
        var done: UInt64 = 0
        while done < count {
            let piece = min(count - done, 16 << 20)
            guard digestFile(fd, count: piece, into: &digest) else { return false }
            done += piece
            if monotonicSeconds() - lastWrite >= options.keepAliveInterval {
                if session.connectionError != nil { return true }
                try output.append(.keepAlive, flushingTo: socket)
                try flush()
            }
        }
        return true
    }

    /// For an offer answered "already committed": the ACK that follows is checked against
    /// the digest of the whole file, so hash what was not read yet.
    private mutating func expectCommitted(
        fd: CInt,
        index: Int,
        name: String,
        size: UInt64?,
        position: UInt64,
        _ digest: inout StreamDigest
    ) throws {
        session.phase(.hashing, index: index)
        guard let size, size >= position, try hash(fd, count: size - position, into: &digest) else {
            session.localFailure(index: index, .localIO("cannot read '\(name)' to check the receiver's copy"))
            return
        }
        session.expect(index, length: size, digest: digest.value)
    }

    /// Whether a read from `fd` would return at once, or does within `seconds`.
    private func isReadable(_ fd: CInt, within seconds: Double = 0) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&pfd, 1, CInt(seconds * 1000))
            if ready < 0 && errno == EINTR { continue }
            return ready != 0  // an error counts as readable: the read then reports it
        }
    }

    /// Same file, same name, same size and time: same ID, so a retry can resume
    /// (SPEC.md §11). Two XXH64 values over the identity, with different prefixes.
    /// A `blocks` offer's ID differs from a plain one's, and with the block size: its
    /// digest is the tree digest of those blocks (SPEC.md §16.5).
    func transferID(name: String, info: stat, blockSize: UInt32? = nil) -> TransferID {
        var identity =
            "\(name)\u{0}\(info.st_dev)\u{0}\(info.st_ino)\u{0}\(info.st_size)\u{0}\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        if let blockSize { identity += "\u{0}blocks \(blockSize)" }
        var high = StreamDigest()
        high.update(Array("xfer-id-high\u{0}\(identity)".utf8))
        var low = StreamDigest()
        low.update(Array("xfer-id-low\u{0}\(identity)".utf8))
        return TransferID(high: high.value, low: low.value)
    }
}
