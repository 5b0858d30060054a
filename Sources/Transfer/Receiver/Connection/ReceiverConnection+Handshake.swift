import Framing

/// The keyed handshake's I/O: the decisions are ``ReceiverHandshake``'s.
extension ReceiverConnection {
    /// Answers HELLO; with a key, adds our nonce and suite and proves the key (SPEC.md
    /// §13.3), and the connection stays in its handshake until the client's proof holds.
    func welcome(_ hello: Hello) throws {
        guard options.key != nil else {
            try establish()
            writer.enqueue(.welcome(Welcome(parameters: [.agent(agentName)] + grantSession(for: hello))))
            sendSession()
            return
        }
        do {
            writer.enqueue(
                bytes: try handshake.welcome(
                    hello,
                    helloBytes: reader.decoder.lastMessageBytes,
                    serverNonce: randomBytes(AuthProof.byteCount),
                    agent: agentName,
                    extra: grantSession(for: hello)
                )
            )
        } catch {
            throw Stop.fatal(error.code, error.message)
        }
    }

    /// Checks the client's proof (`bytes`: its AUTH record as it arrived). A wrong one is
    /// answered at once with a fatal ERROR `unauthenticated`, unsealed (there is no
    /// verified session to seal it with), and costs its source a penalty: guessing is
    /// slowed by the source's penalty, not by holding a slot (the comparison is constant
    /// time, so answering at once teaches nothing). A right one turns the sealed record
    /// layer on in both directions.
    func authenticate(_ proof: AuthProof, bytes: [UInt8]) throws {
        let session: ReceiverHandshake.Session
        do {
            guard let verified = try handshake.verify(proof, bytes: bytes) else { return }
            session = verified
        } catch {
            if error.code == .unauthenticated {
                note(.notice, detail: "authentication failed: the client's proof does not match this receiver's key")
                handshakeFailure = .authentication
            }
            throw Stop.fatal(error.code, error.message)
        }
        reader.startOpening(session.opener)
        writer.startSealing(session.sealer)
        machine.authenticated()
        try establish()
        // The session's token travels sealed (SPEC.md §16.2).
        sendSession()
    }

    /// The handshake is over: take a slot among the served connections.
    func establish() throws {
        if let refusal = admission.establish() {
            throw Stop.fatal(.busy, refusal)
        }
        established = true
        reader.limitPayload(to: ProtocolLimits.maxPayload)
    }
}
