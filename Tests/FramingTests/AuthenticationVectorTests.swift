import Foundation
import Framing
import Testing

/// The authenticated handshake and the sealed record layer of SPEC.md §13 against
/// Tests/Vectors/auth.json, which an independent Python encoding (scripts/xfersealed.py,
/// scripts/make-auth-vectors.py) computed: proofs, traffic keys, every sealed record of a
/// conversation in both suites, the largest record, and bytes that must not open.
@Suite struct AuthenticationVectorTests {
    nonisolated(unsafe) static let vectors: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors/auth.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static func hex(_ text: Any?) -> [UInt8] {
        let digits = Array((text as! String).utf8)
        return stride(from: 0, to: digits.count, by: 2).map {
            UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
        }
    }

    static var handshakes: [String: [String: Any]] { vectors["handshakes"] as! [String: [String: Any]] }

    /// Decodes one plain record.
    static func record(_ bytes: [UInt8]) throws -> Record {
        var decoder = RecordDecoder(expectingPreamble: false)
        var records: [Record] = []
        try decoder.feed(bytes[...]) { message in
            if case .record(let record) = message { records.append(record) }
        }
        guard records.count == 1 else { throw FramingError.truncatedInput(buffered: bytes.count) }
        return records[0]
    }

    static func suite(_ vector: [String: Any]) -> CipherSuite {
        CipherSuite(rawValue: UInt16(vector["suite"] as! Int))!
    }

    /// Each side's sealer, and a decoder that opens what that side sealed, keyed by side.
    static func sides(_ vector: [String: Any]) throws -> ([String: RecordSealer], [String: RecordDecoder]) {
        let (suite, secrets) = (Self.suite(vector), Self.secrets(vector))
        var decoders: [String: RecordDecoder] = [:]
        for (side, secret) in [("client", secrets.client), ("server", secrets.server)] {
            decoders[side] = RecordDecoder(expectingPreamble: false)
            decoders[side]!.startOpening(try RecordOpener(suite: suite, secret: secret))
        }
        return (
            [
                "client": try RecordSealer(suite: suite, secret: secrets.client),
                "server": try RecordSealer(suite: suite, secret: secrets.server),
            ], decoders
        )
    }

    static func secrets(_ vector: [String: Any]) -> (client: TrafficSecret, server: TrafficSecret) {
        (
            TrafficSecret(key: hex(vector["client_key"]), iv: hex(vector["client_iv"])),
            TrafficSecret(key: hex(vector["server_key"]), iv: hex(vector["server_iv"]))
        )
    }

    @Test func keyTextIsStrict() {
        let text = "xfer-key-1 " + String(repeating: "0f", count: 32)
        #expect(AuthenticationKey(text: text)?.bytes == [UInt8](repeating: 0x0F, count: 32))
        #expect(AuthenticationKey(text: text + "\n")?.text == text + "\n")
        #expect(AuthenticationKey(text: Self.vectors["key_text"] as! String)?.bytes == Self.hex(Self.vectors["key"]))
        for bad in [
            "xfer-key-1 00", "other " + String(repeating: "0", count: 64), text.uppercased(),
            "xfer-key-1 " + String(repeating: "0F", count: 32), text + "\r\n", text + "\n\n", " " + text,
            text.replacingOccurrences(of: " ", with: "  "), text + " ",
        ] {
            #expect(AuthenticationKey(text: bad) == nil, "accepted \(bad.debugDescription)")
        }
    }

