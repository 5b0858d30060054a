import Foundation
import Framing
import Testing

/// Every test of SHA-256, HMAC-SHA256 and HKDF-SHA256 runs on each implementation this CPU
/// has: the portable C code always, and the SHA-NI code where present.
private let implementations = SHA256.availableImplementations

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func digest(_ message: [UInt8], on implementation: SHA256.Implementation) -> [UInt8] {
    var hash = SHA256(implementation: implementation)!
    hash.update(message)
    return hash.finalize()
}

private func code(_ message: [UInt8], key: [UInt8], on implementation: SHA256.Implementation) -> [UInt8] {
    var mac = HMACSHA256(key: key, implementation: implementation)!
    mac.update(message)
    return mac.finalize()
}

@Suite struct SHA256Tests {
    /// NIST's FIPS 180 examples: "abc" and the 448-bit two-block message (FIPS 180-2
    /// appendix B.1 and B.2); the 896-bit message is the SHA-384/512 example, its SHA-256 as
    /// published in the usual SHA-2 vector lists (confirmed with Python's hashlib).
    static let fips: [(String, [UInt8], String)] = [
        ("empty", [], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", bytes("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "448 bits", bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "896 bits",
            bytes(
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
            ),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
    ]

    @Test("FIPS 180-4 examples", arguments: fips, implementations)
    func fipsExamples(example: (String, [UInt8], String), implementation: SHA256.Implementation) {
        let (name, message, expected) = example
        #expect(hexString(digest(message, on: implementation)) == expected, "\(name)")
        #expect(hexString(SHA256.hash(message)) == expected, "\(name)")
    }

    /// FIPS 180-2 appendix B.3: one million repetitions of "a".
    @Test("FIPS 180-4: one million 'a'", arguments: implementations)
    func oneMillionA(implementation: SHA256.Implementation) {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let message = [UInt8](repeating: 0x61, count: 1_000_000)
        #expect(hexString(digest(message, on: implementation)) == expected)
        // Fed in pieces that are not a multiple of the block size.
        var hash = SHA256(implementation: implementation)!
        var offset = 0
        while offset < message.count {
            let end = min(offset + 997, message.count)
            hash.update(message[offset..<end])
            offset = end
        }
        #expect(hexString(hash.finalize()) == expected)
    }

    /// From NIST's byte-oriented SHAVS file SHA256ShortMsg.rsp: the lengths where the
    /// padding fits in the last block (55 bytes), just does not (56), and the block edges.
    static let nistShortMessages: [(Int, String, String)] = [
        (0, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (8, "9e", "35af2d15ebde4d67b29569ec19749e813c76f02286afc5a2a9871c2bfbdaab32"),
        (
            440,
            "177df9f1768f798c8ec59a1f36ed02856a62b090403090511e794d932b1867a90383856aaff60c79d4cef0ca2a33cb6130f92c5d1fc831",
            "34416b20eef5474b6602ef98fb0b5f018086805b7b2df3ef1d4635502f631642"
        ),
        (
            448,
            "08f645ff0f9a765593bd419ff60a308d3b4e70e816388577455d3c1f237ee14d7b0eb3999aef95a3a87d064138cd53dd1d360b187f11b4b3",
            "76f082a9a8e45c02a376ee1b42629cfb5db30e0ba1632f19cd28c96363f9da66"
        ),
        (
            504,
            "c3e81f34b716b165addda4fce195ba39e3a496ccf44f3746b3d0c0cef9a87a1501361b8ccc8949d4c3735a759fde5ed486635f5f7619e70be7abc300acae07",
            "2775a3f9bb46a4fda00eef650b45db52a8e8c948b6eff3b7a8206544de4f3ba0"
        ),
        (
            512,
            "3d007ab1483de3511ce9a7edc7a9610bcacac0ec6f3d7cb45de08fcc6a00a185b01bc4fee3ea6147e29e72c68b6bf2dad44392bf17e4aeb2ae147f55c02b9254",
            "b9e850d487a74e6b8e07330b7648b6c1aa84cdcc16b238c96d47613de313e2f9"
        ),
    ]

    @Test("NIST SHAVS short messages", arguments: nistShortMessages, implementations)
    func nistShortMessage(vector: (Int, String, String), implementation: SHA256.Implementation) {
        let (bits, message, expected) = vector
        #expect(hexBytes(message).count * 8 == bits)
        #expect(hexString(digest(hexBytes(message), on: implementation)) == expected, "Len = \(bits)")
    }

    /// n × "a" at every length where padding changes shape: the length field fits after
    /// the 0x80 byte (55, 119), needs another block (56, 120), and the block edges. Digests
    /// from Python's hashlib, confirmed with coreutils sha256sum.
    static let paddingEdges: [(Int, String)] = [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
        (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
        (127, "c57e9278af78fa3cab38667bef4ce29d783787a2f731d4e12200270f0c32320a"),
        (128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"),
    ]

    @Test("Padding edges: 55, 56, 63, 64, 65, 119, 120, 127, 128 bytes", arguments: paddingEdges, implementations)
    func paddingEdge(vector: (Int, String), implementation: SHA256.Implementation) {
        let (length, expected) = vector
        let message = [UInt8](repeating: 0x61, count: length)
        #expect(hexString(digest(message, on: implementation)) == expected, "\(length) bytes")
    }

    /// A split message gives the one-shot digest wherever it is split: in two at every
    /// offset, in three at every pair of offsets (for a short message), and byte by byte.
    @Test("Incremental updates split at every offset equal one-shot", arguments: implementations)
    func everySplitEqualsOneShot(implementation: SHA256.Implementation) {
        var generator = SplitMix64(seed: 7)
        for length in [1, 55, 56, 63, 64, 65, 127, 128, 129, 200, 300] {
            let message = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let whole = SHA256.hash(message)
            for split in 0...length {
                var hash = SHA256(implementation: implementation)!
                hash.update(message[..<split])
                hash.update(message[split...])
                #expect(hash.finalize() == whole, "length \(length) split at \(split)")
            }
            var oneByOne = SHA256(implementation: implementation)!
            for byte in message { oneByOne.update([byte]) }
            #expect(oneByOne.finalize() == whole, "length \(length) byte by byte")
        }
        let message = (0..<130).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let whole = SHA256.hash(message)
        for first in 0...message.count {
            for second in first...message.count {
                var hash = SHA256(implementation: implementation)!
                hash.update(message[..<first])
                hash.update(message[first..<second])
                hash.update(message[second...])
                if hash.finalize() != whole { Issue.record("split at \(first) and \(second)") }
            }
        }
    }

    @Test("finalize() leaves the hash running; a copy forks it", arguments: implementations)
    func finalizeDoesNotEndTheHash(implementation: SHA256.Implementation) {
        var hash = SHA256(implementation: implementation)!
        hash.update(bytes("ab"))
        let fork = hash
        #expect(hash.finalize() == SHA256.hash(bytes("ab")))
        #expect(hash.finalize() == SHA256.hash(bytes("ab")))
        hash.update(bytes("c"))
        #expect(hexString(hash.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(fork.finalize() == SHA256.hash(bytes("ab")))
    }

    @Test func rawBuffersAndNonContiguousSequences() {
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        #expect(hexString(SHA256.hash("abc".utf8)) == expected)
        #expect(hexString(SHA256.hash([97, 98, 99].lazy.map { UInt8($0) })) == expected)
        #expect(hexString(bytes("abc").withUnsafeBytes { SHA256.hash($0) }) == expected)
        var hash = SHA256()
        bytes("abc").withUnsafeBytes { hash.update($0) }
        #expect(hexString(hash.finalize()) == expected)
        #expect(SHA256.digestByteCount == 32 && SHA256.blockByteCount == 64)
    }

    @Test func implementationSelection() {
        #expect(SHA256(implementation: .portable)?.implementation == .portable)
        #expect((SHA256(implementation: .hardware) != nil) == SHA256.isHardwareAccelerated)
        #expect(SHA256().implementation == (SHA256.isHardwareAccelerated ? .hardware : .portable))
        #expect(HMACSHA256(key: [1], implementation: .portable)?.implementation == .portable)
        #expect(HMACSHA256(key: [1]).implementation == SHA256().implementation)
        #expect(implementations.contains(.portable))
    }

    /// The run-time detection agrees with the kernel's view of the CPU, so a machine with
    /// SHA-NI really tests (and benchmarks) it.
    @Test func hardwareDetectionAgreesWithProcCpuinfo() throws {
        #if arch(x86_64) && os(Linux)
            let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
            let words = Set(flags.split(separator: " "))
            #expect(SHA256.isHardwareAccelerated == (words.contains("sha_ni") && words.contains("sse4_1")))
        #else
            #expect(!SHA256.isHardwareAccelerated)
        #endif
    }
}

@Suite struct HMACSHA256Tests {
    /// RFC 4231 §4.2–4.8. Case 5's code is truncated to 128 bits; 6 and 7 have a 131-byte
    /// key, longer than the block, so it is hashed first.
    static let rfc4231: [(Int, [UInt8], [UInt8], String)] = [
        (
            1, [UInt8](repeating: 0x0B, count: 20), bytes("Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            2, bytes("Jefe"), bytes("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            3, [UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        (
            4, Array(1...25), [UInt8](repeating: 0xCD, count: 50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        (5, [UInt8](repeating: 0x0C, count: 20), bytes("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"),
        (
            6, [UInt8](repeating: 0xAA, count: 131), bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        (
            7, [UInt8](repeating: 0xAA, count: 131),
            bytes(
                "This is a test using a larger than block-size key and a larger than block-size data. "
                    + "The key needs to be hashed before being used by the HMAC algorithm."
            ),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ]

    @Test("RFC 4231 test cases 1–7", arguments: rfc4231, implementations)
    func rfc4231Case(vector: (Int, [UInt8], [UInt8], String), implementation: SHA256.Implementation) {
        let (number, key, message, expected) = vector
        let truncated = expected.count / 2  // case 5 gives only the first 16 bytes
        let incremental = code(message, key: key, on: implementation)
        #expect(incremental.count == HMACSHA256.codeByteCount)
        #expect(hexString(Array(incremental.prefix(truncated))) == expected, "case \(number)")
        let oneShot = HMACSHA256.authenticationCode(for: message, key: key)
        #expect(hexString(Array(oneShot.prefix(truncated))) == expected, "case \(number)")
    }

    @Test("HMAC incremental updates split at every offset equal one-shot", arguments: implementations)
    func everySplitEqualsOneShot(implementation: SHA256.Implementation) {
        var generator = SplitMix64(seed: 11)
        for (length, keyLength) in [(0, 0), (1, 64), (63, 65), (64, 32), (65, 131), (200, 1)] {
            let message = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let key = (0..<keyLength).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let whole = HMACSHA256.authenticationCode(for: message, key: key)
            for split in 0...length {
                var mac = HMACSHA256(key: key, implementation: implementation)!
                mac.update(message[..<split])
                mac.update(message[split...])
                #expect(mac.finalize() == whole, "length \(length) key \(keyLength) split at \(split)")
            }
        }
    }

    @Test("HMAC finalize() leaves the code running")
    func finalizeDoesNotEndTheCode() {
        var mac = HMACSHA256(key: bytes("Jefe"))
        mac.update(bytes("what do ya want "))
        let early = mac.finalize()
        #expect(early == HMACSHA256.authenticationCode(for: bytes("what do ya want "), key: bytes("Jefe")))
        #expect(mac.finalize() == early)
        mac.update(bytes("for nothing?"))
        #expect(hexString(mac.finalize()) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    /// A key of up to 64 bytes is zero-padded, so a key and the same key with zeros
    /// appended up to 64 bytes give the same code (RFC 2104); past 64 the key is hashed.
    @Test("HMAC key padding and hashing")
    func keyPaddingAndHashing() {
        let message = bytes("message")
        let key = bytes("key")
        #expect(
            HMACSHA256.authenticationCode(for: message, key: key)
                == HMACSHA256.authenticationCode(for: message, key: key + [UInt8](repeating: 0, count: 61))
        )
        let long = [UInt8](repeating: 0x42, count: 65)
        #expect(
            HMACSHA256.authenticationCode(for: message, key: long)
                == HMACSHA256.authenticationCode(for: message, key: SHA256.hash(long))
        )
    }

    @Test("HMAC constantTimeEqual")
    func constantTimeComparison() {
        let a = HMACSHA256.authenticationCode(for: bytes("a"), key: bytes("k"))
        #expect(constantTimeEqual(a, a))
        #expect(constantTimeEqual(a, Array(a)[...]))
        #expect(constantTimeEqual([UInt8](), [UInt8]()))
        for index in a.indices {
            for bit in 0..<8 {
                var b = a
                b[index] ^= 1 << bit
                #expect(!constantTimeEqual(a, b), "byte \(index) bit \(bit)")
            }
        }
        #expect(!constantTimeEqual(a, a.dropLast()))
        #expect(!constantTimeEqual(a.dropLast(), a))
        #expect(!constantTimeEqual([UInt8](), [0]))
        #expect(constantTimeEqual([1, 2, 3].lazy.map { UInt8($0) }, [1, 2, 3]))
    }
}

@Suite struct HKDFTests {
    /// RFC 5869 appendix A.1–A.3 (SHA-256): (input key material, salt, info, L, PRK, OKM).
    static let rfc5869: [(Int, [UInt8], [UInt8], [UInt8], String, String)] = [
        (
            1, [UInt8](repeating: 0x0B, count: 22), Array(0...0x0C), Array(0xF0...0xF9),
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        ),
        (
            2, Array(0...0x4F), Array(0x60...0xAF), Array(0xB0...0xFF),
            "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"
        ),
        (
            3, [UInt8](repeating: 0x0B, count: 22), [], [],
            "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        ),
    ]

    @Test("RFC 5869 test cases 1–3", arguments: rfc5869)
    func rfc5869Case(vector: (Int, [UInt8], [UInt8], [UInt8], String, String)) {
        let (number, material, salt, info, prk, okm) = vector
        let key = HKDF.extract(salt: salt, inputKeyMaterial: material)
        #expect(hexString(key) == prk, "case \(number)")
        let length = okm.count / 2
        #expect(
            hexString(HKDF.expand(pseudorandomKey: key, info: info, outputByteCount: length)) == okm,
            "case \(number)"
        )
        let derived = HKDF.derive(inputKeyMaterial: material, salt: salt, info: info, outputByteCount: length)
        #expect(hexString(derived) == okm, "case \(number)")
    }

    @Test("HKDF: empty salt is 32 zero bytes; shorter output is a prefix; 0 and 8160 bytes")
    func lengthsAndSalt() {
        let material = bytes("input key material")
        #expect(
            HKDF.extract(salt: [UInt8](), inputKeyMaterial: material)
                == HKDF.extract(salt: [UInt8](repeating: 0, count: 32), inputKeyMaterial: material)
        )
        let key = HKDF.extract(salt: bytes("salt"), inputKeyMaterial: material)
        let longest = HKDF.expand(
            pseudorandomKey: key,
            info: bytes("info"),
            outputByteCount: HKDF.maximumOutputByteCount
        )
        #expect(longest.count == 8160 && HKDF.maximumOutputByteCount == 8160)
        for length in [0, 1, 31, 32, 33, 64, 65, 1000, 8159] {
            #expect(
                HKDF.expand(pseudorandomKey: key, info: bytes("info"), outputByteCount: length)
                    == Array(longest.prefix(length))
            )
        }
        #expect(
            HKDF.expand(pseudorandomKey: key, info: bytes("other"), outputByteCount: 32) != Array(longest.prefix(32))
        )
    }

    @Test("HKDF: more than 8160 bytes is a precondition failure")
    func tooLongOutputTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = HKDF.expand(pseudorandomKey: [UInt8](repeating: 1, count: 32), info: [UInt8](), outputByteCount: 8161)
        }
        await #expect(processExitsWith: .failure) {
            _ = HKDF.expand(pseudorandomKey: [UInt8](repeating: 1, count: 32), info: [UInt8](), outputByteCount: -1)
        }
    }
}

/// The cross-check against Python: Tests/Vectors/crypto.json, written by
/// scripts/make-crypto-vectors.py from hashlib and hmac, holds the SHA-256 and HMAC-SHA256
/// of a pseudo-random message of every length 0–1000 (keys of 0–1000 bytes, many longer than
/// a block) and 64 random HKDF cases. The inputs are regenerated here from their seeds.
@Suite struct SHA256PythonCrossCheckTests {
    struct Vectors: Decodable {
        struct Check: Decodable {
            let seed: String
            let hex: String
        }
        struct Message: Decodable {
            let length: Int
            let seed: String
            let sha256: String
            let keyLength: Int
            let keySeed: String
            let hmacSha256: String
        }
        struct Derivation: Decodable {
            let saltLength: Int
            let saltSeed: String
            let materialLength: Int
            let materialSeed: String
            let infoLength: Int
            let infoSeed: String
            let pseudorandomKey: String
            let outputLength: Int
            let outputSha256: String
        }
        let generatorCheck: Check
        let messages: [Message]
        let hkdfSha256: [Derivation]
    }

    static let vectors: Vectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors/crypto.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(Vectors.self, from: Data(contentsOf: url))
    }()

    /// `random_bytes` of the generator script: little-endian SplitMix64 outputs from `seed`.
    static func randomBytes(seed: String, count: Int) -> [UInt8] {
        var generator = SplitMix64(seed: UInt64(seed)!)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return Array(bytes.prefix(count))
    }

    @Test func generatorMatchesPython() {
        let check = Self.vectors.generatorCheck
        #expect(hexString(Self.randomBytes(seed: check.seed, count: check.hex.count / 2)) == check.hex)
    }

    @Test func everyLengthFrom0To1000IsCovered() {
        #expect(Self.vectors.messages.map(\.length) == Array(0...1000))
        #expect(Self.vectors.messages.contains { $0.keyLength > 64 })
        #expect(Self.vectors.messages.contains { $0.keyLength == 0 })
    }

    @Test("SHA-256 of every length 0–1000 matches hashlib", arguments: implementations)
    func sha256MatchesHashlib(implementation: SHA256.Implementation) {
        for vector in Self.vectors.messages {
            let message = Self.randomBytes(seed: vector.seed, count: vector.length)
            #expect(hexString(digest(message, on: implementation)) == vector.sha256, "length \(vector.length)")
        }
    }

    @Test("HMAC-SHA256 of every length 0–1000 matches Python's hmac", arguments: implementations)
    func hmacMatchesPython(implementation: SHA256.Implementation) {
        for vector in Self.vectors.messages {
            let message = Self.randomBytes(seed: vector.seed, count: vector.length)
            let key = Self.randomBytes(seed: vector.keySeed, count: vector.keyLength)
            #expect(
                hexString(code(message, key: key, on: implementation)) == vector.hmacSha256,
                "length \(vector.length), key \(vector.keyLength) bytes"
            )
        }
    }

    @Test func oneShotFunctionsMatchPython() {
        for vector in Self.vectors.messages {
            let message = Self.randomBytes(seed: vector.seed, count: vector.length)
            let key = Self.randomBytes(seed: vector.keySeed, count: vector.keyLength)
            #expect(hexString(SHA256.hash(message)) == vector.sha256, "length \(vector.length)")
            #expect(
                hexString(HMACSHA256.authenticationCode(for: message, key: key)) == vector.hmacSha256,
                "length \(vector.length)"
            )
        }
    }

    @Test("HKDF-SHA256 random cases match an HKDF over Python's hmac")
    func hkdfMatchesPython() {
        for (index, vector) in Self.vectors.hkdfSha256.enumerated() {
            let salt = Self.randomBytes(seed: vector.saltSeed, count: vector.saltLength)
            let material = Self.randomBytes(seed: vector.materialSeed, count: vector.materialLength)
            let info = Self.randomBytes(seed: vector.infoSeed, count: vector.infoLength)
            let key = HKDF.extract(salt: salt, inputKeyMaterial: material)
            #expect(hexString(key) == vector.pseudorandomKey, "case \(index)")
            let output = HKDF.derive(
                inputKeyMaterial: material,
                salt: salt,
                info: info,
                outputByteCount: vector.outputLength
            )
            #expect(output.count == vector.outputLength)
            #expect(hexString(SHA256.hash(output)) == vector.outputSha256, "case \(index)")
        }
    }
}
