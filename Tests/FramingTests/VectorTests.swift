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

    @Test func everyKindHasAVector() {
        let kinds = Set(Self.recordVectors.map { $0["kind"] as! String })
        #expect(kinds == Set(RecordKind.allVersion1.map(\.description)))
    }

    @Test func recordsEncodeToTheirBytes() throws {
        for vector in Self.recordVectors {
            let record = try Self.record(kind: vector["kind"] as! String, fields: vector["fields"] as! [String: Any])
            var bytes: [UInt8] = []
            try RecordEncoder.append(record, to: &bytes)
            #expect(hexString(bytes) == vector["hex"] as! String, "\(vector["name"]!)")
        }
    }

    @Test func bytesDecodeToTheirRecords() throws {
        for vector in Self.recordVectors {
            let expected = try Self.record(kind: vector["kind"] as! String, fields: vector["fields"] as! [String: Any])
            let decoded = try decodeAll(hexBytes(vector["hex"] as! String), preamble: false)
            #expect(decoded == [.record(expected)], "\(vector["name"]!)")
        }
    }

    @Test func preambles() throws {
        for vector in Self.vectors["preambles"] as! [[String: Any]] {
            let version = UInt16(vector["version"] as! Int)
            #expect(hexString(Preamble(version: version).bytes) == vector["hex"] as! String)
            #expect(try Preamble(decoding: hexBytes(vector["hex"] as! String)).version == version)
        }
    }

    @Test func invalidInputGivesTheNamedError() {
        for vector in Self.vectors["invalid"] as! [[String: Any]] {
            let bytes = hexBytes(vector["hex"] as! String)
            do {
                _ = try decodeAll(bytes, preamble: vector["preamble"] as! Bool)
                Issue.record("\(vector["name"]!) decoded without error")
            } catch let error as FramingError {
                #expect(caseName(error) == vector["error"] as! String, "\(vector["name"]!): \(error)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func unknownIgnorableKindIsSkippable() throws {
        let vector = Self.vectors["ignorable"] as! [String: Any]
        let decoded = try decodeAll(hexBytes(vector["hex"] as! String), preamble: false)
        let expected = Record.unknown(
            kind: RecordKind(rawValue: UInt8(vector["kind"] as! Int)),
            flags: UInt8(vector["flags"] as! Int),
            payload: hexBytes(vector["payload"] as! String)
        )
        #expect(decoded == [.record(expected)])
    }

    /// Each side of each conversation decodes, whole and one byte at a time, to the
    /// records of its steps, in order, and re-encodes to the same bytes.
    @Test func conversations() throws {
        for conversation in Self.vectors["conversations"] as! [[String: Any]] {
            let steps = conversation["steps"] as! [[String: Any]]
            for side in ["client", "server"] {
                let stepBytes = steps.filter { $0["direction"] as! String == side }.map {
                    hexBytes($0["hex"] as! String)
                }
                let stream = stepBytes.flatMap { $0 }
                let whole = try decodeAll(stream, preamble: true)
                let byteByByte = try decodeAll(stream, preamble: true, pieceSize: 1)
                #expect(whole == byteByByte)
                #expect(whole.count == stepBytes.count, "\(conversation["name"]!) \(side)")
                for (message, bytes) in zip(whole.dropFirst(), stepBytes.dropFirst()) {
                    guard case .record(let record) = message else {
                        Issue.record("expected a record")
                        continue
                    }
                    var encoded: [UInt8] = []
                    try RecordEncoder.append(record, to: &encoded)
                    #expect(encoded == bytes)
                }
            }
        }
    }

    static func record(kind: String, fields: [String: Any]) throws -> Record {
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
        case "HELLO": return .hello(Hello(parameters: parameters()))
        case "WELCOME": return .welcome(Welcome(parameters: parameters()))
        case "OFFER":
            return .offer(
                Offer(
                    transferID: id("transfer_id"),
                    size: (fields["size"] as? String).map { UInt64($0)! },
                    offset: u64("offset"),
                    mode: int("mode"),
                    modificationTime: Timestamp(
                        seconds: Int64(fields["mtime_seconds"] as! String)!,
                        nanoseconds: int("mtime_nanoseconds")
                    ),
                    name: string("name"),
                    awaitAnswer: fields["await_answer"] as! Bool
                )
            )
        case "ANSWER":
            let decisions: [String: Answer.Decision] = [
                "accept": .accept, "resume": .resume, "alreadyCommitted": .alreadyCommitted, "refuse": .refuse,
            ]
            return .answer(
                Answer(
                    transferID: id("transfer_id"),
                    decision: decisions[string("decision")]!,
                    offset: u64("offset"),
                    code: ErrorCode(rawValue: int("code")),
                    message: string("message")
                )
            )
        case "DATA": return .data(hexBytes(string("payload"))[...])
        case "END": return .end(End(totalLength: u64("total_length"), digest: u64("digest")))
        case "CANCEL": return .cancel(Cancel(code: ErrorCode(rawValue: int("code")), message: string("message")))
        case "PROGRESS":
            return .progress(
                Progress(transferID: id("transfer_id"), received: u64("received"), durable: u64("durable"))
            )
        case "ACK":
            return .ack(
                Ack(
                    transferID: id("transfer_id"),
                    committedLength: u64("committed_length"),
                    digest: u64("digest"),
                    durable: fields["durable"] as! Bool
                )
            )
        case "ERROR":
            return .error(
                ErrorRecord(
                    code: ErrorCode(rawValue: int("code")),
                    transferID: id("transfer_id"),
                    fatal: fields["fatal"] as! Bool,
                    message: string("message")
                )
            )
        case "GOODBYE": return .goodbye
        case "KEEPALIVE": return .keepAlive
        default: throw VectorError.unknownKind(kind)
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
