import Foundation
import Framing
import Testing

/// xfer's AEAD suites against the standards' known answers, forged tags, nonce misuse, and a
/// random cross-check of every length 0–1100 (plus 1, 16 and 64 MiB) against Python's
/// `cryptography` package (scripts/aead-crosscheck.py).
@Suite struct AEADTests {
    struct Known {
        let name: String
        let suite: CipherSuite
        let key, nonce, aad, plaintext, sealed: String
    }

    /// RFC 8439 §2.8.2, and test cases 13–16 of McGrew & Viega, "The Galois/Counter Mode of
    /// Operation (GCM)", the AES-256 cases NIST's SP 800-38D validation builds on. `sealed` is
    /// the ciphertext followed by the tag, as published.
    static let known: [Known] = [
        Known(
            name: "RFC 8439 2.8.2",
            suite: .chacha20Poly1305,
            key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
            nonce: "070000004041424344454647",
            aad: "50515253c0c1c2c3c4c5c6c7",
            plaintext: Array(
                "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
                    .utf8
            ).map { String(format: "%02x", $0) }.joined(),
            sealed:
                "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
                + "1ae10b594f09e26a7e902ecbd0600691"
        ),
        Known(
            name: "GCM test case 13",
            suite: .aes256GCM,
            key: String(repeating: "00", count: 32),
            nonce: String(repeating: "00", count: 12),
            aad: "",
            plaintext: "",
            sealed: "530f8afbc74536b9a963b4f1c4cb738b"
        ),
        Known(
            name: "GCM test case 14",
            suite: .aes256GCM,
            key: String(repeating: "00", count: 32),
            nonce: String(repeating: "00", count: 12),
            aad: "",
            plaintext: String(repeating: "00", count: 16),
            sealed: "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919"
        ),
        Known(
            name: "GCM test case 15",
            suite: .aes256GCM,
            key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            nonce: "cafebabefacedbaddecaf888",
            aad: "",
            plaintext:
                "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
            sealed:
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
                + "b094dac5d93471bdec1a502270e3cc6c"
        ),
        Known(
            name: "GCM test case 16",
            suite: .aes256GCM,
            key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            nonce: "cafebabefacedbaddecaf888",
            aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            plaintext:
                "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
            sealed:
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                + "76fc6ece0f4e1768cddf8853bb2d551b"
        ),
    ]

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map {
            UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
        }
    }

    @Test(arguments: known.map(\.name))
    func knownAnswers(name: String) throws {
        let vector = Self.known.first { $0.name == name }!
        let aead = try AEAD(suite: vector.suite, key: Self.bytes(vector.key))
        let sealed = aead.seal(
            Self.bytes(vector.plaintext),
            nonce: Self.bytes(vector.nonce),
            additionalData: Self.bytes(vector.aad)
        )
        #expect(sealed == Self.bytes(vector.sealed))
        #expect(
            aead.open(
                Self.bytes(vector.sealed),
                nonce: Self.bytes(vector.nonce),
                additionalData: Self.bytes(vector.aad)
            )
                == Self.bytes(vector.plaintext)
        )
    }

    @Test("Every bit of the tag, the ciphertext, the nonce and the additional data: a forgery does not open")
    func forgeries() throws {
        for vector in Self.known where vector.name != "GCM test case 13" {
            let aead = try AEAD(suite: vector.suite, key: Self.bytes(vector.key))
            let sealed = Self.bytes(vector.sealed)
            let nonce = Self.bytes(vector.nonce)
            let aad = Self.bytes(vector.aad)
            for index in 0..<sealed.count {
                for bit in 0..<8 {
                    var forged = sealed
                    forged[index] ^= 1 << bit
                    #expect(
                        aead.open(forged, nonce: nonce, additionalData: aad) == nil,
                        "\(vector.name) \(index).\(bit)"
                    )
                }
            }
            for index in 0..<nonce.count {
                var other = nonce
                other[index] ^= 1
                #expect(aead.open(sealed, nonce: other, additionalData: aad) == nil)
            }
            #expect(aead.open(sealed, nonce: nonce, additionalData: aad + [0]) == nil, "additional data extended")
            #expect(aead.open(Array(sealed.dropLast()), nonce: nonce, additionalData: aad) == nil, "tag cut short")
            #expect(aead.open(Array(sealed.suffix(16)), nonce: nonce, additionalData: aad) == nil || sealed.count == 16)
        }
    }

    @Test(
        "Nonce misuse is visible: one nonce twice leaks the XOR of the plaintexts, which is why a nonce is never reused"
    )
    func nonceMisuse() throws {
        let aead = try AEAD(suite: .aes256GCM, key: [UInt8](repeating: 1, count: 32))
        let nonce = [UInt8](repeating: 2, count: 12)
        let first = Array("attack at dawn!!".utf8)
        let second = Array("retreat at dusk!".utf8)
        let a = aead.seal(first, nonce: nonce)
        let b = aead.seal(second, nonce: nonce)
        #expect(zip(a, b).prefix(16).map { $0 ^ $1 } == zip(first, second).map { $0 ^ $1 })
        // What the record layer does instead: the sequence moves the nonce on every record.
        let secret = TrafficSecret(key: [UInt8](repeating: 1, count: 32), iv: nonce)
        var sealer = try RecordSealer(suite: .aes256GCM, secret: secret)
        var records: [[UInt8]] = []
        for _ in 0..<3 {
            var bytes: [UInt8] = []
            try sealer.seal(.data(first[...]), appendingTo: &bytes)
            records.append(bytes)
        }
        #expect(Set(records).count == 3, "identical records sealed alike: a nonce was reused")
    }

    /// SplitMix64 bytes, as scripts/aead-crosscheck.py makes them (state advanced before
    /// each output; outputs little-endian).
    static func randomBytes(seed: UInt64, count: Int) -> [UInt8] {
        var state = seed
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: z >> UInt64(shift))) }
        }
        return Array(out.prefix(count))
    }

    @Test("Random cross-check against Python's cryptography: every length 0-1100, and 1, 16 and 64 MiB")
    func crossCheck() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/aead-crosscheck.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            // CI installs the package; elsewhere say why nothing was compared.
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "CI must install Python's cryptography")
            print("AEADTests: scripts/aead-crosscheck.py failed (no cryptography package?); skipped")
            return
        }
        var compared = 0
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 4, let id = UInt16(fields[0]), let suite = CipherSuite(rawValue: id),
                let length = Int(fields[1]), let seed = UInt64(fields[2])
            else {
                Issue.record("unreadable line: \(line)")
                continue
            }
            let key = Self.randomBytes(seed: seed, count: 32)
            let nonce = Self.randomBytes(seed: seed &+ 1, count: 12)
            let aad = Self.randomBytes(seed: seed &+ 2, count: length % 37)
            let plaintext = Self.randomBytes(seed: seed &+ 3, count: length)
            let aead = try AEAD(suite: suite, key: key)
            let sealed = aead.seal(plaintext, nonce: nonce, additionalData: aad)
            var hash = SHA256()
            hash.update(sealed)
            let digest = hash.finalize().map { String(format: "%02x", $0) }.joined()
            #expect(digest == fields[3], "\(suite) length \(length)")
            #expect(aead.open(sealed, nonce: nonce, additionalData: aad) == plaintext, "\(suite) length \(length)")
            compared += 1
        }
        #expect(compared == 2 * (1101 + 3), "compared \(compared) cases")
    }
}
