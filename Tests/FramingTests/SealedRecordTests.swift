import Framing
import Testing

/// The sealed record layer (SPEC.md §13.4) on its own: what opens, and everything an
/// attacker on the path could do to a sealed stream that must not.
@Suite struct SealedRecordTests {
    static let secret = TrafficSecret(key: Array(0..<32), iv: Array(100..<112))
    static let other = TrafficSecret(key: Array(0..<32).map { $0 ^ 0x55 }, iv: Array(100..<112))

    static func sealer(_ suite: CipherSuite = .aes256GCM, _ secret: TrafficSecret = secret) -> RecordSealer {
        try! RecordSealer(suite: suite, secret: secret)
    }

    static func decoder(_ suite: CipherSuite = .aes256GCM, _ secret: TrafficSecret = secret) -> RecordDecoder {
        var decoder = RecordDecoder(expectingPreamble: false)
        decoder.startOpening(try! RecordOpener(suite: suite, secret: secret))
        return decoder
    }

    /// Decodes `bytes`; the records, and the error that stopped it, if any.
    static func decode(_ bytes: [UInt8], with decoder: inout RecordDecoder) -> ([Record], FramingError?) {
        var records: [Record] = []
        do {
            try decoder.feed(bytes) { message in
                if case .record(let record) = message { records.append(record) }
            }
        } catch let error as FramingError {
            return (records, error)
        } catch {
            return (records, nil)
        }
        return (records, nil)
    }

    static let conversation: [Record] = [
        .offer(Offer(transferID: TransferID(high: 1, low: 2), size: 5, name: "a/b.txt")),
        .data(ArraySlice([1, 2, 3, 4, 5])),
        .keepAlive,
        .end(End(totalLength: 5, digest: 42)),
        .goodbye,
    ]

    /// Each record sealed on its own, in order.
    static func sealedRecords(_ suite: CipherSuite = .aes256GCM) -> [[UInt8]] {
        var sealer = sealer(suite)
        return conversation.map { record in
            var bytes: [UInt8] = []
            try! sealer.seal(record, appendingTo: &bytes)
            return bytes
        }
    }

    @Test(arguments: CipherSuite.allCases)
    func roundTrip(suite: CipherSuite) {
        var decoder = Self.decoder(suite)
        let (records, error) = Self.decode(Self.sealedRecords(suite).flatMap { $0 }, with: &decoder)
        #expect(error == nil)
        #expect(records == Self.conversation)
    }

    @Test func sealedRecordsHideTheirContent() {
        let records = Self.sealedRecords()
        #expect(records.allSatisfy { $0[0] == RecordKind.sealed.rawValue && $0[1] == 0 })
        // The name is nowhere in the bytes, and the OFFER's kind byte is encrypted.
        let name = Array("a/b.txt".utf8)
        #expect(!(0...(records[0].count - name.count)).contains { Array(records[0][$0..<$0 + name.count]) == name })
        // The same record twice never gives the same bytes (the nonce moves on).
        var sealer = Self.sealer()
        var first: [UInt8] = []
        var second: [UInt8] = []
        try! sealer.seal(.goodbye, appendingTo: &first)
        try! sealer.seal(.goodbye, appendingTo: &second)
        #expect(first != second)
        #expect(sealer.sequence == 2)
    }

