import Framing
import Testing

@Suite struct DecoderTests {
    static let id = TransferID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10)

    /// One record of every kind, with empty and maximum-size payloads where a kind has them.
    static let samples: [Record] = [
        .hello(Hello()),
        .hello(Hello(parameters: [.agent("xfer/test"), Parameter(id: 77, value: [UInt8](repeating: 9, count: 4096))])),
        .welcome(Welcome(parameters: [.agent("ünïcode")])),
        .offer(Offer(transferID: id, size: 0, name: "empty")),
        .offer(Offer(transferID: id, size: nil, name: "stdin")),
        .offer(
            Offer(
                transferID: id,
                size: .max - 1,
                offset: 5,
                mode: 0o7777,
                modificationTime: Timestamp(seconds: .min, nanoseconds: 999_999_999),
                name: String(repeating: "n", count: ProtocolLimits.maxNameBytes),
                awaitAnswer: true
            )
        ),
        .answer(Answer(transferID: id, decision: .accept)),
        .answer(Answer(transferID: id, decision: .refuse, code: .badName, message: String(repeating: "é", count: 512))),
        .data([0][...]),
        .data([UInt8](repeating: 0xAB, count: ProtocolLimits.maxDataPayload)[...]),
        .end(End(totalLength: 0, digest: 0)),
        .end(End(totalLength: .max, digest: .max)),
        .cancel(Cancel(code: .sourceUnreadable, message: "")),
        .progress(Progress(transferID: id, received: 10, durable: 10)),
        .ack(Ack(transferID: id, committedLength: 1, digest: 2, durable: true)),
        .ack(Ack(transferID: TransferID(high: 0, low: 1), committedLength: 0, digest: 0, durable: false)),
        .error(ErrorRecord(code: ErrorCode(rawValue: 65535), fatal: true, message: "from the future")),
        .goodbye,
        .keepAlive,
        .unknown(kind: RecordKind(rawValue: 0xF0), flags: 0xFF, payload: []),
    ]

    static func conversationBytes() throws -> [UInt8] {
        var bytes = Preamble().bytes
        for record in samples { try RecordEncoder.append(record, to: &bytes) }
        return bytes
    }

    @Test func roundTripEveryKind() throws {
        for record in Self.samples {
            var bytes: [UInt8] = []
            try RecordEncoder.append(record, to: &bytes)
            #expect(try decodeAll(bytes, preamble: false) == [.record(record)], "\(record.kind)")
        }
    }

    @Test func messagesLongerThanTheLimitAreCutAtACharacter() throws {
        var bytes: [UInt8] = []
        let long = String(repeating: "é", count: 600)  // 1200 bytes
        try RecordEncoder.append(
            .error(ErrorRecord(code: .ioError, transferID: Self.id, fatal: false, message: long)),
            to: &bytes
        )
        guard case .record(.error(let error)) = try decodeAll(bytes, preamble: false).first else {
            Issue.record("no ERROR decoded")
            return
        }
        #expect(error.message == String(repeating: "é", count: 512))
    }

    @Test func encoderRejectsFieldsOverTheirLimit() {
        var bytes: [UInt8] = []
        let longName = Offer(transferID: Self.id, size: 1, name: String(repeating: "x", count: 4097))
        #expect(throws: FramingError.self) { try RecordEncoder.append(.offer(longName), to: &bytes) }
        #expect(throws: FramingError.self) { try RecordEncoder.append(.data([][...]), to: &bytes) }
        let tooBig = [UInt8](repeating: 0, count: ProtocolLimits.maxDataPayload + 1)[...]
        #expect(throws: FramingError.self) { try RecordEncoder.append(.data(tooBig), to: &bytes) }
        #expect(bytes.isEmpty)
    }

    @Test func dataEncodersAgree() throws {
        let payload = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        var viaRecord: [UInt8] = []
        try RecordEncoder.append(.data(payload[...]), to: &viaRecord)
        var viaAppend: [UInt8] = []
        payload.withUnsafeBytes { RecordEncoder.appendData($0, to: &viaAppend) }
        var inPlace = [UInt8](repeating: 0xEE, count: ProtocolLimits.headerSize) + payload
        inPlace.withUnsafeMutableBytes { RecordEncoder.sealData(in: $0) }
        #expect(viaRecord == viaAppend)
        #expect(viaRecord == inPlace)
    }

    /// Whole, one byte at a time, and split in two at every point: the same messages.
    @Test func everySplitGivesTheSameMessages() throws {
        // Without the 1 MiB record, so that every split point stays cheap.
        var bytes = Preamble().bytes
        for record in Self.samples where record.kind != .data { try RecordEncoder.append(record, to: &bytes) }
        try RecordEncoder.append(.data([1, 2, 3][...]), to: &bytes)
        let whole = try decodeAll(bytes, preamble: true)
        #expect(whole.count == Self.samples.count)
        #expect(try decodeAll(bytes, preamble: true, pieceSize: 1) == whole)
        for split in 0...bytes.count {
            var decoder = RecordDecoder()
            var messages: [RecordDecoder.Message] = []
            try decoder.feed(bytes[..<split]) { messages.append(copying($0)) }
            try decoder.feed(bytes[split...]) { messages.append(copying($0)) }
            try decoder.finish()
            #expect(messages == whole, "split at \(split)")
        }
    }

    @Test func largeRecordsFedInOddPieces() throws {
        let bytes = try Self.conversationBytes()
        let whole = try decodeAll(bytes, preamble: true)
        for piece in [7, 4093, 65_537, 300_001] {
            #expect(try decodeAll(bytes, preamble: true, pieceSize: piece) == whole, "pieces of \(piece)")
        }
    }

    /// Every proper prefix of a conversation decodes to a prefix of its messages and then
    /// reports truncation at end of input; it never invents a record.
    @Test func everyTruncationIsReported() throws {
        var bytes = Preamble().bytes
        for record in Self.samples where record.kind != .data { try RecordEncoder.append(record, to: &bytes) }
        let whole = try decodeAll(bytes, preamble: true)
        var boundaries = Set([0])
        var decoder = RecordDecoder()
        var consumed = 0
        for byte in bytes {
            try decoder.feed([byte]) { _ in }
            consumed += 1
            if decoder.bufferedByteCount == 0 { boundaries.insert(consumed) }
        }
        for length in 0..<bytes.count {
            var decoder = RecordDecoder()
            var messages: [RecordDecoder.Message] = []
            try decoder.feed(bytes[..<length]) { messages.append(copying($0)) }
            #expect(Array(whole.prefix(messages.count)) == messages)
            if boundaries.contains(length) {
                #expect(throws: Never.self) { try decoder.finish() }
            } else {
                #expect(throws: FramingError.truncatedInput(buffered: decoder.bufferedByteCount)) {
                    try decoder.finish()
                }
            }
        }
    }

    /// Random byte changes after the preamble: each is caught as a checksum or format error
    /// (or as truncation when a length grew), and every record returned before the error is
    /// one of the originals, in order.
    @Test func randomCorruptionIsAlwaysDetected() throws {
        var clean = Preamble().bytes
        for record in Self.samples where record.kind != .data { try RecordEncoder.append(record, to: &clean) }
        try RecordEncoder.append(.data([UInt8](repeating: 7, count: 3000)[...]), to: &clean)
        let original = try decodeAll(clean, preamble: true)
        var generator = SplitMix64(seed: 2026)
        for trial in 0..<3000 {
            var bytes = clean
            let flips = trial % 3 + 1
            for _ in 0..<flips {
                let index = Int.random(in: ProtocolLimits.preambleSize..<bytes.count, using: &generator)
                bytes[index] ^= UInt8.random(in: 1...255, using: &generator)
            }
            var decoder = RecordDecoder()
            var messages: [RecordDecoder.Message] = []
            var failed = false
            do {
                try decoder.feed(bytes) { messages.append(copying($0)) }
                try decoder.finish()
            } catch {
                failed = true
            }
            #expect(failed, "trial \(trial): corruption went unnoticed")
            #expect(Array(original.prefix(messages.count)) == messages, "trial \(trial): a changed record came out")
        }
    }

    @Test func lengthJustOverTheLimitIsRejectedFromTheHeaderAlone() {
        var header: [UInt8] = [RecordKind.data.rawValue, 0]
        header.append(contentsOf: [0x00, 0x10, 0x00, 0x01])  // 1 MiB + 1
        header.append(contentsOf: [0, 0, 0, 0])
        var decoder = RecordDecoder(expectingPreamble: false)
        #expect(throws: FramingError.payloadTooLarge(kind: .data, length: (1 << 20) + 1, limit: 1 << 20)) {
            try decoder.feed(header) { _ in }
        }
        // The decoder stays failed.
        #expect(throws: FramingError.self) { _ = try decoder.next() }
        #expect(throws: FramingError.self) { try decoder.finish() }
    }

    @Test func exactlyTheLimitIsAccepted() throws {
        var bytes: [UInt8] = []
        try RecordEncoder.append(.data([UInt8](repeating: 1, count: ProtocolLimits.maxPayload)[...]), to: &bytes)
        #expect(try decodeAll(bytes, preamble: false).count == 1)
    }

    @Test func allOnesHeadersAreRejected() {
        for count in [8, 10, 64, 5000] {
            var decoder = RecordDecoder(expectingPreamble: false)
            #expect(throws: FramingError.self, "\(count) × 0xFF") {
                try decoder.feed([UInt8](repeating: 0xFF, count: count)) { _ in }
                try decoder.finish()
            }
            var withPreamble = RecordDecoder()
            #expect(throws: FramingError.badMagic([0xFF, 0xFF, 0xFF, 0xFF])) {
                try withPreamble.feed([UInt8](repeating: 0xFF, count: count)) { _ in }
            }
        }
    }

    @Test func readFromWritesStraightIntoTheBuffer() throws {
        let bytes = try Self.conversationBytes()
        var decoder = RecordDecoder()
        var offset = 0
        var count = 0
        while offset < bytes.count {
            let read = decoder.readFrom { space in
                let n = min(space.count, 100_000, bytes.count - offset)
                bytes.withUnsafeBytes {
                    space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n]))
                }
                return n
            }
            #expect(read > 0)
            offset += read
            #expect(decoder.bufferedByteCount <= ProtocolLimits.headerSize + ProtocolLimits.maxPayload)
            while try decoder.next() != nil { count += 1 }
        }
        try decoder.finish()
        #expect(count == Self.samples.count + 1)
    }
}
