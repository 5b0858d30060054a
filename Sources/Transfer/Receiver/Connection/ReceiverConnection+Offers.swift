import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Offers: gathers what ``OfferDecision`` needs, carries out its answer, opens the partial.
extension ReceiverConnection {
    /// The identity of the regular file now at `name`, if any; through the directory just
    /// checked when it is that one.
    func existingIdentity(of name: WireName) -> FileIdentity? {
        if let cached = checkedDirectory, cached.key == name.directories.joined(separator: "/") {
            // A directory still missing at the check holds no file: only a commit can have
            // made it since, and a commit forgets the verdict.
            guard let parent = cached.parent.directory, let info = try? parent.status(of: name.leaf),
                info.st_mode & S_IFMT == S_IFREG
            else { return nil }
            return FileIdentity(info)
        }
        return directory.identity(of: name)
    }

    func checkDestination(_ name: WireName) throws(TransferError) {
        let key = name.directories.joined(separator: "/")
        if let cached = checkedDirectory, cached.key == key {
            return try directory.checkLeaf(name, in: cached.parent)
        }
        let parent = try directory.checkedParent(of: name)
        checkedDirectory = (key, parent)
        try directory.checkLeaf(name, in: parent)
    }

    func receiveOffer(_ offer: Offer, _ committer: Committer) throws {
        let id = offer.transferID
        let name: WireName
        do {
            name = try WireName(validating: offer.name)
            try checkDestination(name)
        } catch {
            return refuse(offer, ReceiverFailure(error))
        }
        // The journal is read only when a file is there to be the committed one: a new
        // file (the common case) costs one stat in the directory just checked.
        let existing = existingIdentity(of: name)
        switch OfferDecision.beforeClaim(
            offer,
            existing: existing,
            committed: existing == nil ? nil : journal.entry(for: id),
            openOnThisConnection: claims.contains(id)
        ) {
        case .alreadyCommitted(let entry):
            // ACKs go in offer order (SPEC.md §7.3): earlier streams commit first.
            try commitPending(committer)
            answer(offer, .alreadyCommitted, offset: entry.length)
            writer.enqueue(.ack(ack(for: offer, committed: entry)))
            note(.alreadyCommitted, offer.name, bytes: entry.length)
            return
        case .refuse(let failure):
            return refuse(offer, failure)
        case .accept, .resume, nil:
            break
        }
        guard claim(id) else {
            return decline(offer, OfferDecision.claimedElsewhere(offer))
        }
        var claimed = true
        defer { if claimed { release(id) } }
        if !offer.blocks,
            let resume = OfferDecision.resuming(offer, held: offer.size == nil ? 0 : directory.partialSize(id) ?? 0)
        {
            return decline(offer, resume)
        }
        if let needed = OfferDecision.shortfall(offer, free: directory.freeBytes()) {
            // Partials kept for resumes are a cache: they give way to a new transfer.
            let removed = partials.makeRoom(for: needed, except: TargetDirectory.partialName(id))
            for removed in removed {
                note(.notice, detail: "removed partial \(removed.name) (\(removed.size) bytes) to make room")
            }
            // Asked again only here: one `statvfs` per offer when there is room.
            if case .refuse(let failure) = OfferDecision.space(offer, free: directory.freeBytes()) {
                return refuse(offer, failure)
            }
        }
        if offer.blocks, let session {
            guard let (partial, assembly) = openBlocks(offer, name: name, session: session) else { return }
            claimed = false  // released when the offer ends
            blocks = assembly
            session.open(assembly)
            current = Incoming(offer: offer, name: name, partial: partial)
            return answer(offer, .accept, offset: 0)
        }
        let partial: PartialFile
        do {
            let opening = try PartialFile.open(
                TargetDirectory.partialName(id),
                in: directory.state,
                keeping: offer.offset,
                window: options.writeBackWindow,
                destination: name.text
            )
            guard case .opened(let opened) = opening else {
                return refuse(offer, ReceiverFailure(.busy, "'\(offer.name)' is being written by another process"))
            }
            partial = opened
        } catch {
            return refuse(
                offer,
                ReceiverFailure(
                    error.isNoSpace ? .noSpace : .ioError,
                    "cannot create a file for '\(offer.name)': \(error.reason)"
                )
            )
        }
        if offer.offset > 0 {
            // The whole-stream digest covers the kept prefix too: hash it from disk, telling
            // the sender we are alive meanwhile (it may take longer than its timeout).
            let writer = self.writer
            let heartbeat: Heartbeat
            do {
                heartbeat = try Heartbeat(interval: ReceiverConnection.heartbeatInterval) {
                    try? writer.send(.keepAlive)
                }
            } catch {
                // Hashing a long prefix in silence would time the sender out: refuse now,
                // keeping the partial for a later resume.
                partial.file.close()
                return refuse(offer, ReceiverFailure(.busy, "'\(offer.name)': \(error); try again later"))
            }
            defer { heartbeat.stop() }
            do {
                machine.resumed(from: offer.offset, digest: try partial.hashKeptPrefix())
            } catch {
                directory.removePartial(id)
                return refuse(
                    offer,
                    ReceiverFailure(.ioError, "cannot read back the kept part of '\(offer.name)': \(error.reason)")
                )
            }
        }
        claimed = false  // released when the stream ends
        current = Incoming(offer: offer, name: name, partial: partial)
        answer(offer, .accept, offset: offer.offset)
    }

    /// Seconds between keep-alive records while the receiver is busy without input.
    static let heartbeatInterval = 1.0

    func answer(_ offer: Offer, _ decision: Answer.Decision, offset: UInt64, failure: ReceiverFailure? = nil) {
        var record = Answer(transferID: offer.transferID, decision: decision, offset: offset)
        if let failure {
            record.code = failure.code
            record.message = failure.message
        }
        writer.enqueue(.answer(record))
        if decision != .accept {
            machine.declined(offer)
            // The sender may be streaming this offer's data at us: tell it at once, so it stops.
            try? writer.flush()
        }
    }

    /// Answers an offer that is neither accepted nor already committed.
    func decline(_ offer: Offer, _ decision: OfferDecision) {
        switch decision {
        case .resume(let offset): answer(offer, .resume, offset: offset)
        case .refuse(let failure): refuse(offer, failure)
        case .accept, .alreadyCommitted: preconditionFailure("\(decision) is not a decline")
        }
    }

    func refuse(_ offer: Offer, _ failure: ReceiverFailure) {
        summary.failedFiles += 1
        note(.refused, ReceiverConnection.shown(offer.name), detail: failure.logText)
        answer(offer, .refuse, offset: 0, failure: failure)
    }
}
