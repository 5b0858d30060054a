import CXferChecksums

/// HMAC-SHA256 (RFC 2104): a 32-byte authentication code of a message under a secret key.
///
/// xfer's pre-shared-key handshake proves knowledge of the key with it (see issue 8 and
/// SPEC.md). A key of any length works; one longer than the 64-byte block is hashed first,
/// as RFC 2104 says. Compare codes with ``constantTimeEqual(_:_:)``, never with `==`.
///
/// Like ``SHA256``, a value is incremental: ``finalize()`` returns the code of everything
/// fed so far without ending the computation, and a copy forks it. A value holds
/// key-equivalent state; keep it no longer than needed.
public struct HMACSHA256: Sendable {
    /// The size of an authentication code: 32 bytes.
    public static let codeByteCount = Int(XFER_SHA256_DIGEST_SIZE)

    private var context = xfer_hmac_sha256_context()

    /// An authentication code under `key` of no bytes yet, on the best SHA-256
    /// implementation for this CPU.
    public init(key: some Sequence<UInt8>) {
        withContiguousBytes(of: key) { xfer_hmac_sha256_init(&context, $0.baseAddress, $0.count) }
    }

    /// As ``init(key:)``, on the given SHA-256 implementation; `nil` when this CPU cannot
    /// run it. For tests and benchmarks: every implementation gives the same codes.
    public init?(key: some Sequence<UInt8>, implementation: SHA256.Implementation) {
        let status = withContiguousBytes(of: key) {
            xfer_hmac_sha256_init_with(&context, $0.baseAddress, $0.count, implementation.code)
        }
        guard status == 0 else { return nil }
    }

    /// The SHA-256 implementation this code is computed on.
    public var implementation: SHA256.Implementation { SHA256.Implementation(code: context.inner.implementation) }

    /// Feeds the next bytes of the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        xfer_hmac_sha256_update(&context, bytes.baseAddress, bytes.count)
    }

    /// Feeds the next bytes of the message.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        withContiguousBytes(of: bytes) { update($0) }
    }

    /// The 32-byte authentication code of all bytes fed so far; feeding may continue
    /// afterwards. Truncate it (RFC 2104 §5) only to a length both sides agree on.
    public func finalize() -> [UInt8] {
        var copy = context
        return [UInt8](unsafeUninitializedCapacity: Self.codeByteCount) { code, count in
            xfer_hmac_sha256_final(&copy, code.baseAddress!)
            count = Self.codeByteCount
        }
    }

    /// The HMAC-SHA256 of `bytes` under `key`, on the best SHA-256 implementation.
    public static func authenticationCode(for bytes: some Sequence<UInt8>, key: some Sequence<UInt8>) -> [UInt8] {
        withContiguousBytes(of: key) { key in
            withContiguousBytes(of: bytes) { bytes in
                [UInt8](unsafeUninitializedCapacity: codeByteCount) { code, count in
                    xfer_hmac_sha256(key.baseAddress, key.count, bytes.baseAddress, bytes.count, code.baseAddress!)
                    count = codeByteCount
                }
            }
        }
    }
}
