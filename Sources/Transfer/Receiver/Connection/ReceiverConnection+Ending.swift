import Framing

/// How a connection ends, what it keeps of an unfinished stream, and its log lines.
extension ReceiverConnection {
    /// Ends the conversation after `stop`. `committer` is the connection's own (nil only
    /// when it could not be made, before anything was received).
    func end(_ stop: Stop, committer: Committer?) {
        // Verified streams are committed even when the conversation breaks: a retry then
        // finds them already committed. (With the connection's own committer: opening
        // anything now may fail for want of descriptors, and would strand the streams'
        // claims and descriptors.)
        if let committer { try? commitPending(committer) }
        syncJournal()
        if let incoming = current {
            current = nil
            keepPartial(incoming, assembly: blocks)
            blocks = nil
        }
        endSession()
        // The slot is free before the seconds a close may take (drain). A handshake that
        // did not end costs its source (SourcePenalties).
        var failure: HandshakeFailure?
        if !established {
            if case .fatal(.timeout, _) = stop { failure = .timeout } else { failure = handshakeFailure ?? .abandoned }
        } else if joinRefused {
            failure = .authentication
        }
        let evicted = admission.isEvicted
        admission.release(failure: failure)
        if evicted {
            // Its slot was given to another (AdmissionTable): say so, not what the shutdown
            // of its socket made the reads and writes report.
            let reason =
                established
                ? "evicted: every served slot was taken and its address held more than its share while another waited"
                : "evicted: every handshake slot was taken and its address held the most"
            summary.failure = .connectionLost(reason)
            note(.notice, detail: reason)
            socket.close()
            return
        }
        switch stop {
        case .fatal(let code, let message):
            summary.failure = code == .timeout ? .timeout(message) : .protocolViolation(message)
            note(.notice, detail: "dropped: \(message)")
            guard machine.greeted else {
                // Not an xfer client (no valid preamble): say nothing, just close (SPEC.md §3).
                socket.closeAfterDraining(seconds: 1)
                return
            }
            writer.enqueue(.error(ErrorRecord(code: code, fatal: true, message: message)))
            try? writer.flush()
            // Read before closing so our ERROR is not destroyed by an RST (SPEC.md §7.5).
            socket.closeAfterDraining(seconds: 2)
        case .peerFailed(let message):
            summary.failure = .connectionLost(message)
            note(.notice, detail: "connection ended: \(message)")
            // Send nothing more; read to the end so that closing sends no RST (SPEC.md §7.5).
            socket.closeAfterDraining(seconds: 2)
        case .peerGone(let message):
            summary.failure = .connectionLost(message)
            note(.notice, detail: "connection ended: \(message)")
            socket.close()
        }
    }

    /// Keeps a partial stream for a later resume: synced, so its length is true. A stream
    /// of unknown length cannot be resumed, nor one whose source changed (`resumable`
    /// false), and a partial that cannot be synced cannot be trusted: all are removed.
    func keepPartial(_ incoming: Incoming, resumable: Bool = true, assembly: BlockAssembly? = nil) {
        let id = incoming.offer.transferID
        defer { release(id) }
        let keep: Bool
        var keptBytes = incoming.partial.length
        if let assembly {
            // What a resume may skip: the blocks held, recorded on the file (SPEC.md §16.8).
            assembly.close()
            let held = assembly.held.map(\.index)
            keptBytes = held.reduce(0) { $0 + (assembly.layout.range(of: $1, size: assembly.size)?.length ?? 0) }
            keep =
                resumable && !held.isEmpty
                && (try? incoming.partial.recordBlocks(
                    held,
                    blockCount: assembly.count,
                    blockSize: assembly.layout.blockSize
                )) != nil
        } else {
            // Nothing received: nothing worth keeping.
            keep = resumable && incoming.offer.size != nil && incoming.partial.length > 0
        }
        if keep { incoming.partial.recordDestination() }
        // Its bytes and its name in `.xfer` (and `.xfer` in the target) must survive a power
        // loss, or the resume this keeps it for cannot happen (SPEC.md §7.3).
        let synced = keep && (try? incoming.partial.file.sync()) != nil && (try? directory.syncStateDirectory()) != nil
        incoming.partial.file.close()
        if !synced {
            directory.removePartial(id)
        } else {
            note(.kept, incoming.name.text, bytes: keptBytes)
            // The cap holds at every kept partial, not at the next expiry: a peer that cuts
            // or cancels transfers in a loop cannot pile them up in between.
            for removed in partials.enforce() {
                note(.notice, detail: "removed partial \(removed.name) (\(removed.size) bytes): over the cap")
            }
        }
    }

    /// This connection's part in its session ends: a block it was receiving is free for
    /// another connection; a first connection's session ends with it (SPEC.md §16).
    func endSession() {
        if let (assembly, index, _) = openBlock {
            openBlock = nil
            assembly.abandon(index, owner: ObjectIdentifier(self))
        }
        guard let session else { return }
        self.session = nil
        if joined { session.leave() } else { sessions.remove(session) }
    }

    /// One line of the log about this connection.
    func note(
        _ kind: ReceiverEvent.Kind,
        _ name: String? = nil,
        bytes: UInt64? = nil,
        resumedFrom: UInt64? = nil,
        detail: String = ""
    ) {
        log(
            ReceiverEvent(
                peer: summary.peer,
                kind: kind,
                name: name,
                bytes: bytes,
                resumedFrom: resumedFrom,
                detail: detail
            )
        )
    }
}