    @Test("Every bit of the tag, the ciphertext and the header flipped: the record does not open")
    func everyBitFlipped() {
        let record = Self.sealedRecords()[0]
        for index in 0..<record.count where !(6..<10).contains(index) {
            for bit in 0..<8 {
                var damaged = record
                damaged[index] ^= 1 << bit
                // The attacker fixes the CRC, as anyone can.
                let crc = CRC32C.checksum(damaged[10...], continuing: CRC32C.checksum(damaged[0..<6]))
                for byte in 0..<4 { damaged[6 + byte] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(byte))) }
                var decoder = Self.decoder()
                let (records, error) = Self.decode(damaged, with: &decoder)
                // A longer length waits for bytes that never come: the end of input is an error.
                let failed = error != nil || (try? decoder.finish()) == nil
                #expect(records.isEmpty && failed, "byte \(index) bit \(bit) opened")
            }
        }
    }

    @Test("Dropped, repeated, reordered, from the other direction, unsealed: the stream fails and stays failed")
    func orderAndOrigin() {
        let records = Self.sealedRecords()
        var otherSealer = Self.sealer(.aes256GCM, Self.other)
        var otherDirection: [UInt8] = []
        try! otherSealer.seal(
            .offer(Offer(transferID: TransferID(high: 1, low: 2), size: 5, name: "a/b.txt")),
            appendingTo: &otherDirection
        )
        var plain: [UInt8] = []
        try! RecordEncoder.append(.goodbye, to: &plain)
        let cases: [(String, [[UInt8]])] = [
            ("dropped", [records[0], records[2]]),
            ("repeated", [records[0], records[0]]),
            ("reordered", [records[1], records[0]]),
            ("other key", [otherDirection]),
            ("unsealed after sealed", [records[0], plain]),
            ("unsealed first", [plain]),
        ]
        for (name, stream) in cases {
            var decoder = Self.decoder()
            let (_, error) = Self.decode(stream.flatMap { $0 }, with: &decoder)
            guard case .sealBroken? = error else {
                Issue.record("\(name): \(String(describing: error))")
                continue
            }
            #expect(error?.errorCode == nil, "\(name): an ERROR would be sent")
            // Nothing after a failure is ever accepted, not even the right next record.
            let (after, again) = Self.decode(records[1], with: &decoder)
            #expect(after.isEmpty && again != nil, "\(name): a record was accepted after a failure")
        }
    }

    @Test("The one unsealed record: the server's refusal of our proof, first, fatal, unauthenticated")
    func unsealedRefusal() {
        var refusal: [UInt8] = []
        try! RecordEncoder.append(.error(ErrorRecord(code: .unauthenticated, fatal: true, message: "no")), to: &refusal)
        var decoder = Self.decoder()
        let (records, error) = Self.decode(refusal, with: &decoder)
        #expect(error == nil && records.count == 1)
        var other: [UInt8] = []
        try! RecordEncoder.append(.error(ErrorRecord(code: .busy, fatal: true, message: "no")), to: &other)
        var second = Self.decoder()
        #expect(Self.decode(other, with: &second).1 != nil, "an unsealed ERROR other than the refusal")
        var third = Self.decoder()
        #expect(Self.decode(Self.sealedRecords()[0] + refusal, with: &third).1 != nil, "a refusal after sealed records")
    }

    @Test("Inner records are checked like any: no HELLO or AUTH inside, the inner limit is 1 MiB - 18")
    func innerRules() {
        var sealer = Self.sealer()
        var bytes: [UInt8] = []
        try! sealer.seal(.hello(Hello(parameters: [])), appendingTo: &bytes)
        var decoder = Self.decoder()
        let (_, error) = Self.decode(bytes, with: &decoder)
        #expect(error?.errorCode == .protocolViolation, "\(String(describing: error))")
        var big: [UInt8] = []
        let payload = [UInt8](repeating: 7, count: RecordSealer.maxInnerPayload)
        #expect(throws: Never.self) { try sealer.seal(.data(payload[...]), appendingTo: &big) }
        #expect(big.count == ProtocolLimits.headerSize + ProtocolLimits.maxPayload)
        var tooBig: [UInt8] = []
        #expect(throws: FramingError.self) {
            try sealer.seal(.data((payload + [7])[...]), appendingTo: &tooBig)
        }
        #expect(RecordSealer.maxInnerPayload == 1_048_558)
    }

    @Test("A SEALED record before the handshake's end is a protocol violation")
    func sealedTooEarly() {
        var decoder = RecordDecoder(expectingPreamble: false)
        let (_, error) = Self.decode(Self.sealedRecords()[0], with: &decoder)
        #expect(error?.errorCode == .protocolViolation)
    }

    @Test("Traffic secrets: the two directions differ, and both depend on every input")
    func trafficSecrets() {
        let key = AuthenticationKey(bytes: Array(0..<32))!
        var transcript = AuthenticationTranscript()
        transcript.append([1, 2, 3])
        let secrets = transcript.trafficSecrets(key: key, clientNonce: Array(0..<32), serverNonce: Array(32..<64))
        #expect(secrets.client.key != secrets.server.key && secrets.client.iv != secrets.server.iv)
        let otherNonce = transcript.trafficSecrets(key: key, clientNonce: Array(1..<33), serverNonce: Array(32..<64))
        #expect(otherNonce.client.key != secrets.client.key)
        transcript.append([4])
        #expect(
            transcript.trafficSecrets(key: key, clientNonce: Array(0..<32), serverNonce: Array(32..<64)).client.key
                != secrets.client.key
        )
    }

    @Test("ACK bindings differ in every field of the offer but its offset")
    func ackBinding() {
        let offer = Offer(transferID: TransferID(high: 1, low: 2), size: 5, offset: 0, mode: 0o644, name: "a/b.txt")
        let base = AckBinding(offer: offer, committedLength: 5, digest: 9)
        var moved = offer
        moved.offset = 3
        #expect(AckBinding(offer: moved, committedLength: 5, digest: 9).matches(base))
        var variants: [Offer] = []
        for change in 0..<5 {
            var other = offer
            switch change {
            case 0: other.name = "a/c.txt"
            case 1: other.size = 6
            case 2: other.mode = 0o755
            case 3: other.modificationTime = Timestamp(seconds: 1)
            default: other.transferID = TransferID(high: 1, low: 3)
            }
            variants.append(other)
        }
        for other in variants { #expect(!AckBinding(offer: other, committedLength: 5, digest: 9).matches(base)) }
        #expect(!AckBinding(offer: offer, committedLength: 4, digest: 9).matches(base))
        #expect(!AckBinding(offer: offer, committedLength: 5, digest: 8).matches(base))
    }
}
