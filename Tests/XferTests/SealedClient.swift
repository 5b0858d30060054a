import Foundation
import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// A raw client that speaks the authenticated handshake of SPEC.md §13 step by step, with
/// or without the key, and then the sealed record layer: for playing clients that guess,
/// replay, skip or send what a real sender never would.
final class SealedClient {
    let raw: RawClient
    private(set) var transcript = AuthenticationTranscript()
    let nonce: [UInt8]
    private(set) var serverNonce: [UInt8] = []
    private(set) var suite = CipherSuite.aes256GCM
    private(set) var serverProof: AuthProof?
    private var decoder = RecordDecoder()
    private var sealer: RecordSealer?
    /// The server's AUTH record as it arrived; in the transcript once we prove the key.
    private var serverAuth: [UInt8] = []

    /// Connects; nothing is sent yet.
    init(port: UInt16, nonce: [UInt8] = randomBytes(32), from source: String? = nil) {
        raw = RawClient(port: port, from: source)
        self.nonce = nonce
    }

    /// Sends the preamble (with `reserved` in its reserved field, which a transcript covers as
    /// sent) and a HELLO with our nonce and `suites`; reads the server's preamble, WELCOME
    /// and AUTH, skipping ignorable records. Returns whether all three came.
    @discardableResult
    func hello(reserved: UInt16 = 0, suites: [CipherSuite]? = CipherSuite.preferred, before: [Record] = []) -> Bool {
        var preamble = Preamble().bytes
        preamble[6] = UInt8(reserved >> 8)
        preamble[7] = UInt8(reserved & 0xFF)
        var hello: [UInt8] = []
        try! RecordEncoder.append(
            .hello(Hello(parameters: [.nonce(nonce)] + (suites.map { [.suites($0)] } ?? []))),
            to: &hello
        )
        raw.send(preamble)
        for record in before { raw.send(record) }
        raw.send(hello)
        transcript.append(preamble)
        transcript.append(hello)
        guard case .preamble? = next(seconds: 5) else { return false }
        transcript.append(decoder.lastMessageBytes)
        guard case .record(.welcome(let welcome))? = nextMeaningful(seconds: 5), let nonce = welcome.parameters.nonce
        else { return false }
        transcript.append(decoder.lastMessageBytes)
        serverNonce = nonce
        if let id = welcome.parameters.suites?.first, let chosen = CipherSuite(rawValue: id) { suite = chosen }
        guard case .record(.auth(let proof))? = nextMeaningful(seconds: 5) else { return false }
        serverProof = proof
        serverAuth = decoder.lastMessageBytes
        return true
    }

    /// Our proof of `key`: over the transcript and the server's AUTH.
    func clientProof(key: AuthenticationKey) -> AuthProof {
        var whole = transcript
        whole.append(serverAuth)
        return whole.proof(.client, key: key)
    }

    /// Sends `proof` as our AUTH (the right one, made with `key`, when `proof` is nil), and
    /// turns the record layer on for both directions with the secrets `key` gives.
    func authenticate(key: AuthenticationKey, proof: AuthProof? = nil) {
        let ours = proof ?? clientProof(key: key)
        transcript.append(serverAuth)
        var auth: [UInt8] = []
        try! RecordEncoder.append(.auth(ours), to: &auth)
        raw.send(auth)
        transcript.append(auth)
        let secrets = transcript.trafficSecrets(key: key, clientNonce: nonce, serverNonce: serverNonce)
        sealer = try! RecordSealer(suite: suite, secret: secrets.client)
        decoder.startOpening(try! RecordOpener(suite: suite, secret: secrets.server))
    }

    /// Sends a record, sealed once ``authenticate(key:proof:)`` was called.
    func send(_ record: Record) {
        raw.send(sealed(record))
    }

    /// The bytes `record` goes out as (sealed after the handshake); advances the sequence.
    func sealed(_ record: Record) -> [UInt8] {
        var bytes: [UInt8] = []
        if sealer != nil {
            try! sealer!.seal(record, appendingTo: &bytes)
        } else {
            try! RecordEncoder.append(record, to: &bytes)
        }
        return bytes
    }

    /// The server's next message within `seconds`, or nil (end of stream, timeout, or a
    /// decoding error, kept in `failure`).
    func next(seconds: Double) -> RecordDecoder.Message? {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(seconds.truncatingRemainder(dividingBy: 1) * 1e6))
        setsockopt(raw.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while true {
            do {
                if let message = try decoder.next() { return message }
            } catch {
                failure = error
                return nil
            }
            let count = decoder.readFrom { space in max(0, recv(raw.fd, space.baseAddress, space.count, 0)) }
            if count == 0 { return nil }
        }
    }

    /// The next message that is not an ignorable record.
    func nextMeaningful(seconds: Double) -> RecordDecoder.Message? {
        while let message = next(seconds: seconds) {
            switch message {
            case .record(.keepAlive), .record(.unknown): continue
            default: return message
            }
        }
        return nil
    }

    /// The server's records up to its GOODBYE, the end of the stream, or `seconds` of silence.
    func records(seconds: Double = 10) -> [Record] {
        var records: [Record] = []
        while records.last != .goodbye, case .record(let record)? = next(seconds: seconds) {
            records.append(record)
        }
        return records
    }

    /// The decoding error that stopped ``next(seconds:)``, if any.
    private(set) var failure: FramingError?
}

/// `count` random bytes.
func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in generator.next() }
}
