import Foundation
import Framing
import Testing

/// The sealed records and the whole exchange of auth.json's `sealed_records` and `exchange` against xfer.
@Suite struct SealedRecordVectorTests {
    typealias V = AuthenticationVectorTests

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        var hash = SHA256()
        hash.update(bytes)
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A plain record from kind, flags and payload (as any record: header, CRC, payload).
    static func plain(kind: Int, flags: Int, payload: [UInt8]) throws -> Record {
        var raw: [UInt8] = [UInt8(kind), UInt8(flags)]
        raw.appendBigEndianU32(UInt32(payload.count))
        var crc = CRC32C.checksum(raw)
        crc = CRC32C.checksum(payload, continuing: crc)
        raw.appendBigEndianU32(crc)
        raw += payload
        return try V.record(raw)
    }

    @Test(arguments: ["aes256gcm", "chacha20poly1305"])
    func sealedRecords(suite id: String) throws {
        let vector = V.handshakes[id]!
        var (sealers, decoders) = try V.sides(vector)
        var offer: Offer?
        var count = 0
        for entry in vector["sealed_records"] as! [[String: Any]] {
            let side = entry["direction"] as! String
            #expect(sealers[side]!.sequence == UInt64(entry["sequence"] as! Int))
            let payload: [UInt8]
            if let hex = entry["inner_payload"] {
                payload = V.hex(hex)
            } else {
                let start = entry["stream_offset"] as! Int
                payload = (0..<(entry["inner_payload_length"] as! Int)).map { UInt8((start + $0) % 251) }
                #expect(Self.sha256Hex(payload) == entry["inner_payload_sha256"] as! String)
            }
            let record = try Self.plain(kind: entry["kind"] as! Int, flags: entry["flags"] as! Int, payload: payload)
            if case .offer(let o) = record { offer = o }
            var sealed: [UInt8] = []
            try sealers[side]!.seal(record, appendingTo: &sealed)
            if let hex = entry["sealed"] {
                #expect(sealed == V.hex(hex), "\(side) \(record.kind)")
            } else {
                #expect(sealed.count == entry["sealed_length"] as! Int)
                #expect(Self.sha256Hex(sealed) == entry["sealed_sha256"] as! String)
            }
            #expect(Array(sealed[0..<6]) == V.hex(entry["aad"]))
            var opened: [Record] = []
            try decoders[side]!.feed(sealed[...]) { message in
                if case .record(let r) = message { opened.append(r) }
            }
            #expect(opened == [record], "\(side) \(record.kind)")
            if case .ack(let ack) = record {
                let binding = AckBinding(offer: offer!, committedLength: ack.committedLength, digest: ack.digest)
                #expect(binding.bytes == V.hex(entry["binding"]))
                #expect(ack.binding?.matches(binding) == true)
                #expect(V.hex(entry["binds_offer"]).count > 50)
            }
            count += 1
        }
        #expect(count == 11)
    }

    @Test(arguments: ["aes256gcm", "chacha20poly1305"])
    func exchange(suite id: String) throws {
        let vector = V.handshakes[id]!
        let suite = CipherSuite(rawValue: UInt16(vector["suite"] as! Int))!
        let secrets = V.secrets(vector)
        // Each side's bytes, read as the peer reads them.
        var readers = [
            "client": RecordDecoder(expectingPreamble: true), "server": RecordDecoder(expectingPreamble: true),
        ]
        var kinds: [String: [String]] = ["client": [], "server": []]
        for step in vector["exchange"] as! [[String: Any]] {
            let side = step["direction"] as! String
            try readers[side]!.feed(V.hex(step["hex"])[...]) { message in
                switch message {
                case .preamble: kinds[side]!.append("preamble")
                case .record(let r): kinds[side]!.append("\(r.kind)")
                }
            }
            if step["what"] as! String == "AUTH" {
                readers[side]!.startOpening(
                    try RecordOpener(suite: suite, secret: side == "client" ? secrets.client : secrets.server)
                )
            }
        }
        #expect(kinds["client"]!.count == 4 + 6 && kinds["server"]!.count == 4 + 4)
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndianU32(_ v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }
}
