import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// The commit of a batch and the ACKs that follow it, in offer order.
extension ReceiverConnection {
    /// Makes every verified stream durable under its final name, then ACKs each, in order.
    func commitPending(_ committer: Committer) throws {
        guard !pending.isEmpty else { return }
        let (batch, taken) = pending.take()
        defer { descriptors.give(taken) }
        let writer = self.writer
        let last = batch[batch.count - 1].offer.transferID
        let lastLength = batch[batch.count - 1].partial.length
        // What was written back before the sync: PROGRESS never goes backwards (SPEC.md §6.7).
        let lastDurable = batch[batch.count - 1].partial.writtenBack
        let heartbeat: Heartbeat?
        do {
            heartbeat = try Heartbeat(interval: ReceiverConnection.heartbeatInterval) {
                try? writer.send(.progress(Progress(transferID: last, received: lastLength, durable: lastDurable)))
            }
        } catch {
            // The streams are verified and a batch is bounded (commitBatchBytes): commit them
            // without keep-alives rather than fail them (at worst a sender times out, and its
            // retry finds them already committed).
            note(.notice, detail: "\(error); committing without them")
            heartbeat = nil
        }
        var outcomes = committer.commit(batch)
        // The consumer's verdict is part of the ACK: its time is busy time (PROGRESS).
        if let consumer = options.consumer {
            for index in outcomes.indices {
                guard case .committed(let entry) = outcomes[index] else { continue }
                outcomes[index] = handOver(batch[index], committed: entry, to: consumer)
            }
        }
        heartbeat?.stop()
        // Kept open for the consumer (Committer.keepsCommittedFilesOpen); no longer needed.
        for stream in batch { stream.partial.file.close() }
        // The commit may have made the directory remembered as missing: check it again.
        if checkedDirectory?.parent.directory == nil { checkedDirectory = nil }
        var committed: [(TransferID, CommitJournal.Entry)] = []
        for (stream, outcome) in zip(batch, outcomes) {
            let id = stream.offer.transferID
            if case .committed(let entry) = outcome { committed.append((id, entry)) }
        }
        if let error = journal.record(committed) {
            note(.notice, detail: "cannot record commits in .xfer/commits (a retry will send them again): \(error)")
        }
        for (stream, outcome) in zip(batch, outcomes) {
            let id = stream.offer.transferID
            defer { release(id) }
            switch outcome {
            case .committed(let entry):
                summary.committedFiles += 1
                summary.committedBytes += entry.length
                let offset = stream.offer.offset
                note(.committed, stream.name.text, bytes: entry.length, resumedFrom: offset > 0 ? offset : nil)
                writer.enqueue(.ack(ack(for: stream.offer, committed: entry)))
            case .failed(let code, let message, let keptPartial):
                if !keptPartial { directory.removePartial(id) }
                reportFailure(id, name: stream.name.text, code, message)
            }
        }
    }

    /// Runs `consumer` on the file `stream` was committed as: committed again if it exits 0,
    /// else failed with `consumerFailed` (the file stays, the commit is not recorded).
    func handOver(_ stream: VerifiedStream, committed entry: CommitJournal.Entry, to consumer: StreamConsumer)
        -> CommitOutcome
    {
        let name = stream.name.text
        let status: ChildStatus
        do throws(SystemError) {
            // The inode the commit made, through the descriptor it was written with: not the
            // name, which another process may have replaced, and readable whatever the mode
            // the sender gave it.
            let file = stream.partial.file
            _ = try file.seek(to: 0)
            status = try consumer.run(
                input: file,
                environment: [
                    ("XFER_NAME", name), ("XFER_PATH", directory.path + "/" + name),
                    ("XFER_SIZE", "\(entry.length)"), ("XFER_PEER", summary.peer),
                ]
            )
        } catch {
            return .failed(
                .consumerFailed,
                "'\(name)' is committed, but the receiver's --exec program could not be started: \(error.reason); "
                    + "not acknowledged",
                keptPartial: false
            )
        }
        guard status.succeeded else {
            return .failed(
                .consumerFailed,
                "'\(name)' is committed, but the receiver's --exec program \(status); not acknowledged",
                keptPartial: false
            )
        }
        return .committed(entry)
    }

    /// Makes this connection's journal lines durable (SPEC.md §7.3): at its end, where an
    /// ACK may have been lost with it and the sender will ask again.
    func syncJournal() {
        if let error = journal.syncRecorded() {
            note(
                .notice,
                detail: "cannot sync .xfer/commits (after a power loss, a retry may send files again): \(error)"
            )
        }
    }

    /// The ACK of `offer`, saying what `entry` says: the ``Committer``'s record of what it
    /// made durable and checked (now, or at an earlier commit and read from the journal), the
    /// only source of an ACK's length and digest. Durable, since an entry exists only after
    /// the commit's syncs. On a sealed connection it is bound to the offer (SPEC.md §13.5),
    /// so the sender can check that what was committed is what it offered.
    func ack(for offer: Offer, committed entry: CommitJournal.Entry) -> Ack {
        Ack(
            transferID: offer.transferID,
            committedLength: entry.length,
            digest: entry.digest,
            durable: true,
            binding: options.key == nil
                ? nil : AckBinding(offer: offer, committedLength: entry.length, digest: entry.digest)
        )
    }
}
