// libFuzzer entry point for RecordDecoder: any bytes, fed whole and in pieces whose sizes
// come from the input itself, must yield the same messages or the same error, never a
// crash, and re-encoding a decoded record must give back the bytes it came from.
// Built and run by scripts/fuzz.sh.

#if !FUZZ_ONE_MODULE  // scripts/fuzz.sh compiles Framing's sources into this module
    import Framing
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoder(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let preamble = bytes.first.map { $0 & 1 == 0 } ?? false
    // Bit 1: the decoder opens SEALED records (SPEC.md §13.4) under a fixed secret, so the
    // fuzzer can reach the inner decoding through seeds sealed with it (sealedSeed).
    let sealed = bytes.first.map { $0 & 2 != 0 } ?? false
    let input = Array(bytes.dropFirst())
    let whole = decode(input, preamble: preamble, sealed: sealed, piece: .max)
    let pieces = decode(input, preamble: preamble, sealed: sealed, piece: Int(bytes.last ?? 1) % 17 + 1)
    precondition(whole.messages == pieces.messages, "split input decoded differently")
    precondition(whole.error == pieces.error, "split input failed differently")
    for message in whole.messages {
        guard case .record(let record) = message else { continue }
        var encoded: [UInt8] = []
        do {
            try RecordEncoder.append(record, to: &encoded)
        } catch {
            // The one record a decoder accepts and an encoder refuses (SPEC.md §6.2, §9): an
            // OFFER whose name is over 4096 bytes, which a receiver answers with badName.
            if case .offer(let offer) = record, offer.name.utf8.count > ProtocolLimits.maxNameBytes { continue }
            preconditionFailure("a decoded record does not encode: \(error)")
        }
        let again = decode(encoded, preamble: false, sealed: false, piece: .max)
        precondition(again.messages == [message] && again.error == nil, "re-encoded record decodes differently")
    }
    return 0
}

/// The fuzzer's fixed traffic secret for sealed inputs.
let fuzzSecret = TrafficSecret(key: Array(0..<32), iv: Array(0..<12))

private func decode(_ bytes: [UInt8], preamble: Bool, sealed: Bool, piece: Int) -> (
    messages: [RecordDecoder.Message], error: FramingError?
) {
    var decoder = RecordDecoder(expectingPreamble: preamble)
    if sealed { decoder.startOpening(try! RecordOpener(suite: .aes256GCM, secret: fuzzSecret)) }
    var messages: [RecordDecoder.Message] = []
    var index = 0
    do {
        repeat {
            let end = index + min(piece, bytes.count - index)
            try decoder.feed(bytes[index..<end]) { message in
                if case .record(.data(let slice)) = message {
                    messages.append(.record(.data(Array(slice)[...])))
                } else {
                    messages.append(message)
                }
            }
            index = end
        } while index < bytes.count
        try decoder.finish()
        return (messages, nil)
    } catch let error as FramingError {
        return (messages, error)
    } catch {
        preconditionFailure("unexpected error type \(error)")
    }
}
