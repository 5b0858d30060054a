/// AUTH's payload: a 32-byte HMAC-SHA256 proof of the pre-shared key (SPEC.md §13).
///
/// Not `Equatable`, on purpose: a proof is checked only by
/// ``AuthenticationTranscript/verify(_:_:key:)``, in constant time; `==` on a proof does not
/// compile, so no caller can compare one in time that tells a guesser how much was right.
public struct AuthProof: Sendable {
    /// Bytes of a proof, a nonce and a key.
    public static let byteCount = 32

    /// The proof's bytes, as sent in AUTH.
    public let code: [UInt8]

    /// A proof; `nil` unless `code` is 32 bytes.
    public init?(code: [UInt8]) {
        guard code.count == AuthProof.byteCount else { return nil }
        self.code = code
    }

    init(unchecked code: [UInt8]) { self.code = code }
}
