import CXferCrypto

/// Why an AEAD could not be made: the system's libcrypto is missing or refused the key.
public struct CryptoUnavailable: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for people.
    public let description: String
}

/// One key of an AEAD suite (SPEC.md §13.4), backed by the system's libcrypto (OpenSSL 3,
/// loaded at run time): seals and opens in place.
///
/// There is deliberately no tag type and no way to compare tags here: libcrypto checks a
/// tag itself, in constant time, and nothing in xfer ever holds one as a value.
public final class AEAD: @unchecked Sendable {
    // One thread at a time per instance (each direction of a connection has its own): the
    // context keeps per-call state between its nonce and its tag.
    private let context: OpaquePointer
    /// The suite.
    public let suite: CipherSuite

    /// An AEAD for `suite` under a 32-byte `key`.
    /// - Throws: ``CryptoUnavailable`` when libcrypto cannot be loaded or refuses.
    public init(suite: CipherSuite, key: [UInt8]) throws(CryptoUnavailable) {
        precondition(key.count == CipherSuite.keyByteCount, "an AEAD key is 32 bytes")
        guard xfer_crypto_load() == 1 else {
            throw CryptoUnavailable(description: String(cString: xfer_crypto_load_error()))
        }
        guard let context = xfer_aead_new(Int32(suite.rawValue), key) else {
            throw CryptoUnavailable(description: "libcrypto refused to set up \(suite)")
        }
        self.context = context
        self.suite = suite
    }

    deinit { xfer_aead_free(context) }

    /// Whether the system's libcrypto can be loaded, and if not, why.
    public static var unavailableReason: String? {
        xfer_crypto_load() == 1 ? nil : String(cString: xfer_crypto_load_error())
    }

    /// Encrypts `text` in place and writes the 16-byte tag into `tag`.
    public func seal(
        nonce: UnsafeRawBufferPointer,
        additionalData: UnsafeRawBufferPointer,
        text: UnsafeMutableRawBufferPointer,
        tag: UnsafeMutableRawBufferPointer
    ) {
        precondition(nonce.count == CipherSuite.nonceByteCount && tag.count == CipherSuite.tagByteCount)
        let sealed = xfer_aead_seal(
            context,
            nonce.baseAddress?.assumingMemoryBound(to: UInt8.self),
            additionalData.baseAddress?.assumingMemoryBound(to: UInt8.self),
            additionalData.count,
            text.baseAddress?.assumingMemoryBound(to: UInt8.self),
            text.count,
            tag.baseAddress?.assumingMemoryBound(to: UInt8.self)
        )
        precondition(sealed == 1, "libcrypto failed to seal")
    }

    /// Decrypts `text` in place if `tag` verifies; otherwise zeroes it and returns false.
    public func open(
        nonce: UnsafeRawBufferPointer,
        additionalData: UnsafeRawBufferPointer,
        text: UnsafeMutableRawBufferPointer,
        tag: UnsafeRawBufferPointer
    ) -> Bool {
        precondition(nonce.count == CipherSuite.nonceByteCount && tag.count == CipherSuite.tagByteCount)
        return xfer_aead_open(
            context,
            nonce.baseAddress?.assumingMemoryBound(to: UInt8.self),
            additionalData.baseAddress?.assumingMemoryBound(to: UInt8.self),
            additionalData.count,
            text.baseAddress?.assumingMemoryBound(to: UInt8.self),
            text.count,
            tag.baseAddress?.assumingMemoryBound(to: UInt8.self)
        ) == 1
    }

    /// `plaintext` sealed: the ciphertext followed by the tag.
    public func seal(_ plaintext: [UInt8], nonce: [UInt8], additionalData: [UInt8] = []) -> [UInt8] {
        var out = plaintext + [UInt8](repeating: 0, count: CipherSuite.tagByteCount)
        let count = plaintext.count
        nonce.withUnsafeBytes { nonce in
            additionalData.withUnsafeBytes { aad in
                out.withUnsafeMutableBytes { out in
                    seal(
                        nonce: nonce,
                        additionalData: aad,
                        text: UnsafeMutableRawBufferPointer(rebasing: out[..<count]),
                        tag: UnsafeMutableRawBufferPointer(rebasing: out[count...])
                    )
                }
            }
        }
        return out
    }

    /// The plaintext of `sealed` (ciphertext and tag), or `nil` when the tag does not verify.
    public func open(_ sealed: [UInt8], nonce: [UInt8], additionalData: [UInt8] = []) -> [UInt8]? {
        guard sealed.count >= CipherSuite.tagByteCount else { return nil }
        let count = sealed.count - CipherSuite.tagByteCount
        var text = Array(sealed[..<count])
        let tag = Array(sealed[count...])
        let opened = nonce.withUnsafeBytes { nonce in
            additionalData.withUnsafeBytes { aad in
                tag.withUnsafeBytes { tag in
                    text.withUnsafeMutableBytes { text in
                        open(nonce: nonce, additionalData: aad, text: text, tag: tag)
                    }
                }
            }
        }
        return opened ? text : nil
    }
}
