import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Sessions and blocks (SPEC.md §16): the grant, a JOIN, a `blocks` offer's blocks and END.
extension ReceiverConnection {
    /// What WELCOME says of a session the HELLO asked for, and the session made for it:
    /// granted when the client asks for at least two connections and our limits allow two.
    func grantSession(for hello: Hello) -> [Parameter] {
        guard let asked = hello.parameters.streams, asked >= 2 else { return [] }
        let granted = min(Int(asked), 16, options.maxStreams, options.maxPerAddress)
        guard granted >= 2 else { return [] }
        let session = sessions.create(blockSize: options.blockSize, granted: granted)
        self.session = session
        machine.sessionGranted()
        return [.streams(UInt16(granted))]
    }

    /// After the handshake: the SESSION record, sealed when there is a key.
    func sendSession() {
        if let session, !joined { writer.enqueue(.session(session.grant)) }
    }

    /// A further connection joins the session `request` names, if it proves the token.
    func join(_ request: Join) throws {
        guard let found = sessions.find(request) else {
            // A guess costs its source what a wrong proof of the key costs (SPEC.md §9).
            joinRefused = true
            note(.notice, detail: "refused a JOIN: unknown session or wrong token")
            throw Stop.fatal(.unauthenticated, "JOIN names no session of this receiver, or not with its token")
        }
        if let refusal = found.join() { throw Stop.fatal(.busy, "JOIN refused: \(refusal)") }
        session = found
        joined = true
        summary.joinedSession = true
    }

    /// A BLOCK: claims it in its offer's assembly; the machine then counts its DATA.
    func startBlock(_ start: BlockStart) throws {
        if joined, session?.ended ?? true { throw sessionEnded }
        let assembly = joined ? session?.assembly(for: start.transferID) : blocks
        guard let assembly, assembly.transferID == start.transferID else {
            throw Stop.fatal(.protocolViolation, "BLOCK of a transfer not open as a blocks offer in this session")
        }
        func open(_ length: UInt64, _ mode: ReceiverStateMachine.IncomingBlock.Mode) {
            machine.openBlock(.init(id: start.transferID, index: start.index, length: length, mode: mode))
        }
        switch assembly.claim(start.index, owner: ObjectIdentifier(self)) {
        case .write(let offset, let length):
            open(length, .write)
            openBlock = (assembly, start.index, offset)
        case .duplicate(let length, _):
            open(length, .duplicate)
            openBlock = (assembly, start.index, 0)
        case .closed(let length):
            // Sent before the client knew the offer had ended: read and dropped (SPEC.md §16.4).
            open(length, .drop)
            openBlock = (assembly, start.index, 0)
        case .outside:
            throw Stop.fatal(
                .protocolViolation,
                "block \(start.index) is past the last block (\(assembly.count - 1)) of its file"
            )
        }
    }

    /// Blocks on a joined connection after the session's first connection ended (SPEC.md §16.8).
    private var sessionEnded: Stop { .fatal(.cancelled, "the session has ended (its first connection closed)") }

    /// Writing block `index` failed: the connection ends, naming the error.
    private func writeFailed(_ error: SystemError, block index: UInt32) -> Stop {
        .fatal(error.isNoSpace ? .noSpace : .ioError, "cannot write block \(index): \(error.reason)")
    }

    /// A held block's BLOCKEND: acknowledged if it matches the held digest, else a lie.
    private func checkAgainstHeld(_ held: UInt64?, _ block: ReceiverStateMachine.IncomingBlock) throws {
        guard held == block.digest.value else {
            throw Stop.fatal(.protocolViolation, "block \(block.index) sent again with other bytes")
        }
    }

