import Framing

#if canImport(Glibc)
    import Glibc
#endif

// The reading thread's side of a SenderSession: the receiver's records, applied to the ledger.
extension SenderSession {
    /// Reads the receiver's records until its GOODBYE, or after a failure until the end of
    /// the stream (SPEC.md §7.5: read before closing, so our close sends no RST).
    func readReplies(from socket: TCPSocket) {
        var reader = RecordReader(socket: socket)
        if options.key != nil { locked { handshakeDeadline = monotonicSeconds() + options.idleTimeout } }
        do throws(ReadFailure) {
            guard case .preamble(let preamble) = try next(&reader) else { throw ReadFailure.framing(.badMagic([])) }
            locked {
                heard = true
                condition.broadcast()
            }
            let preambleBytes = reader.decoder.lastMessageBytes
            locked { transcript.append(preambleBytes) }
            if preamble.version != Preamble.currentVersion {
                // The receiver speaks another version; its fatal ERROR follows (SPEC.md §3).
                if case .record(.error(let error)) = try nextMeaningful(&reader) {
                    locked { receiverFailed = true }
                    throw ReadFailure.idle(.fromReceiver(code: error.code, message: error.message))
                }
                throw ReadFailure.idle(
                    .protocolViolation("receiver speaks protocol version \(preamble.version), not 1")
                )
            }
            switch try nextMeaningful(&reader) {
            case .record(.welcome(let welcome)):
                try decideSession(welcome)
                if let key = options.key {
                    try authenticate(welcome, bytes: reader.decoder.lastMessageBytes, key: key, &reader)
                }
            case .record(.error(let error)):
                // A fatal ERROR in place of WELCOME (busy, another version): only read now.
                locked { receiverFailed = true }
                throw ReadFailure.idle(.fromReceiver(code: error.code, message: error.message))
            default: throw ReadFailure.idle(.protocolViolation("receiver did not start with WELCOME"))
            }
            // With a key the decoder now opens every record: what arrives here was sealed
            // by the key holder, in order (SPEC.md §13.4).
            while true {
                guard case .record(let record) = try next(&reader) else {
                    throw ReadFailure.idle(.protocolViolation("second preamble"))
                }
                if try handle(record) { break }
            }
        } catch {
            let ended: Bool = locked {
                let ended: Bool
                switch error {
                case .endOfStream:
                    ended = true
                    // After every verdict a missing GOODBYE loses nothing (report() warns).
                    if failure == nil && !ledger.allDecided {
                        failure = .connectionLost("the receiver closed the connection")
                    }
                case .system(let error) where error.errno == ECONNRESET:
                    ended = true
                    if failure == nil { failure = .connectionLost("connection reset by the receiver") }
                case .system(let error):
                    ended = true
                    if failure == nil { failure = .connectionLost(error.description) }
                case .framing(.sealBroken(let reason)):
                    // Altered, injected or cut on the way: nothing to say to anyone.
                    ended = true
                    if failure == nil { failure = .protocolViolation("the sealed connection broke: \(reason)") }
                case .framing(let error):
                    ended = false
                    if failure == nil {
                        failure = .protocolViolation("from the receiver: \(error)")
                        // Told with the code that names the damage (SPEC.md §12), if any can be.
                        complaint = error.errorCode.map { ($0, "from the receiver: \(error)") }
                    }
                case .idle(let error):
                    ended = false
                    if failure == nil {
                        failure = error
                        if !receiverFailed, case .protocolViolation(let text) = error {
                            complaint = (.protocolViolation, text)
                        }
                    }
                }
                condition.broadcast()
                return ended
            }
            // Read until the receiver closes (SPEC.md §7.5): after its fatal ERROR for as long
            // as it may take; after our own complaint, briefly.
            if !ended { socket.drain(seconds: locked { receiverFailed } ? options.idleTimeout : 2) }
        }
        locked {
            readerDone = true
            condition.broadcast()
        }
        // Blocks this connection did not see acknowledged go to the others.
        scheduler?.laneEnded(lane)
    }

