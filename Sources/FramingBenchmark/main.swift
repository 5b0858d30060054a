// Release-mode micro-benchmark of the Framing hot paths. Prints GB/s for this machine:
//   swift run -c release FramingBenchmark
// Baseline in the same run: memcpy of the same bytes (what any decoder that copies pays).

import Foundation
import Framing

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` (which processes `bytes` bytes) repeatedly for about `seconds`; best of 5.
func measure(_ name: String, bytes: Int, seconds: Double = 0.4, _ body: () -> Void) -> Double {
    var best = 0.0
    for _ in 0..<5 {
        var iterations = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            body()
            iterations += 1
            elapsed = now() - start
        } while elapsed < seconds / 5
        best = max(best, Double(bytes * iterations) / elapsed / 1e9)
    }
    let padded = name.padding(toLength: 52, withPad: " ", startingAt: 0)
    print("\(padded) \(String(format: "%6.2f", best)) GB/s")
    return best
}

var sink: UInt64 = 0
let size = 64 << 20
let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
let record = 256 << 10

print("xfer Framing benchmark (\(CRC32C.isHardwareAccelerated ? "CRC instruction present" : "no CRC instruction"))")
let memcpyRate = data.withUnsafeBytes { source in
    let target = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    defer { target.deallocate() }
    return measure("baseline: memcpy 64 MiB", bytes: size) { target.copyMemory(from: source) }
}
let hardware = data.withUnsafeBytes { raw in
    measure("CRC-32C hardware, 3 lanes (64 MiB buffer)", bytes: size) { sink &+= UInt64(CRC32C.checksum(raw)) }
}
_ = data.withUnsafeBytes { raw in
    measure("CRC-32C hardware, 256 KiB pieces", bytes: size) {
        var offset = 0
        while offset < size {
            sink &+= UInt64(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + record])))
            offset += record
        }
    }
}
let table = data.withUnsafeBytes { raw in
    measure("CRC-32C table fallback (slicing-by-8)", bytes: size) { sink &+= UInt64(CRC32C.tableChecksum(raw)) }
}
let digestRate = data.withUnsafeBytes { raw in
    measure("XXH64 stream digest", bytes: size) {
        var digest = StreamDigest()
        digest.update(raw)
        sink &+= digest.value
    }
}

// Encode: DATA records of 256 KiB sealed in place (payload already read into the buffer).
var records = [UInt8](repeating: 0, count: (size / record) * (record + ProtocolLimits.headerSize))
data.withUnsafeBytes { raw in
    records.withUnsafeMutableBytes { out in
        for index in 0..<(size / record) {
            let base = index * (record + ProtocolLimits.headerSize)
            UnsafeMutableRawBufferPointer(rebasing: out[(base + ProtocolLimits.headerSize)...]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: raw[index * record..<(index + 1) * record])
            )
        }
    }
}
let encodeRate = records.withUnsafeMutableBytes { out in
    measure("encode: seal 256 KiB DATA records in place", bytes: size) {
        for index in 0..<(size / record) {
            let base = index * (record + ProtocolLimits.headerSize)
            RecordEncoder.sealData(
                in: UnsafeMutableRawBufferPointer(rebasing: out[base..<base + record + ProtocolLimits.headerSize])
            )
        }
    }
}
var appended: [UInt8] = []
appended.reserveCapacity(record + 64)
_ = data.withUnsafeBytes { raw in
    measure("encode: appendData 256 KiB (one payload copy)", bytes: size) {
        for index in 0..<(size / record) {
            appended.removeAll(keepingCapacity: true)
            RecordEncoder.appendData(
                UnsafeRawBufferPointer(rebasing: raw[index * record..<(index + 1) * record]),
                to: &appended
            )
        }
    }
}

// Decode: the socket path. Input lands in the decoder's buffer through readFrom (here a
// memcpy stands in for read(2)); next() checks the CRC and slices the payload out.
var decodeOnly = 0.0
var decodedBytes = 0
let decodeWithCopy = records.withUnsafeBytes { input in
    measure("decode 256 KiB DATA, CRC checked, incl. copy in", bytes: size) {
        var decoder = RecordDecoder(expectingPreamble: false)
        var offset = 0
        while offset < input.count {
            offset += decoder.readFrom { space in
                let n = min(space.count, input.count - offset)
                space.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[offset..<offset + n]))
                return n
            }
            let start = now()
            while case .record(.data(let payload))? = try! decoder.next() { decodedBytes += payload.count }
            decodeOnly += now() - start
        }
    }
}
let decodeRate = Double(decodedBytes) / decodeOnly / 1e9
let parseLabel = "decode 256 KiB DATA, CRC checked, parse only".padding(toLength: 52, withPad: " ", startingAt: 0)
print(parseLabel + String(format: " %6.2f GB/s", decodeRate))

print("")
print("targets: hardware CRC ≥ 15 GB/s, fallback ≥ 1.5 GB/s, decode ≥ 10 GB/s")
let vsMemcpy: [Double] = [hardware / memcpyRate, decodeWithCopy / memcpyRate, decodeRate / memcpyRate]
print(
    String(
        format: "ratios vs memcpy: hardware CRC %.2fx, decode incl. copy %.2fx, decode parse-only %.2fx",
        vsMemcpy[0],
        vsMemcpy[1],
        vsMemcpy[2]
    )
)
let vsWire: [Double] = [hardware / table, digestRate / 2.5, encodeRate / 2.5]
print(
    String(
        format: "hardware/table %.1fx; XXH64 %.1fx and encode %.1fx the 2.5 GB/s loopback wire",
        vsWire[0],
        vsWire[1],
        vsWire[2]
    )
)
if sink == 42 { print("") }
