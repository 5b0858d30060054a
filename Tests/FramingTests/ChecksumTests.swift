import Framing
import Testing

@Suite struct CRC32CTests {
    static let check: [(String, [UInt8], UInt32)] = [
        ("123456789", Array("123456789".utf8), 0xE306_9283),
        ("RFC 3720 B.4: 32 × 0x00", [UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ("RFC 3720 B.4: 32 × 0xFF", [UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ("RFC 3720 B.4: 0...31", (0...31).map { UInt8($0) }, 0x46DD_794E),
        ("RFC 3720 B.4: 31...0", (0...31).reversed().map { UInt8($0) }, 0x113F_DB5C),
        ("empty", [], 0),
    ]

    @Test("Known check values, every implementation", arguments: check)
    func knownValues(name: String, bytes: [UInt8], expected: UInt32) {
        bytes.withUnsafeBytes { raw in
            #expect(CRC32C.checksum(raw) == expected, "\(name)")
            #expect(CRC32C.tableChecksum(raw) == expected, "\(name)")
            if let hardware = CRC32C.hardwareChecksum(raw) { #expect(hardware == expected, "\(name)") }
        }
    }

    @Test func hardwareIsPresentOnThisMachine() {
        // Every x86-64 machine this project runs on has SSE 4.2; if this fails, the
        // benchmarks measure the fallback.
        #if arch(x86_64)
            #expect(CRC32C.isHardwareAccelerated)
        #endif
    }

    /// A 1 MiB pattern whose CRC-32C was computed by Python's `crc32c` package.
    @Test func largeBufferMatchesIndependentImplementation() {
        let bytes = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        bytes.withUnsafeBytes { raw in
            #expect(CRC32C.checksum(raw) == 0x5274_BA12)
            #expect(CRC32C.tableChecksum(raw) == 0x5274_BA12)
        }
    }

    /// The three-lane path splits at 8192 × 3 and 256 × 3 bytes; lengths and alignments
    /// around those edges must agree with the table.
    @Test func hardwareAgreesWithTableAtEveryEdge() {
        var generator = SplitMix64(seed: 42)
        let bytes = (0..<(3 * 8192 * 2 + 1000)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let lengths = [0, 1, 7, 8, 9, 767, 768, 769, 24575, 24576, 24577, 3 * 8192 * 2 + 999]
        bytes.withUnsafeBytes { raw in
            for offset in 0..<9 {
                for length in lengths where offset + length <= raw.count {
                    let slice = UnsafeRawBufferPointer(rebasing: raw[offset..<offset + length])
                    #expect(CRC32C.checksum(slice) == CRC32C.tableChecksum(slice), "offset \(offset) length \(length)")
                }
            }
        }
    }

    @Test func continuingOverSplitsEqualsWhole() {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        bytes.withUnsafeBytes { raw in
            let whole = CRC32C.checksum(raw)
            for split in [0, 1, 5, 4096, 77_777, 100_000] {
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<split]))
                #expect(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[split...]), continuing: first) == whole)
                let tableFirst = CRC32C.tableChecksum(UnsafeRawBufferPointer(rebasing: raw[..<split]))
                #expect(
                    CRC32C.tableChecksum(UnsafeRawBufferPointer(rebasing: raw[split...]), continuing: tableFirst)
                        == whole
                )
            }
        }
    }
}

@Suite struct StreamDigestTests {
    /// Values from the reference xxHash (Python `xxhash.xxh64`, seed 0).
    @Test func knownValues() {
        #expect(digest(of: []) == 0xEF46_DB37_51D8_E999)
        #expect(digest(of: Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(digest(of: Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(digest(of: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }) == 0x9895_60CE_899D_661B)
    }

    @Test func everySplitGivesTheSameValue() {
        let bytes = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let whole = digest(of: bytes)
        for split in 0...bytes.count {
            var digest = StreamDigest()
            digest.update(bytes[..<split])
            digest.update(bytes[split...])
            #expect(digest.value == whole, "split at \(split)")
            #expect(digest.byteCount == 200)
        }
        var oneByOne = StreamDigest()
        for byte in bytes { oneByOne.update([byte]) }
        #expect(oneByOne.value == whole)
    }

    private func digest(of bytes: [UInt8]) -> UInt64 {
        var digest = StreamDigest()
        digest.update(bytes)
        return digest.value
    }
}

/// A small deterministic generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
