import CXferChecksums

/// SHA-256 (FIPS 180-4): a 32-byte cryptographic digest.
///
/// The base of xfer's pre-shared-key authentication (through ``HMACSHA256`` and ``HKDF``).
/// The default implementation uses the x86 SHA extensions (SHA-NI) when the CPU has them,
/// chosen once at run time, and portable C otherwise; both give the same digests.
///
/// A value is incremental: ``update(_:)`` feeds the next bytes and ``finalize()`` returns
/// the digest of everything fed so far without ending the computation, so a running
/// transcript can be hashed at several points. Copying a value forks the computation.
public struct SHA256: Sendable {
    /// The compression function a hash runs on.
    public enum Implementation: Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Plain C, on any CPU.
        case portable
        /// The x86 SHA extensions (sha256rnds2, sha256msg1, sha256msg2); only on CPUs that
        /// have them (see ``SHA256/isHardwareAccelerated``).
        case hardware

        /// "portable" or "SHA-NI".
        public var description: String {
            switch self {
            case .portable: "portable"
            case .hardware: "SHA-NI"
            }
        }

        var code: Int32 { self == .portable ? XFER_SHA256_PORTABLE : XFER_SHA256_HARDWARE }

        init(code: UInt32) { self = code == UInt32(XFER_SHA256_HARDWARE) ? .hardware : .portable }
    }

    /// The size of a digest: 32 bytes.
    public static let digestByteCount = Int(XFER_SHA256_DIGEST_SIZE)

    /// The size of the blocks SHA-256 works on: 64 bytes.
    public static let blockByteCount = Int(XFER_SHA256_BLOCK_SIZE)

    /// Whether this CPU has the SHA extensions, so that ``init()`` uses
    /// ``Implementation/hardware``.
    public static var isHardwareAccelerated: Bool { xfer_sha256_hardware_available() != 0 }

    /// The implementations this CPU can run: ``Implementation/portable`` always, and
    /// ``Implementation/hardware`` where present. For tests and benchmarks.
    public static var availableImplementations: [Implementation] {
        isHardwareAccelerated ? [.portable, .hardware] : [.portable]
    }

    private var context = xfer_sha256_context()

    /// A hash of no bytes yet, on the best implementation for this CPU.
    public init() {
        xfer_sha256_init(&context)
    }

    /// A hash of no bytes yet, on the given implementation; `nil` when this CPU cannot run
    /// it. For tests and benchmarks: every implementation gives the same digests.
    public init?(implementation: Implementation) {
        guard xfer_sha256_init_with(&context, implementation.code) == 0 else { return nil }
    }

    /// The implementation this hash runs on.
    public var implementation: Implementation { Implementation(code: context.implementation) }

    /// Feeds the next bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        xfer_sha256_update(&context, bytes.baseAddress, bytes.count)
    }

    /// Feeds the next bytes.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        withContiguousBytes(of: bytes) { update($0) }
    }

    /// The 32-byte digest of all bytes fed so far; feeding may continue afterwards.
    public func finalize() -> [UInt8] {
        var copy = context
        return [UInt8](unsafeUninitializedCapacity: Self.digestByteCount) { digest, count in
            xfer_sha256_final(&copy, digest.baseAddress!)
            count = Self.digestByteCount
        }
    }

    /// The SHA-256 digest of `bytes`, on the best implementation for this CPU.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: digestByteCount) { digest, count in
            xfer_sha256(bytes.baseAddress, bytes.count, digest.baseAddress!)
            count = digestByteCount
        }
    }

    /// The SHA-256 digest of `bytes`, on the best implementation for this CPU.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        withContiguousBytes(of: bytes) { hash($0) }
    }
}
