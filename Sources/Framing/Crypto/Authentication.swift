/// A pre-shared key: 32 bytes, written in files as `xfer-key-1 ` and 64 lower-case hex
/// digits (SPEC.md §13.6). Not `Equatable`: it is a secret.
public struct AuthenticationKey: Sendable {
    /// The key's bytes.
    public let bytes: [UInt8]

    /// A key from 32 bytes; `nil` for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == AuthProof.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses the text form strictly: `xfer-key-1`, one space, 64 lower-case hex digits, and
    /// at most one final newline. Anything else (upper case, other white space, CR, a blank
    /// line) is `nil`, so that every implementation reads a key file the same way.
    public init?(text: String) {
        var bytes = Array(text.utf8)
        if bytes.last == 0x0A { bytes.removeLast() }
        let prefix = Array((AuthenticationKey.textPrefix + " ").utf8)
        guard bytes.count == prefix.count + 64, bytes.starts(with: prefix) else { return nil }
        var key: [UInt8] = []
        for index in stride(from: prefix.count, to: bytes.count, by: 2) {
            guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return nil }
            key.append(high << 4 | low)
        }
        self.bytes = key
    }

    /// The text form: `xfer-key-1 <64 lower-case hex digits>` and a newline.
    public var text: String {
        AuthenticationKey.textPrefix + " " + bytes.map { hex($0, width: 2) }.joined() + "\n"
    }

    private static let textPrefix = "xfer-key-1"
}

/// A lower-case hex digit's value (upper case is not accepted: SPEC.md §13.6).
private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case 0x30...0x39: return digit - 0x30
    case 0x61...0x66: return digit - 0x61 + 10
    default: return nil
    }
}

/// The transcript of an authenticated handshake and what is derived from it (SPEC.md
/// §13.3). Both sides feed it the **exact bytes** that crossed the wire, in the same order —
/// the client's preamble and HELLO, the server's preamble and WELCOME, then the server's and
/// the client's AUTH — never a re-encoding, so reserved bits and unknown parameters are
/// covered as sent. Ignorable records in between are not part of it.
///
/// ```
/// proof_s = HMAC(key, "xfer-1.2 server proof" || SHA-256(T))
/// proof_c = HMAC(key, "xfer-1.2 client proof" || SHA-256(T || AUTH_s))
/// h       = SHA-256(T || AUTH_s || AUTH_c)
/// <role>_key = HKDF(salt: nonce_c || nonce_s, ikm: key, info: "xfer-1.2 <role> key" || h, 32)
/// <role>_iv  = HKDF(salt: nonce_c || nonce_s, ikm: key, info: "xfer-1.2 <role> iv"  || h, 12)
/// ```
public struct AuthenticationTranscript: Sendable {
    /// Which side speaks: proofs and traffic keys carry the role in their labels, so a proof
    /// cannot be reflected and the two directions never share a key or a nonce.
    public enum Role: String, Sendable {
        case server, client
    }

    private var hash = SHA256()

    /// An empty transcript.
    public init() {}

    /// Adds bytes exactly as they crossed the wire (a preamble, or a whole record: header,
    /// payload).
    public mutating func append(_ bytes: some Sequence<UInt8>) { hash.update(Array(bytes)) }

    /// The hash of the transcript so far.
    public var digest: [UInt8] { hash.finalize() }

    /// The proof that `role` knows `key`, over the transcript so far.
    public func proof(_ role: Role, key: AuthenticationKey) -> AuthProof {
        var mac = HMACSHA256(key: key.bytes)
        mac.update(Array("xfer-1.2 \(role.rawValue) proof".utf8))
        mac.update(hash.finalize())
        return AuthProof(unchecked: mac.finalize())
    }

    /// Whether `proof` is `role`'s proof of `key` over the transcript so far (compared in
    /// constant time).
    public func verify(_ proof: AuthProof, _ role: Role, key: AuthenticationKey) -> Bool {
        constantTimeEqual(proof.code, self.proof(role, key: key).code)
    }

    /// Both directions' traffic secrets, once both AUTH records are in the transcript.
    public func trafficSecrets(
        key: AuthenticationKey,
        clientNonce: [UInt8],
        serverNonce: [UInt8]
    ) -> (client: TrafficSecret, server: TrafficSecret) {
        let h = hash.finalize()
        func derive(_ role: Role) -> TrafficSecret {
            func expand(_ what: String, _ count: Int) -> [UInt8] {
                HKDF.derive(
                    inputKeyMaterial: key.bytes,
                    salt: clientNonce + serverNonce,
                    info: Array("xfer-1.2 \(role.rawValue) \(what)".utf8) + h,
                    outputByteCount: count
                )
            }
            return TrafficSecret(
                key: expand("key", CipherSuite.keyByteCount),
                iv: expand("iv", CipherSuite.nonceByteCount)
            )
        }
        return (derive(.client), derive(.server))
    }
}

/// One direction's key and nonce base for the sealed record layer (SPEC.md §13.4): what
/// the client's records are sealed with, or the server's. Not `Equatable`: it is a secret.
public struct TrafficSecret: Sendable {
    /// The AEAD key, 32 bytes.
    public let key: [UInt8]
    /// The base the per-record nonce is made from, 12 bytes.
    public let iv: [UInt8]

    /// A traffic secret from its parts.
    public init(key: [UInt8], iv: [UInt8]) {
        precondition(key.count == CipherSuite.keyByteCount && iv.count == CipherSuite.nonceByteCount)
        self.key = key
        self.iv = iv
    }

    /// The nonce of record `sequence`: the IV with the sequence, big-endian, XORed into its
    /// last 8 bytes. Distinct for every record of a direction, so a nonce is never reused.
    func nonce(_ sequence: UInt64) -> [UInt8] {
        var nonce = iv
        for index in 0..<8 { nonce[4 + index] ^= UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(index))) }
        return nonce
    }
}
