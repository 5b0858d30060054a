/// AUTH's payload: a 32-byte HMAC-SHA256 proof of the pre-shared key (SPEC.md §13).
public struct AuthProof: Hashable, Sendable {
    /// Bytes of a proof, a seal's code, a nonce and a key.
    public static let byteCount = 32

    /// The proof.
    public var code: [UInt8]

    /// A proof; `nil` unless `code` is 32 bytes.
    public init?(code: [UInt8]) {
        guard code.count == AuthProof.byteCount else { return nil }
        self.code = code
    }

    init(unchecked code: [UInt8]) { self.code = code }
}

/// SEAL's payload: the sequence number of the sealed record and its MAC (SPEC.md §13).
public struct Seal: Hashable, Sendable {
    /// Counts the receiver's sealed records on this connection, from 0.
    public var sequence: UInt64
    /// HMAC-SHA256 under the session key over a label, the sequence and the sealed record.
    public var code: [UInt8]

    /// A seal.
    public init(sequence: UInt64, code: [UInt8]) {
        self.sequence = sequence
        self.code = code
    }
}

/// A pre-shared key: 32 bytes, written in files as `xfer-key-1 ` and 64 hex digits.
public struct AuthenticationKey: Sendable, Equatable {
    /// The key's bytes.
    public let bytes: [UInt8]

    /// A key from 32 bytes; `nil` for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == AuthProof.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses the text form (surrounding white space allowed); `nil` if it is not one.
    public init?(text: String) {
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" })
        guard trimmed.count == 2, trimmed[0] == AuthenticationKey.textPrefix else { return nil }
        let digits = Array(trimmed[1].utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.bytes = bytes
    }

    /// The text form: `xfer-key-1 <64 lower-case hex digits>` and a newline.
    public var text: String {
        AuthenticationKey.textPrefix + " " + bytes.map { hex($0, width: 2) }.joined() + "\n"
    }

    private static let textPrefix = "xfer-key-1"
}

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case 0x30...0x39: return digit - 0x30
    case 0x61...0x66: return digit - 0x61 + 10
    case 0x41...0x46: return digit - 0x41 + 10
    default: return nil
    }
}

/// The transcript of an authenticated handshake and the proofs and keys derived from it
/// (SPEC.md §13). Both sides feed it the same bytes in the same order — the client's
/// preamble and HELLO, the server's preamble and WELCOME, then the server's AUTH — so a
/// proof covers everything said so far and holds only on this connection.
///
/// ```
/// server proof  = HMAC(key, "xfer-1.1 server proof" || SHA-256(transcript to WELCOME))
/// client proof  = HMAC(key, "xfer-1.1 client proof" || SHA-256(transcript to server AUTH))
/// session key   = HKDF(salt: client nonce || server nonce, key,
///                      info: "xfer-1.1 session" || SHA-256(transcript to client AUTH))
/// seal code     = HMAC(session key, "xfer-1.1 seal" || u64 sequence || sealed record bytes)
/// ```
public struct AuthenticationTranscript: Sendable {
    /// Which side a proof speaks for: the labels differ, so a proof cannot be reflected.
    public enum Role: Sendable {
        case server, client

        var label: [UInt8] { Array((self == .server ? "xfer-1.1 server proof" : "xfer-1.1 client proof").utf8) }
    }

    private var hash = SHA256()

    /// An empty transcript.
    public init() {}

    /// Adds bytes as they were sent (a preamble).
    public mutating func append(_ bytes: [UInt8]) { hash.update(bytes) }

    /// Adds a record as it is encoded on the wire (header, payload, CRC): encodings are
    /// canonical, so the receiving side re-encodes what it decoded and gets the same bytes.
    public mutating func append(_ record: Record) {
        var bytes: [UInt8] = []
        try? RecordEncoder.append(record, to: &bytes)
        hash.update(bytes)
    }

    /// The proof that `role` knows `key`, over the transcript so far.
    public func proof(_ role: Role, key: AuthenticationKey) -> AuthProof {
        var mac = HMACSHA256(key: key.bytes)
        mac.update(role.label)
        mac.update(hash.finalize())
        return AuthProof(unchecked: mac.finalize())
    }

    /// Whether `proof` is `role`'s proof of `key` over the transcript so far (compared in
    /// constant time).
    public func verify(_ proof: AuthProof, _ role: Role, key: AuthenticationKey) -> Bool {
        constantTimeEqual(proof.code, self.proof(role, key: key).code)
    }

    /// The connection's session key, once both proofs are in the transcript.
    public func sessionKey(key: AuthenticationKey, clientNonce: [UInt8], serverNonce: [UInt8]) -> [UInt8] {
        HKDF.derive(
            inputKeyMaterial: key.bytes,
            salt: clientNonce + serverNonce,
            info: Array("xfer-1.1 session".utf8) + hash.finalize(),
            outputByteCount: 32
        )
    }
}

/// Seals the receiver's records under a session key, or checks their seals, in order
/// (SPEC.md §13). Each side keeps one; the sequence numbers must match.
public struct RecordSealer: Sendable {
    private let key: [UInt8]
    /// The sequence number of the next seal.
    public private(set) var sequence: UInt64 = 0

    /// A sealer for a session key.
    public init(sessionKey: [UInt8]) { key = sessionKey }

    /// Whether `record` must be sealed: every record a sender acts on (ANSWER, ACK, ERROR,
    /// GOODBYE). PROGRESS and KEEPALIVE are informational and go unsealed.
    public static func needsSeal(_ record: Record) -> Bool {
        switch record {
        case .answer, .ack, .error, .goodbye: return true
        default: return false
        }
    }

    private func code(for record: Record, sequence: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        try? RecordEncoder.append(record, to: &bytes)
        var mac = HMACSHA256(key: key)
        mac.update(Array("xfer-1.1 seal".utf8))
        var number: [UInt8] = []
        number.appendBigEndian(sequence)
        mac.update(number)
        mac.update(bytes)
        return mac.finalize()
    }

    /// The SEAL to send right after `record`.
    public mutating func seal(_ record: Record) -> Seal {
        defer { sequence &+= 1 }
        return Seal(sequence: sequence, code: code(for: record, sequence: sequence))
    }

    /// Whether `seal` is the next seal, and seals `record`; advances on success only.
    public mutating func verify(_ seal: Seal, of record: Record) -> Bool {
        guard seal.sequence == sequence, constantTimeEqual(seal.code, code(for: record, sequence: sequence)) else {
            return false
        }
        sequence &+= 1
        return true
    }
}
