import Framing

// The key handshake of a SenderSession (SPEC.md §13.3): the transcript, the receiver's proof, ours.
extension SenderSession {
    /// The writer sent its preamble and this HELLO record (with `nonce`): the transcript
    /// starts, with the exact bytes sent.
    func startAuthentication(hello: [UInt8], nonce: [UInt8]) {
        locked {
            transcript.append(Preamble().bytes)
            transcript.append(hello)
            clientNonce = nonce
        }
    }

    /// Blocks until the receiver has proved the key; returns our proof to send and the
    /// sealer for everything after it, or `nil` when it did not (the connection's failure
    /// says why).
    func waitForClientProof() -> (AuthProof, RecordSealer)? {
        locked {
            waiters += 1
            defer { waiters -= 1 }
            while !readerDone && failure == nil && clientProof == nil { condition.wait() }
            return failure == nil ? clientProof : nil
        }
    }

    /// Checks the receiver's suite and proof of the key after its WELCOME (`bytes`: the
    /// WELCOME as it arrived), prepares our proof and both directions' record layer.
    func authenticate(
        _ welcome: Welcome,
        bytes: [UInt8],
        key: AuthenticationKey,
        _ reader: inout RecordReader
    ) throws(ReadFailure) {
        func refused(_ text: String) -> ReadFailure { .idle(.authenticationFailed(text)) }
        guard let serverNonce = welcome.parameters.nonce else {
            throw refused("the receiver does not authenticate (it has no key): nothing was sent")
        }
        guard let chosen = welcome.parameters.suites, chosen.count == 1,
            let suite = CipherSuite(rawValue: chosen[0]), CipherSuite.preferred.contains(suite)
        else {
            throw refused(
                "the receiver did not choose one of our cipher suites (a receiver of SPEC 1.1, without the sealed "
                    + "record layer?): nothing was sent"
            )
        }
        locked { transcript.append(bytes) }
        let message: RecordDecoder.Message
        do throws(ReadFailure) {
            message = try nextMeaningful(&reader)
        } catch .idle(.timeout) {
            throw refused("the receiver sent WELCOME but never proved the key (no AUTH): nothing was sent")
        }
        if case .record(.error(let error)) = message {
            // The receiver's fatal ERROR in place of AUTH: we send nothing more (SPEC.md §7.5).
            locked { receiverFailed = true }
            throw .idle(.fromReceiver(code: error.code, message: error.message))
        }
        guard case .record(.auth(let proof)) = message else {
            throw refused("the receiver did not prove the key (no AUTH after WELCOME): nothing was sent")
        }
        let serverAuth = reader.decoder.lastMessageBytes
        let opener = try locked { () throws(ReadFailure) -> RecordOpener in
            guard transcript.verify(proof, .server, key: key) else {
                throw refused("the receiver's proof does not match this key: it is not the receiver you meant")
            }
            transcript.append(serverAuth)
            let ours = transcript.proof(.client, key: key)
            var clientAuth: [UInt8] = []
            try? RecordEncoder.append(.auth(ours), to: &clientAuth)
            transcript.append(clientAuth)
            let secrets = transcript.trafficSecrets(key: key, clientNonce: clientNonce, serverNonce: serverNonce)
            do {
                let opener = try RecordOpener(suite: suite, secret: secrets.server)
                clientProof = (ours, try RecordSealer(suite: suite, secret: secrets.client))
                condition.broadcast()
                return opener
            } catch {
                throw refused("cannot seal records: \(error)")
            }
        }
        reader.startOpening(opener)
        locked { handshakeDeadline = nil }
    }
}
