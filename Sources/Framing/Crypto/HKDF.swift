import CXferChecksums

/// HKDF with HMAC-SHA256 (RFC 5869): derives keys from input key material.
///
/// ``extract(salt:inputKeyMaterial:)`` concentrates the material into a 32-byte
/// pseudorandom key; ``expand(pseudorandomKey:info:outputByteCount:)`` stretches that into
/// as many bytes as needed, separated by `info` (for example one key per direction or
/// purpose); ``derive(inputKeyMaterial:salt:info:outputByteCount:)`` does both. xfer uses it
/// for the session key that binds a pre-shared-key handshake to the rest of the connection.
public enum HKDF {
    /// The most bytes ``expand(pseudorandomKey:info:outputByteCount:)`` can produce:
    /// 255 × 32 = 8160 (RFC 5869 §2.3).
    public static let maximumOutputByteCount = Int(XFER_HKDF_SHA256_MAXIMUM_OUTPUT)

    /// HKDF-Extract: the 32-byte pseudorandom key HMAC-SHA256(`salt`, `inputKeyMaterial`).
    /// An empty salt acts as 32 zero bytes (RFC 5869 §2.2).
    public static func extract(salt: some Sequence<UInt8>, inputKeyMaterial: some Sequence<UInt8>) -> [UInt8] {
        withContiguousBytes(of: salt) { salt in
            withContiguousBytes(of: inputKeyMaterial) { material in
                [UInt8](unsafeUninitializedCapacity: SHA256.digestByteCount) { key, count in
                    xfer_hkdf_sha256_extract(
                        salt.baseAddress,
                        salt.count,
                        material.baseAddress,
                        material.count,
                        key.baseAddress!
                    )
                    count = SHA256.digestByteCount
                }
            }
        }
    }

    /// HKDF-Expand: `outputByteCount` bytes derived from `pseudorandomKey` (normally the
    /// result of ``extract(salt:inputKeyMaterial:)``) and `info`.
    /// - Precondition: `outputByteCount` is in 0...``maximumOutputByteCount``.
    public static func expand(
        pseudorandomKey: some Sequence<UInt8>,
        info: some Sequence<UInt8>,
        outputByteCount: Int
    ) -> [UInt8] {
        precondition(
            (0...maximumOutputByteCount).contains(outputByteCount),
            "HKDF-SHA256 output must be 0...\(maximumOutputByteCount) bytes"
        )
        return withContiguousBytes(of: pseudorandomKey) { key in
            withContiguousBytes(of: info) { info in
                [UInt8](unsafeUninitializedCapacity: outputByteCount) { output, count in
                    let status = xfer_hkdf_sha256_expand(
                        key.baseAddress,
                        key.count,
                        info.baseAddress,
                        info.count,
                        output.baseAddress,
                        outputByteCount
                    )
                    precondition(status == 0)
                    count = outputByteCount
                }
            }
        }
    }

    /// Extract then expand: `outputByteCount` bytes derived from `inputKeyMaterial`,
    /// `salt` and `info`.
    /// - Precondition: `outputByteCount` is in 0...``maximumOutputByteCount``.
    public static func derive(
        inputKeyMaterial: some Sequence<UInt8>,
        salt: some Sequence<UInt8>,
        info: some Sequence<UInt8>,
        outputByteCount: Int
    ) -> [UInt8] {
        expand(
            pseudorandomKey: extract(salt: salt, inputKeyMaterial: inputKeyMaterial),
            info: info,
            outputByteCount: outputByteCount
        )
    }
}
