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

// SHA-256 for the pre-shared-key handshake (issue 8): the SHA extensions against the portable
// C code on the same 64 MiB, and HMAC-SHA256 of a 64-byte message (a handshake proof's size)
// in operations per second: key setup, update and finalize each time.
/// Runs `body` (one operation) in batches for about `seconds`; best of 5, in operations/s.
func measureOperations(_ name: String, seconds: Double = 0.4, _ body: () -> Void) -> Double {
    var best = 0.0
    for _ in 0..<5 {
        var operations = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            for _ in 0..<1000 { body() }
            operations += 1000
            elapsed = now() - start
        } while elapsed < seconds / 5
        best = max(best, Double(operations) / elapsed)
    }
    let padded = name.padding(toLength: 52, withPad: " ", startingAt: 0)
    print("\(padded) \(String(format: "%6.2f", best / 1e6)) M ops/s")
    return best
}

var sha256Rates: [SHA256.Implementation: Double] = [:]
for implementation in SHA256.Implementation.allCases {
    let label = "SHA-256 \(implementation) (64 MiB buffer)"
    guard SHA256(implementation: implementation) != nil else {
        print(label.padding(toLength: 52, withPad: " ", startingAt: 0) + "   n/a (CPU lacks it)")
        continue
    }
    sha256Rates[implementation] = data.withUnsafeBytes { raw in
        measure(label, bytes: size) {
            var hash = SHA256(implementation: implementation)!
            hash.update(raw)
            sink &+= UInt64(hash.finalize()[0])
        }
    }
}
let hmacKey = [UInt8](repeating: 0x6B, count: 32)
let hmacMessage = [UInt8](repeating: 0x6D, count: 64)
var hmacRates: [SHA256.Implementation: Double] = [:]
for implementation in SHA256.availableImplementations {
    hmacRates[implementation] = hmacMessage.withUnsafeBytes { message in
        measureOperations("HMAC-SHA256 \(implementation), 64-byte message") {
            var mac = HMACSHA256(key: hmacKey, implementation: implementation)!
            mac.update(message)
            sink &+= UInt64(mac.finalize()[0])
        }
    }
}

// The sealed record layer (SPEC.md §13.4): 1 MiB - 18 inner payloads, as a keyed sender
// sends them, sealed in place and opened in place, per suite, on one core.
var aeadRates: [(CipherSuite, seal: Double, open: Double)] = []
if let reason = AEAD.unavailableReason {
    print("AEAD: n/a (\(reason))")
} else {
    let secret = TrafficSecret(key: [UInt8](repeating: 0x4B, count: 32), iv: [UInt8](repeating: 0x49, count: 12))
    let inner = RecordSealer.maxInnerPayload
    let recordSize = ProtocolLimits.headerSize + RecordSealer.overhead + inner
    let count = size / inner
    for suite in CipherSuite.allCases {
        var records = [UInt8](repeating: 0x5A, count: recordSize * count)
        var sealer = try! RecordSealer(suite: suite, secret: secret)
        let seal = measure("seal \(suite), 1 MiB records in place", bytes: inner * count) {
            records.withUnsafeMutableBytes { bytes in
                for index in 0..<count {
                    sealer.sealInPlace(
                        UnsafeMutableRawBufferPointer(rebasing: bytes[index * recordSize..<(index + 1) * recordSize])
                    )
                }
            }
        }
        // Open what a fresh sealer seals, record by record (the opener's sequence follows).
        var fresh = try! RecordSealer(suite: suite, secret: secret)
        records.withUnsafeMutableBytes { bytes in
            for index in 0..<count {
                fresh.sealInPlace(
                    UnsafeMutableRawBufferPointer(rebasing: bytes[index * recordSize..<(index + 1) * recordSize])
                )
            }
        }
        let sealedCopy = records
        var opened = 0
        // Opening decrypts in place, so each pass starts from a fresh copy of the ciphertext;
        // the copy is timed alone and taken out of the open rate.
        let copy = measure("  (copy of the ciphertext, taken out below)", bytes: inner * count) {
            records = sealedCopy
            records.withUnsafeMutableBytes { sink &+= UInt64($0[0]) }
        }
        let openWithCopy = measure("open \(suite) incl. the copy", bytes: inner * count) {
            records = sealedCopy  // opening decrypts in place; start each pass from ciphertext
            var opener = try! RecordOpener(suite: suite, secret: secret)
            records.withUnsafeMutableBytes { bytes in
                for index in 0..<count {
                    let start = index * recordSize
                    if opener.open(
                        header: UnsafeRawBufferPointer(rebasing: bytes[start..<start + 6]),
                        payload: UnsafeMutableRawBufferPointer(rebasing: bytes[start + 10..<start + recordSize])
                    ) {
                        opened += 1
                    }
                }
            }
        }
        precondition(opened > 0, "no record opened")
        let open = 1 / (1 / openWithCopy - 1 / copy)
        print(
            "open \(suite), 1 MiB records in place".padding(toLength: 52, withPad: " ", startingAt: 0)
                + String(format: " %6.2f GB/s", open)
        )
        aeadRates.append((suite, seal, open))
    }
}

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
if let hardware = sha256Rates[.hardware], let portable = sha256Rates[.portable] {
    print(
        String(
            format: "SHA-256: SHA-NI %.2fx portable, %.2fx memcpy; HMAC 64 B: SHA-NI %.2fx portable",
            hardware / portable,
            hardware / memcpyRate,
            (hmacRates[.hardware] ?? 0) / (hmacRates[.portable] ?? 1)
        )
    )
}
for (suite, seal, open) in aeadRates {
    print(
        String(
            format: "%@: seal %.2fx, open %.2fx memcpy",
            suite.description,
            seal / memcpyRate,
            open / memcpyRate
        )
    )
}
if sink == 42 { print("") }
