import Framing

/// The receiver's side of the keyed handshake (SPEC.md §13.3) as a value: the transcript,
/// both nonces and the chosen suite, and the two decisions made from them (what WELCOME and
/// AUTH say; whether the client's proof holds, and then the sealer and opener). It neither
/// reads nor writes: ``ReceiverConnection`` hands it the exact bytes that crossed the wire
/// and sends what it returns, so every rule here is a unit test without a socket.
struct ReceiverHandshake {
    /// Why the handshake cannot go on: a fatal ERROR `code` with `message` (SPEC.md §13).
    struct Failure: Error, Equatable {
        var code: ErrorCode
        var message: String
    }

    /// The opener for the client's records and the sealer for ours, once the proof holds.
    struct Session {
        var opener: RecordOpener
        var sealer: RecordSealer
    }

    /// The pre-shared key; nil when the receiver runs without one (no transcript is kept).
    let key: AuthenticationKey?
    /// The handshake so far, as the exact bytes sent in its fixed order (SPEC.md §13.3):
    /// client preamble, HELLO, server preamble, WELCOME, then each side's AUTH.
    private(set) var transcript = AuthenticationTranscript()
    private(set) var clientNonce: [UInt8] = []
    private(set) var serverNonce: [UInt8] = []
    /// The AEAD suite chosen for the sealed record layer (SPEC.md §13.4).
    private(set) var suite = CipherSuite.aes256GCM

    init(key: AuthenticationKey?) {
        self.key = key
    }

    /// Records the client's preamble (`bytes` as it arrived, reserved field included).
    mutating func receivedPreamble(_ bytes: [UInt8]) {
        if key != nil { transcript.append(bytes) }
    }

    /// Answers HELLO (`helloBytes`: the record as it arrived) with a key: chooses the suite,
    /// adds `serverNonce`, and proves the key.
    ///
    /// - Returns: the WELCOME and AUTH records to send, in one piece.
    /// - Throws: ``Failure`` `unauthenticated` when the HELLO offers no suite, or none in common.
    mutating func welcome(
        _ hello: Hello,
        helloBytes: [UInt8],
        serverNonce: [UInt8],
        agent: String,
        extra: [Parameter] = []
    ) throws(Failure) -> [UInt8] {
        guard let key else { preconditionFailure("a keyless receiver has no keyed handshake") }
        transcript.append(helloBytes)
        guard let offered = hello.parameters.suites else {
            throw Failure(
                code: .unauthenticated,
                message: "this receiver requires the sealed record layer of SPEC 1.2 (the HELLO lists no cipher suites)"
            )
        }
        guard let chosen = CipherSuite.choice(from: offered) else {
            throw Failure(
                code: .unauthenticated,
                message: "no cipher suite in common (this receiver has AES-256-GCM, ChaCha20-Poly1305)"
            )
        }
        suite = chosen
        clientNonce = hello.parameters.nonce ?? []
        self.serverNonce = serverNonce
        var welcome: [UInt8] = []
        var auth: [UInt8] = []
        do {
            try RecordEncoder.append(
                .welcome(Welcome(parameters: [.agent(agent), .nonce(serverNonce), .suites([chosen])] + extra)),
                to: &welcome
            )
            transcript.append(Preamble().bytes)
            transcript.append(welcome)
            try RecordEncoder.append(.auth(transcript.proof(.server, key: key)), to: &auth)
        } catch {
            preconditionFailure("xfer built an invalid record: \(error)")
        }
        transcript.append(auth)
        return welcome + auth
    }

    /// Checks the client's proof (`bytes`: its AUTH record as it arrived); the comparison is
    /// constant time, so a wrong proof may be answered at once.
    ///
    /// - Returns: the opener and sealer of the verified session; nil without a key.
    /// - Throws: ``Failure`` `unauthenticated` for a wrong proof, `internalError` when the
    ///   record layer cannot be set up.
    mutating func verify(_ proof: AuthProof, bytes: [UInt8]) throws(Failure) -> Session? {
        guard let key else { return nil }
        guard transcript.verify(proof, .client, key: key) else {
            throw Failure(code: .unauthenticated, message: "authentication failed: wrong key")
        }
        transcript.append(bytes)
        let secrets = transcript.trafficSecrets(key: key, clientNonce: clientNonce, serverNonce: serverNonce)
        do {
            return Session(
                opener: try RecordOpener(suite: suite, secret: secrets.client),
                sealer: try RecordSealer(suite: suite, secret: secrets.server)
            )
        } catch {
            throw Failure(code: .internalError, message: "cannot seal records: \(error)")
        }
    }
}
