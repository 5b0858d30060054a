import CXferCrypto

/// An AEAD suite for the sealed record layer (SPEC.md §13), by its wire id: the client
/// lists the suites it accepts in HELLO, the server names its choice in WELCOME.
public enum CipherSuite: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// AES-256 in Galois/Counter Mode (NIST SP 800-38D): 32-byte key, 12-byte nonce, 16-byte tag.
    case aes256GCM = 1
    /// ChaCha20-Poly1305 (RFC 8439): 32-byte key, 12-byte nonce, 16-byte tag.
    case chacha20Poly1305 = 2

    /// Bytes of a key, a nonce and a tag, the same for both suites.
    public static let keyByteCount = 32
    /// Bytes of a nonce.
    public static let nonceByteCount = 12
    /// Bytes of an authentication tag.
    public static let tagByteCount = 16

    /// The suites this machine offers, best first: AES-256-GCM where the CPU has AES and
    /// carry-less multiply instructions (fast and constant-time there), else ChaCha20-Poly1305,
    /// which is fast and constant-time in software.
    public static var preferred: [CipherSuite] {
        xfer_cpu_has_aes() == 1 ? [.aes256GCM, .chacha20Poly1305] : [.chacha20Poly1305, .aes256GCM]
    }

    /// The server's choice (SPEC.md §13.2): the first suite of the client's list that this
    /// implementation has; `nil` when there is none.
    public static func choice(from offered: [UInt16]) -> CipherSuite? {
        offered.lazy.compactMap(CipherSuite.init(rawValue:)).first
    }

    /// The suite's name as SPEC.md writes it.
    public var description: String {
        switch self {
        case .aes256GCM: return "AES-256-GCM"
        case .chacha20Poly1305: return "ChaCha20-Poly1305"
        }
    }
}