    /// The next message that is not an ignorable record (SPEC.md §4: those may come
    /// anywhere, even before WELCOME).
    func nextMeaningful(_ reader: inout RecordReader) throws(ReadFailure) -> RecordDecoder.Message {
        while true {
            let message = try next(&reader)
            switch message {
            case .record(.keepAlive), .record(.unknown): continue
            default: return message
            }
        }
    }

    private func next(_ reader: inout RecordReader) throws(ReadFailure) -> RecordDecoder.Message {
        let timeout = options.idleTimeout
        let message = try reader.next { (wait: ReadWait) throws(ReadFailure) in
            try locked { () throws(ReadFailure) in
                if failure != nil { throw .idle(failure!) }
                if let deadline = handshakeDeadline, monotonicSeconds() > deadline {
                    throw .idle(.timeout("no complete handshake within \(Int(timeout)) s"))
                }
                if waiters > 0 && wait.silence > timeout {
                    throw .idle(.timeout("no word from the receiver for \(Int(timeout)) s"))
                }
                // Blocks sent and not acknowledged: the receiver owes a word (SPEC.md §16).
                if let since = scheduler?.waitingSince(lane: lane),
                    min(monotonicSeconds() - since, wait.silence) > timeout
                {
                    throw .idle(
                        .timeout("no word from the receiver for \(Int(timeout)) s while blocks were outstanding")
                    )
                }
            }
        }
        locked { lastHeard = monotonicSeconds() }
        return message
    }

    /// What WELCOME says of the session asked for: none, or a SESSION to come (SPEC.md §16.1).
    private func decideSession(_ welcome: Welcome) throws(ReadFailure) {
        try locked { () throws(ReadFailure) in
            defer { condition.broadcast() }
            guard let granted = welcome.parameters.streams else {
                sessionDecided = true
                return
            }
            guard askedStreams >= 2, granted >= 2, Int(granted) <= askedStreams else {
                throw .idle(
                    .protocolViolation(
                        "the receiver granted \(granted) connections; \(askedStreams < 2 ? "none were" : "at most \(askedStreams) were") asked for"
                    )
                )
            }
            grantedStreams = Int(granted)
        }
    }

    /// The records of a session (SPEC.md §16), lock held: SESSION, HAVE, BLOCKACK.
    /// - Returns: false for any other record.
    private func handleSessionRecord(_ record: Record) throws(ReadFailure) -> Bool {
        switch record {
        case .session(let session):
            guard lane == 0, grantedStreams != nil, grant == nil else {
                throw .idle(.protocolViolation("a SESSION the receiver did not announce in its WELCOME, or a second"))
            }
            grant = session
            sessionDecided = true
        case .have(let have):
            guard let index = ledger.index(of: have.transferID), let grant,
                let offer = ledger.streams[index].offer, offer.blocks, ledger.streams[index].answer == nil,
                haves[have.transferID] == nil,
                UInt64(have.blockCount) == BlockLayout(blockSize: grant.blockSize).count(size: offer.size ?? 0)
            else {
                throw .idle(
                    .protocolViolation("a HAVE that answers no blocks offer waiting for its answer, or a second")
                )
            }
            haves[have.transferID] = have
        case .blockAck(let ack):
            guard let scheduler else {
                throw .idle(.protocolViolation("a BLOCKACK on a connection that sent no block"))
            }
            do throws(TransferError) {
                try scheduler.acknowledged(ack, lane: lane)
            } catch {
                throw .idle(error)
            }
        default:
            return false
        }
        return true
    }

    /// Applies one record; true when the conversation is over.
    private func handle(_ record: Record) throws(ReadFailure) -> Bool {
        try locked { () throws(ReadFailure) -> Bool in
            defer { condition.broadcast() }
            if try handleSessionRecord(record) { return false }
            let effect: SenderLedger.Effect
            do throws(TransferError) {
                effect = try ledger.apply(record)
            } catch {
                throw .idle(error)
            }
            announceAnswered()
            switch effect {
            case .goodbye:
                goodbyeReceived = true
                return true
            case .fatal(let error):
                receiverFailed = true
                throw .idle(error)
            default:
                report(effect)
                return false
            }
        }
    }
}