    /// DATA of the open block, at its place in the file.
    func storeBlock(_ bytes: ArraySlice<UInt8>) throws {
        guard let (assembly, index, start) = openBlock, let block = machine.block else { return }
        let offset = start + block.received - UInt64(bytes.count)
        let owner = ObjectIdentifier(self)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SystemError) in try assembly.write(raw, at: offset, block: index, owner: owner) }
        }
        let outcome: BlockAssembly.Outcome
        do throws(SystemError) {
            outcome = try result.get()
        } catch {
            throw writeFailed(error, block: index)
        }
        switch outcome {
        case .done: break
        case .closed:
            if joined, session?.ended ?? true { throw sessionEnded }
            machine.dropOpenBlock()
        case .held:
            // Another connection's copy was held first: the rest of this one is only checked.
            machine.duplicateOpenBlock()
        case .mismatch:
            break  // only a finish reads the block back
        }
        // The sender waits for BLOCKACKs: say "alive" while a long block arrives slowly.
        let now = monotonicSeconds()
        if now - lastBlockWord >= ReceiverConnection.heartbeatInterval {
            lastBlockWord = now
            writer.enqueue(.keepAlive)
        }
    }

    /// The open block arrived whole and matched its digest: held, and acknowledged.
    func endBlock(_ block: ReceiverStateMachine.IncomingBlock) throws {
        guard let (assembly, _, _) = openBlock else { return }
        openBlock = nil
        switch block.mode {
        case .drop:
            return  // of an offer no longer open: no BLOCKACK (SPEC.md §16.4)
        case .duplicate:
            // Sent again (the sender lost its BLOCKACK with a connection): the same bytes, or a lie.
            try checkAgainstHeld(assembly.heldDigest(of: block.index), block)
        case .write:
            let outcome: BlockAssembly.Outcome
            do {
                outcome = try assembly.finish(block.index, digest: block.digest.value, owner: ObjectIdentifier(self))
            } catch {
                throw writeFailed(error, block: block.index)
            }
            switch outcome {
            case .done:
                summary.blocks += 1
                summary.blockBytes += block.length
            case .closed:
                if joined, session?.ended ?? true { throw sessionEnded }
                return  // the offer ended while it arrived: dropped, no BLOCKACK
            case .held(let digest):
                // Another connection's copy was held first.
                try checkAgainstHeld(digest, block)
            case .mismatch:
                throw Stop.fatal(
                    .digestMismatch,
                    "block \(block.index): the bytes in the file do not match its BLOCKEND (another connection wrote other bytes into it)"
                )
            }
        }
        lastBlockWord = monotonicSeconds()
        writer.enqueue(.blockAck(BlockAck(transferID: block.id, index: block.index)))
    }

    /// END of the open `blocks` offer: every block held, the length and the tree digest
    /// right, or the file fails; then it joins the commit batch like any verified stream.
    func finishBlocks(_ end: End, _ committer: Committer) throws {
        guard let incoming = current, let assembly = blocks else { return }
        current = nil
        blocks = nil
        assembly.close()
        let name = incoming.name.text
        if let missing = assembly.firstMissing {
            // The blocks it holds are good: kept for a resume, which sends only the rest.
            reportFailure(
                assembly.transferID,
                name: name,
                .lengthMismatch,
                "'\(name)': END came before block \(missing) of \(assembly.count) arrived"
            )
            return keepPartial(incoming, assembly: assembly)
        }
        guard end.totalLength == assembly.size, let tree = assembly.treeDigest, tree == end.digest else {
            let problem =
                end.totalLength != assembly.size
                ? (ErrorCode.lengthMismatch, "END says \(end.totalLength) bytes, the offer \(assembly.size)")
                : (
                    ErrorCode.digestMismatch,
                    "digest mismatch: END says \(hex16(end.digest)), its blocks give \(hex16(assembly.treeDigest ?? 0))"
                )
            return fail(incoming, problem.0, "'\(name)': \(problem.1)")
        }
        incoming.partial.forgetBlocks()
        incoming.partial.blocksComplete(length: assembly.size)
        let full = pending.add(
            VerifiedStream(offer: incoming.offer, name: incoming.name, partial: incoming.partial, digest: tree),
            length: assembly.size,
            nameBytes: incoming.offer.name.utf8.count,
            budgeted: descriptors.take()
        )
        if full { try commitPending(committer) }
    }

    /// Opens the partial of an accepted `blocks` offer, finds the blocks a kept one holds
    /// (read back and hashed: verified, never assumed), and sends HAVE for them.
    /// - Returns: The assembly, or `nil` after refusing the offer.
    func openBlocks(_ offer: Offer, name: WireName, session: ReceiverSession) -> (PartialFile, BlockAssembly)? {
        let id = offer.transferID
        let size = offer.size ?? 0
        let layout = session.layout
        let count = UInt32(clamping: layout.count(size: size))
        // A HAVE must fit in one record: 8 blocks a byte.
        guard layout.count(size: size) <= UInt64(Have.maxBlockCount) else {
            refuse(
                offer,
                ReceiverFailure(
                    .refused,
                    "'\(offer.name)' has more than \(Have.maxBlockCount) blocks; send it with --streams 1"
                )
            )
            return nil
        }
        let kept = directory.partialSize(id) ?? 0
        let partial: PartialFile
        do {
            let opening = try PartialFile.open(
                TargetDirectory.partialName(id),
                in: directory.state,
                keeping: kept,
                window: options.writeBackWindow,
                destination: name.text,
                blocks: true
            )
            guard case .opened(let opened) = opening else {
                refuse(offer, ReceiverFailure(.busy, "'\(offer.name)' is being written by another process"))
                return nil
            }
            partial = opened
        } catch {
            refuse(
                offer,
                ReceiverFailure(
                    error.isNoSpace ? .noSpace : .ioError,
                    "cannot create a file for '\(offer.name)': \(error.reason)"
                )
            )
            return nil
        }
        var held: [UInt32: UInt64] = [:]
        let recorded = kept > 0 ? partial.recordedBlocks(blockCount: count, blockSize: layout.blockSize) : []
        if !recorded.isEmpty {
            let writer = self.writer
            let heartbeat = try? Heartbeat(interval: ReceiverConnection.heartbeatInterval) {
                try? writer.send(.keepAlive)
            }
            defer { heartbeat?.stop() }
            for index in recorded {
                guard let range = layout.range(of: index, size: size), range.offset + range.length <= kept else {
                    continue
                }
                var digest = StreamDigest()
                if digestFile(partial.file, count: range.length, at: range.offset, into: &digest) {
                    held[index] = digest.value
                }
            }
        } else if kept > 0 {
            // Nothing recorded for these blocks: start afresh.
            _ = try? partial.file.truncate(to: 0)
        }
        let assembly = BlockAssembly(transferID: id, size: size, layout: layout, partial: partial, held: held)
        if !held.isEmpty {
            note(
                .notice,
                name.text,
                detail: "\(held.count) of \(count) blocks kept from an earlier connection verified; the rest follow"
            )
            writer.enqueue(.have(Have(transferID: id, blockCount: count, held: held.keys.sorted())))
        }
        return (partial, assembly)
    }
}
