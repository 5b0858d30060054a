import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// The sending thread's half: writes records, reads sources.
struct SenderWriter: ~Copyable {
    let socket: TCPSocket
    let session: SenderSession
    let options: SenderOptions
    var output: OutputBuffer
    /// When the writer last put something on the wire (for keep-alives while it hashes).
    var lastWrite = monotonicSeconds()
    /// The session's blocks, when the receiver granted one (SPEC.md §16).
    var blocks: SenderBlocks?

    init(socket: TCPSocket, session: SenderSession, options: SenderOptions) {
        self.socket = socket
        self.session = session
        self.options = options
        output = OutputBuffer(capacity: 4 << 20) { [session] in session.receiverIsAlive }
    }

    /// The preamble, HELLO (with `parameters`) and, with a key, the proofs both ways.
    /// - Returns: false when the receiver did not prove the key (the session says why; our
    ///   side is shut down).
    mutating func handshake(parameters: [Parameter]) throws -> Bool {
        try output.append(bytes: Preamble().bytes, flushingTo: socket)
        guard options.key != nil else {
            try output.append(.hello(Hello(parameters: [.agent(agentName)] + parameters)), flushingTo: socket)
            return true
        }
        // Nothing but the handshake until the receiver has proved the key, and we have.
        let nonce = randomBytes(AuthProof.byteCount)
        var hello: [UInt8] = []
        try RecordEncoder.append(
            .hello(Hello(parameters: [.agent(agentName), .nonce(nonce), .suites(CipherSuite.preferred)] + parameters)),
            to: &hello
        )
        session.startAuthentication(hello: hello, nonce: nonce)
        try output.append(bytes: hello, flushingTo: socket)
        try flush()
        guard let (proof, sealer) = session.waitForClientProof() else {
            if !session.receiverEnded, case .authenticationFailed(let message)? = session.connectionError {
                // Tell the receiver why we leave: its log then says so.
                try? output.append(
                    .error(ErrorRecord(code: .unauthenticated, fatal: true, message: message)),
                    flushingTo: socket
                )
                try? flush()
            }
            socket.shutdownWrite()
            return false
        }
        try output.append(.auth(proof), flushingTo: socket)
        // Everything after our AUTH travels sealed (SPEC.md §13.4).
        output.startSealing(sealer)
        return true
    }

    /// The session's first connection: handshake, every source, resumes, GOODBYE.
    mutating func run(_ sources: [SendSource], blocks: SenderBlocks? = nil) {
        do {
            guard try handshake(parameters: blocks.map { [.streams(UInt16($0.asked))] } ?? []) else {
                session.writerIsWaiting()
                return
            }
            if let blocks, sources.contains(where: { blocks.mightSplit($0) }) {
                // The WELCOME's answer to the HELLO's `streams` decides how large files go;
                // the further connections' handshakes overlap this one's last round trip
                // and the first offer's, not follow them.
                try flush()
                if session.waitForGrantedStreams() != nil {
                    blocks.startLanes()
                    // Its block size decides which files go as blocks.
                    _ = session.waitForSessionDecision()
                }
            }
            self.blocks = blocks
            for (index, source) in sources.enumerated() {
                guard session.connectionError == nil else { break }
                if try sendAsBlocks(source, index: index) { continue }
                try send(source, index: index, offset: 0, awaitAnswer: false)
            }
            // A receiver that holds part of a stream asks to resume it; offer those again
            // from where it stands, waiting for its answer first (SPEC.md §7.2).
            try flush()
            for (index, offset) in session.waitForResumeRequests() {
                guard session.connectionError == nil else { break }
                try send(sources[index], index: index, offset: offset, awaitAnswer: true)
            }
            if session.connectionError != nil {
                // After the receiver's fatal ERROR: stop sending, only read (SPEC.md §7.5).
                // Otherwise tell the receiver why we stop, and shut our side down.
                if !session.receiverEnded {
                    if let (code, message) = session.ownComplaint {
                        try? output.append(
                            .error(ErrorRecord(code: code, fatal: true, message: message)),
                            flushingTo: socket
                        )
                        try? flush()
                    }
                    socket.shutdownWrite()
                }
            } else {
                try output.append(.goodbye, flushingTo: socket)
                try flush()
            }
        } catch let error as SystemError {
            if error.errno == EAGAIN || error.errno == EWOULDBLOCK {
                session.connectionFailed(
                    .timeout("the receiver neither read nor said anything for \(Int(options.idleTimeout)) s")
                )
            }
            session.writeFailed(error)
            socket.shutdownWrite()
        } catch {
            session.writeFailed(SystemError("send", errno: EIO))
            socket.shutdownWrite()
        }
        session.writerIsWaiting()
    }

    mutating func flush() throws(SystemError) {
        try output.flush(to: socket)
        lastWrite = monotonicSeconds()
    }
}
