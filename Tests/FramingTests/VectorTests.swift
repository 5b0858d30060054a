import Foundation
import Framing
import Testing

/// Checks every vector in Tests/Vectors/vectors.json both ways: the fields encode to
/// exactly the bytes, and the bytes decode to exactly the fields. The vectors come from
/// an independent Python encoding (scripts/make-vectors.py), so they cannot drift from
/// SPEC.md without a test failing here.
@Suite struct VectorTests {
    nonisolated(unsafe) static let vectors: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors/vectors.json")
        let data = try! Data(contentsOf: url)
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    static var recordVectors: [[String: Any]] { vectors["records"] as! [[String: Any]] }
    static var conversationVectors: [[String: Any]] { vectors["conversations"] as! [[String: Any]] }

    /// Every kind but AUTH and SEALED (whose vectors are in auth.json, SPEC.md §12.4).
    @Test func everyKindHasAVector() {
        let kinds = Set(Self.recordVectors.map { UInt8($0["kind"] as! Int) })
        #expect(kinds == Set((RecordKind.allVersion1 + RecordKind.sessions).map(\.rawValue)))
        for vector in Self.recordVectors {
            #expect(
                vector["kind_name"] as? String == RecordKind(rawValue: UInt8(vector["kind"] as! Int)).description,
                "\(vector["name"]!)"
            )
        }
    }

    /// SPEC.md §12: u8/u16/u32 values are JSON numbers, u64/i64 values decimal strings, byte
    /// strings lower-case hex, flags the header byte as a number, in every record and step.
    @Test func fieldsFollowTheConventions() {
        let strings: Set = [
            "size", "offset", "mtime_seconds", "total_length", "digest", "received", "durable", "committed_length",
        ]
        let numbers: Set = ["mode", "mtime_nanoseconds", "code", "decision", "block_size", "block_count", "index"]
        let hex: Set = ["transfer_id", "payload", "session_id", "token", "bitmap"]
        let steps = Self.conversationVectors.flatMap { $0["steps"] as! [[String: Any]] }.filter {
            $0["type"] as! String == "record"
        }
        for entry in Self.recordVectors + (Self.vectors["ignorable"] as! [[String: Any]]) + steps {
            let label = "\(entry["name"] ?? entry["note"]!)"
            #expect(entry["kind"] is Int && entry["flags"] is Int && entry["fields"] is [String: Any], "\(label)")
            for (key, value) in entry["fields"] as! [String: Any] {
                if strings.contains(key) {
                    #expect((value as? String).map { Int64($0) != nil || UInt64($0) != nil } == true, "\(label).\(key)")
                } else if numbers.contains(key) {
                    #expect(value is Int, "\(label).\(key)")
                } else if hex.contains(key) {
                    let text = value as? String ?? "?"
                    #expect(
                        text.count % 2 == 0 && text.allSatisfy { "0123456789abcdef".contains($0) },
                        "\(label).\(key)"
                    )
                } else {
                    #expect(["name", "message", "parameters"].contains(key), "\(label): unexpected field \(key)")
                }
            }
        }
    }

    @Test func recordsEncodeToTheirBytes() throws {
        for vector in Self.recordVectors {
            let record = try Self.record(vector)
            var bytes: [UInt8] = []
            if vector["sendable"] as? Bool == false {
                // Decoders accept it so that the receiver can refuse it; encoders never make it.
                #expect(throws: FramingError.self, "\(vector["name"]!)") {
                    try RecordEncoder.append(record, to: &bytes)
                }
                continue
            }
            try RecordEncoder.append(record, to: &bytes)
            #expect(hexString(bytes) == vector["hex"] as! String, "\(vector["name"]!)")
        }
    }

    @Test func bytesDecodeToTheirRecords() throws {
        for vector in Self.recordVectors {
            let expected = try Self.record(vector)
            let decoded = try decodeAll(hexBytes(vector["hex"] as! String), preamble: false)
            #expect(decoded == [.record(expected)], "\(vector["name"]!)")
        }
    }

    /// SPEC.md §16.1: the `streams` parameter (id 32) of the HELLO and WELCOME vectors reads as
    /// its u16, and encodes as ``Parameter/streams(_:)`` does.
    @Test func streamsParameter() throws {
        var counts: [String: UInt16] = [:]
        for vector in Self.recordVectors {
            let parameters: [Parameter]
            switch try Self.record(vector) {
            case .hello(let hello): parameters = hello.parameters
            case .welcome(let welcome): parameters = welcome.parameters
            default: continue
            }
            guard parameters.contains(where: { $0.id == Parameter.streamsID }), let count = parameters.streams else {
                #expect(parameters.streams == nil, "\(vector["name"]!)")
                continue
            }
            #expect(parameters.contains(.streams(count)), "\(vector["name"]!)")
            counts[vector["name"] as! String] = count
        }
        #expect(counts == ["hello-streams": 8, "welcome-streams": 4])
    }

    /// SPEC.md §16.3: each HAVE vector's bitmap holds the blocks ``Have`` reads from it, and
    /// building a HAVE from those blocks gives the same bitmap.
    @Test func haveBitmaps() throws {
        for vector in Self.recordVectors {
            guard case .have(let have) = try Self.record(vector) else { continue }
            let rebuilt = Have(transferID: have.transferID, blockCount: have.blockCount, held: have.held)
            #expect(rebuilt == have, "\(vector["name"]!)")
        }
        let partial = try #require(Self.recordVectors.first { $0["name"] as? String == "have-partial-last-byte" })
        guard case .have(let have) = try Self.record(partial) else {
            Issue.record("have-partial-last-byte is not a HAVE")
            return
        }
        #expect(have.held == [0, 1, 2, 9])
    }

    /// SPEC.md §16.5: each block tree vector's layout, block digests, tree input and tree
    /// digest, from its content (byte p is p mod 251).
    @Test func blockTreeDigests() throws {
        let trees = try #require(Self.vectors["block_trees"] as? [[String: Any]])
        #expect(trees.count >= 4)
        for tree in trees {
            let name = tree["name"] as! String
            #expect(tree["content"] as? String == "p mod 251", "\(name)")
            let size = UInt64(tree["size"] as! String)!
            let layout = BlockLayout(blockSize: UInt32(tree["block_size"] as! Int))
            let content = (0..<Int(size)).map { UInt8($0 % 251) }
            let blocks = tree["blocks"] as! [[String: Any]]
            #expect(layout.count(size: size) == UInt64(tree["block_count"] as! Int), "\(name)")
            #expect(blocks.count == tree["block_count"] as! Int, "\(name)")
            var digests: [UInt64] = []
            for block in blocks {
                let index = UInt32(block["index"] as! Int)
                let range = try #require(layout.range(of: index, size: size), "\(name) block \(index)")
                #expect(range.offset == UInt64(block["offset"] as! String)!, "\(name) block \(index)")
                #expect(range.length == UInt64(block["length"] as! String)!, "\(name) block \(index)")
                var digest = StreamDigest()
                digest.update(content[Int(range.offset)..<Int(range.offset + range.length)])
                #expect(digest.value == UInt64(block["digest"] as! String)!, "\(name) block \(index)")
                digests.append(digest.value)
            }
            #expect(layout.range(of: UInt32(blocks.count), size: size) == nil, "\(name): a block past the end")
            var input: [UInt8] = []
            for digest in digests { input.append(contentsOf: withUnsafeBytes(of: digest.bigEndian, Array.init)) }
            #expect(hexString(input) == tree["tree_input"] as! String, "\(name)")
            #expect(blockTreeDigest(digests) == UInt64(tree["digest"] as! String)!, "\(name)")
            var whole = StreamDigest()
            whole.update(content)
            #expect(whole.value == UInt64(tree["stream_digest"] as! String)!, "\(name)")
            #expect(whole.value != blockTreeDigest(digests), "\(name): the tree digest is not the stream digest")
        }
    }

    @Test func preambles() throws {
        for vector in Self.vectors["preambles"] as! [[String: Any]] {
            let version = UInt16(vector["version"] as! Int)
            if vector["reserved"] as! Int == 0 {
                #expect(hexString(Preamble(version: version).bytes) == vector["hex"] as! String)
            }
            #expect(try Preamble(decoding: hexBytes(vector["hex"] as! String)).version == version)
        }
    }

    /// Each invalid input gives the named error, and that error maps to the named wire code
    /// (SPEC.md §12).
    @Test func invalidInputGivesTheNamedError() {
        for vector in Self.vectors["invalid"] as! [[String: Any]] {
            let bytes = hexBytes(vector["hex"] as! String)
            do {
                _ = try decodeAll(bytes, preamble: vector["preamble"] as! Bool)
                Issue.record("\(vector["name"]!) decoded without error")
            } catch let error as FramingError {
                #expect(caseName(error) == vector["error"] as! String, "\(vector["name"]!): \(error)")
                #expect(error.errorCode?.rawValue == (vector["code"] as? Int).map(UInt16.init), "\(vector["name"]!)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func unknownIgnorableKindIsSkippable() throws {
        for vector in Self.vectors["ignorable"] as! [[String: Any]] {
            let decoded = try decodeAll(hexBytes(vector["hex"] as! String), preamble: false)
            #expect(decoded == [.record(try Self.record(vector))], "\(vector["name"]!)")
        }
    }

    /// Each side of each conversation decodes, whole and one byte at a time, to the records
    /// of its steps, in order, and re-encodes to the same bytes; a step's fields are what
    /// its bytes say; an `invalid` step gives its error.
    @Test func conversations() throws {
        for conversation in Self.conversationVectors {
            let name = conversation["name"] as! String
            let steps = conversation["steps"] as! [[String: Any]]
            // Each connection of a conversation is a stream of its own, with its own preamble.
            let connections = Set(steps.map { $0["connection"] as? Int ?? 1 }).sorted()
            for side in ["client", "server"] {
                for connection in connections {
                    let sideSteps = steps.filter {
                        $0["direction"] as! String == side && ($0["connection"] as? Int ?? 1) == connection
                    }
                    let valid = Array(sideSteps.prefix { $0["type"] as! String != "invalid" })
                    let stream = valid.flatMap { hexBytes($0["hex"] as! String) }
                    let whole = try decodeAll(stream, preamble: true)
                    #expect(try decodeAll(stream, preamble: true, pieceSize: 1) == whole, "\(name) \(side)")
                    #expect(whole.count == valid.count, "\(name) \(side)")
                    for (message, step) in zip(whole, valid) {
                        switch message {
                        case .preamble(let preamble):
                            #expect(
                                step["type"] as! String == "preamble"
                                    && step["version"] as? Int == Int(preamble.version)
                            )
                        case .record(let record):
                            #expect(record == (try Self.record(step)), "\(name): \(step["note"]!)")
                            var encoded: [UInt8] = []
                            try RecordEncoder.append(record, to: &encoded)
                            #expect(hexString(encoded) == step["hex"] as! String, "\(name): \(step["note"]!)")
                        }
                    }
                    if let bad = sideSteps.first(where: { $0["type"] as! String == "invalid" }) {
                        #expect(
                            sideSteps.last.map { $0["note"] as! String } == bad["note"] as? String,
                            "\(name): invalid last"
                        )
                        do {
                            _ = try decodeAll(stream + hexBytes(bad["hex"] as! String), preamble: true)
                            Issue.record("\(name): the invalid step decoded")
                        } catch let error as FramingError {
                            #expect(caseName(error) == bad["error"] as! String, "\(name)")
                        }
                    }
                }
            }
        }
    }

    /// A record from a vector's kind, flags and fields (SPEC.md §12).
    static func record(_ vector: [String: Any]) throws -> Record {
        let kind = RecordKind(rawValue: UInt8(vector["kind"] as! Int))
        let flags = UInt8(vector["flags"] as! Int)
        let fields = vector["fields"] as! [String: Any]
        func id(_ key: String) -> TransferID { TransferID(bytes: hexBytes(fields[key] as! String))! }
        func u64(_ key: String) -> UInt64 { UInt64(fields[key] as! String)! }
        func int<T: FixedWidthInteger>(_ key: String) -> T { T(fields[key] as! Int) }
        func string(_ key: String) -> String { fields[key] as! String }
        func parameters() -> [Parameter] {
            (fields["parameters"] as! [[String: Any]]).map {
                Parameter(id: UInt16($0["id"] as! Int), value: hexBytes($0["value"] as! String))
            }
        }
        switch kind {
        case .hello: return .hello(Hello(parameters: parameters()))
        case .welcome: return .welcome(Welcome(parameters: parameters()))
        case .offer:
            let size = u64("size")
            var offer = Offer(
                transferID: id("transfer_id"),
                size: size == Offer.unknownSize ? nil : size,
                offset: u64("offset"),
                mode: int("mode"),
                modificationTime: Timestamp(
                    seconds: Int64(fields["mtime_seconds"] as! String)!,
                    nanoseconds: int("mtime_nanoseconds")
                ),
                name: string("name"),
                awaitAnswer: flags & Offer.Flags.awaitAnswer != 0
            )
            offer.blocks = flags & Offer.Flags.blocks != 0
            return .offer(offer)
        case .answer:
            return .answer(
                Answer(
                    transferID: id("transfer_id"),
                    decision: Answer.Decision(rawValue: int("decision"))!,
                    offset: u64("offset"),
                    code: ErrorCode(rawValue: int("code")),
                    message: string("message")
                )
            )
        case .data: return .data(hexBytes(string("payload"))[...])
        case .end: return .end(End(totalLength: u64("total_length"), digest: u64("digest")))
        case .cancel: return .cancel(Cancel(code: ErrorCode(rawValue: int("code")), message: string("message")))
        case .progress:
            return .progress(
                Progress(transferID: id("transfer_id"), received: u64("received"), durable: u64("durable"))
            )
        case .ack:
            return .ack(
                Ack(
                    transferID: id("transfer_id"),
                    committedLength: u64("committed_length"),
                    digest: u64("digest"),
                    durable: flags & Ack.Flags.durable != 0
                )
            )
        case .error:
            return .error(
                ErrorRecord(
                    code: ErrorCode(rawValue: int("code")),
                    transferID: id("transfer_id"),
                    fatal: flags & ErrorRecord.Flags.fatal != 0,
                    message: string("message")
                )
            )
        case .goodbye: return .goodbye
        case .keepAlive: return .keepAlive
        case .session:
            return .session(
                SessionGrant(
                    sessionID: hexBytes(string("session_id")),
                    token: hexBytes(string("token")),
                    blockSize: int("block_size")
                )
            )
        case .join: return .join(Join(sessionID: hexBytes(string("session_id")), token: hexBytes(string("token"))))
        case .have:
            return .have(
                Have(transferID: id("transfer_id"), blockCount: int("block_count"), bitmap: hexBytes(string("bitmap")))
            )
        case .block: return .block(BlockStart(transferID: id("transfer_id"), index: int("index")))
        case .blockEnd: return .blockEnd(BlockEnd(digest: u64("digest")))
        case .blockAck: return .blockAck(BlockAck(transferID: id("transfer_id"), index: int("index")))
        default:
            guard kind.isIgnorable else { throw VectorError.unknownKind("\(kind)") }
            return .unknown(kind: kind, flags: flags, payload: hexBytes(string("payload")))
        }
    }

    enum VectorError: Error { case unknownKind(String) }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Decodes all of `bytes`, fed in pieces of `pieceSize`, then declares end of input.
func decodeAll(_ bytes: [UInt8], preamble: Bool, pieceSize: Int = .max) throws -> [RecordDecoder.Message] {
    var decoder = RecordDecoder(expectingPreamble: preamble)
    var messages: [RecordDecoder.Message] = []
    var index = 0
    repeat {
        let end = index + min(pieceSize, bytes.count - index)
        try decoder.feed(bytes[index..<end]) { messages.append(copying($0)) }
        index = end
    } while index < bytes.count
    try decoder.finish()
    return messages
}

/// A message whose DATA slice no longer shares the decoder's buffer.
func copying(_ message: RecordDecoder.Message) -> RecordDecoder.Message {
    if case .record(.data(let slice)) = message { return .record(.data(Array(slice)[...])) }
    return message
}

func caseName(_ error: FramingError) -> String {
    String(describing: Mirror(reflecting: error).children.first?.label ?? "\(error)")
}