    @Test(
        "Proofs, transcript hash and traffic keys, from the exact bytes of the handshake",
        arguments: ["aes256gcm", "chacha20poly1305"]
    )
    func handshake(suite: String) throws {
        let vector = Self.handshakes[suite]!
        let key = AuthenticationKey(bytes: Self.hex(Self.vectors["key"]))!
        guard case .hello(let hello) = try Self.record(Self.hex(vector["hello"])),
            case .welcome(let welcome) = try Self.record(Self.hex(vector["welcome"]))
        else {
            Issue.record("HELLO or WELCOME did not decode")
            return
        }
        #expect(hello.parameters.nonce == Self.hex(Self.vectors["client_nonce"]))
        #expect(hello.parameters.suites == [1, 2])
        let chosen = try #require(welcome.parameters.suites)
        #expect(chosen == [UInt16(vector["suite"] as! Int)])
        #expect(CipherSuite.choice(from: hello.parameters.suites!) == .aes256GCM)
        var transcript = AuthenticationTranscript()
        for field in ["client_preamble", "hello", "server_preamble", "welcome"] {
            transcript.append(Self.hex(vector[field]))
        }
        #expect(transcript.proof(.server, key: key).code == Self.hex(vector["server_proof"]))
        #expect(transcript.verify(AuthProof(code: Self.hex(vector["server_proof"]))!, .server, key: key))
        var encoded: [UInt8] = []
        try RecordEncoder.append(.auth(AuthProof(code: Self.hex(vector["server_proof"]))!), to: &encoded)
        #expect(encoded == Self.hex(vector["server_auth"]))
        transcript.append(Self.hex(vector["server_auth"]))
        #expect(transcript.proof(.client, key: key).code == Self.hex(vector["client_proof"]))
        #expect(!transcript.verify(AuthProof(code: Self.hex(vector["server_proof"]))!, .client, key: key), "reflected")
        transcript.append(Self.hex(vector["client_auth"]))
        #expect(transcript.digest == Self.hex(vector["transcript_hash"]))
        let secrets = transcript.trafficSecrets(
            key: key,
            clientNonce: Self.hex(Self.vectors["client_nonce"]),
            serverNonce: Self.hex(Self.vectors["server_nonce"])
        )
        let expected = Self.secrets(vector)
        #expect(secrets.client.key == expected.client.key && secrets.client.iv == expected.client.iv)
        #expect(secrets.server.key == expected.server.key && secrets.server.iv == expected.server.iv)
    }

    @Test(
        "Every record of the conversation seals to the vector's bytes and opens to its record",
        arguments: ["aes256gcm", "chacha20poly1305"]
    )
    func conversation(suite id: String) throws {
        let vector = Self.handshakes[id]!
        let (suite, secrets) = (Self.suite(vector), Self.secrets(vector))
        var (sealers, decoders) = try Self.sides(vector)
        let steps = vector["conversation"] as! [[String: Any]]
        for step in steps {
            let side = step["direction"] as! String
            let plain = try Self.record(Self.hex(step["record"]))
            #expect(sealers[side]!.sequence == UInt64(step["sequence"] as! Int))
            var sealed: [UInt8] = []
            try sealers[side]!.seal(plain, appendingTo: &sealed)
            #expect(sealed == Self.hex(step["sealed"]), "\(side) \(plain.kind)")
            var opened: [Record] = []
            try decoders[side]!.feed(Self.hex(step["sealed"])) { message in
                if case .record(let record) = message { opened.append(record) }
            }
            #expect(opened == [plain], "\(side) \(plain.kind)")
            if case .ack(let ack) = plain, case .offer(let offer) = try Self.record(Self.hex(steps[0]["record"])) {
                // The ACK's binding is the one the sender computes from its own OFFER.
                #expect(
                    ack.binding?.matches(
                        AckBinding(offer: offer, committedLength: ack.committedLength, digest: ack.digest)
                    ) == true
                )
            }
        }
        // The largest record: 1 MiB - 18 bytes of DATA, the outer record exactly 1 MiB + 10.
        let largest = vector["largest"] as! [String: Any]
        let content = (0..<RecordSealer.maxInnerPayload).map { UInt8($0 % 253) }
        var fresh = try RecordSealer(suite: suite, secret: secrets.client)
        var big: [UInt8] = []
        try fresh.seal(.data(content[...]), appendingTo: &big)
        var hash = SHA256()
        hash.update(big)
        #expect(big.count == largest["sealed_length"] as! Int)
        #expect(hash.finalize() == Self.hex(largest["sealed_sha256"]))
    }

    @Test("Bytes that must not open as the client's first record", arguments: ["aes256gcm", "chacha20poly1305"])
    func rejections(suite id: String) throws {
        let vector = Self.handshakes[id]!
        let suite = CipherSuite(rawValue: UInt16(vector["suite"] as! Int))!
        for rejection in vector["rejections"] as! [[String: Any]] {
            var decoder = RecordDecoder(expectingPreamble: false)
            decoder.startOpening(try RecordOpener(suite: suite, secret: Self.secrets(vector).client))
            var opened: [Record] = []
            var failure: FramingError?
            do {
                try decoder.feed(Self.hex(rejection["sealed"])) { message in
                    if case .record(let record) = message { opened.append(record) }
                }
            } catch let error as FramingError {
                failure = error
            }
            let note = rejection["note"] as! String
            #expect(opened.isEmpty, "\(note): opened")
            guard case .sealBroken? = failure else {
                Issue.record("\(note): \(String(describing: failure))")
                continue
            }
        }
    }
}
