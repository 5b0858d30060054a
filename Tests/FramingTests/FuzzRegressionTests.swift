import Foundation
import Framing
import Testing

/// Inputs the fuzzer (scripts/fuzz.sh) once stopped on, replayed: each must decode as
/// SPEC.md says, without a trap. As in Fuzz/FuzzDecoder.swift, the first byte chooses the
/// mode (even: a preamble is expected) and the rest is the decoder's input.
@Suite struct FuzzRegressionTests {
    static func input(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions/\(name)")
        return [UInt8](try Data(contentsOf: url))
    }

    @Test("An OFFER whose name is over 4096 bytes decodes (the receiver refuses it with badName); no encoder makes one")
    func offerNameOver4096() throws {
        let raw = try Self.input("offer-name-over-4096.bin")
        let bytes = Array(raw.dropFirst())
        var decoder = RecordDecoder(expectingPreamble: raw[0] & 1 == 0)
        var offers: [Offer] = []
        do {
            try decoder.feed(bytes[...]) { message in
                if case .record(.offer(let offer)) = message { offers.append(offer) }
            }
        } catch {
            // What follows the OFFER in this input may be damaged; the OFFER is what matters.
        }
        let offer = try #require(offers.first, "the OFFER did not decode")
        #expect(offer.name.utf8.count > ProtocolLimits.maxNameBytes)
        var encoded: [UInt8] = []
        #expect(throws: FramingError.self) { try RecordEncoder.append(.offer(offer), to: &encoded) }
    }
}
