/// Writes records into a caller-supplied buffer (SPEC.md §4).
///
/// Every record is a 10-byte header followed by its payload:
///
/// ```
///  0      1       2                6                10
///  +------+-------+----------------+----------------+-----------
///  | kind | flags | payload length | CRC-32C        | payload ...
///  +------+-------+----------------+----------------+-----------
/// ```
///
/// The CRC-32C covers header bytes 0–5 followed by the payload. For DATA, the hot path,
/// ``sealData(in:)`` writes the header in front of payload bytes the caller already placed
/// (for instance with `read(2)` straight from a file), so the payload is never copied.
public enum RecordEncoder {
    /// Appends one complete record (header and payload) to `buffer`.
    /// - Throws: ``FramingError/invalidField(kind:field:reason:)`` when a field is over its
    ///   limit (a name over 4096 bytes, an empty or over-long DATA payload, …). Messages
    ///   longer than the limit are cut at a character boundary instead.
    public static func append(_ record: Record, to buffer: inout [UInt8]) throws(FramingError) {
        try validate(record)
        let start = buffer.count
        buffer.append(record.kind.rawValue)
        buffer.append(record.flags)
        buffer.append(contentsOf: [0, 0, 0, 0, 0, 0, 0, 0])
        record.limitingMessages.appendPayload(to: &buffer)
        let payloadLength = buffer.count - start - ProtocolLimits.headerSize
        guard payloadLength <= ProtocolLimits.maxPayload else {
            buffer.removeSubrange(start...)
            throw .invalidField(kind: record.kind, field: "payload", reason: "\(payloadLength) bytes, over the limit")
        }
        buffer.withUnsafeMutableBytes { bytes in
            seal(UnsafeMutableRawBufferPointer(rebasing: bytes[start...]))
        }
    }

    /// Appends a DATA record carrying `payload` to `buffer`: one copy of the payload, into
    /// the caller's buffer. `payload` must hold 1 to ``ProtocolLimits/maxDataPayload`` bytes.
    public static func appendData(_ payload: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        precondition((1...ProtocolLimits.maxDataPayload).contains(payload.count), "DATA payload size out of range")
        let start = buffer.count
        buffer.append(RecordKind.data.rawValue)
        buffer.append(contentsOf: [0, 0, 0, 0, 0, 0, 0, 0, 0])
        buffer.append(contentsOf: payload)
        buffer.withUnsafeMutableBytes { bytes in
            seal(UnsafeMutableRawBufferPointer(rebasing: bytes[start...]))
        }
    }

    /// Turns `record` into a DATA record in place: its first ``ProtocolLimits/headerSize``
    /// bytes are overwritten with the header, the rest is the payload, left untouched.
    /// - Parameter record: Header space followed by 1 to ``ProtocolLimits/maxDataPayload``
    ///   payload bytes.
    public static func sealData(in record: UnsafeMutableRawBufferPointer) {
        let payloadCount = record.count - ProtocolLimits.headerSize
        precondition((1...ProtocolLimits.maxDataPayload).contains(payloadCount), "DATA payload size out of range")
        record[0] = RecordKind.data.rawValue
        record[1] = 0
        seal(record)
    }

    /// Fills in length and CRC of a record whose kind, flags and payload are in place.
    private static func seal(_ record: UnsafeMutableRawBufferPointer) {
        let length = UInt32(record.count - ProtocolLimits.headerSize)
        record.storeBytes(of: length.bigEndian, toByteOffset: 2, as: UInt32.self)
        let headerCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: record[0..<6]))
        let crc = CRC32C.checksum(
            UnsafeRawBufferPointer(rebasing: record[ProtocolLimits.headerSize...]),
            continuing: headerCRC
        )
        record.storeBytes(of: crc.bigEndian, toByteOffset: 6, as: UInt32.self)
    }

    private static func validate(_ record: Record) throws(FramingError) {
        // One stream's records never carry the all-zero ID of the whole connection (SPEC.md §2).
        let streamID: TransferID? =
            switch record {
            case .offer(let offer): offer.transferID
            case .answer(let answer): answer.transferID
            case .progress(let progress): progress.transferID
            case .ack(let ack): ack.transferID
            default: nil
            }
        if let streamID, streamID == .none {
            throw .invalidField(
                kind: record.kind,
                field: "transfer id",
                reason: "all zero, which only a fatal ERROR may carry"
            )
        }
        switch record {
        case .hello(let hello): try validate(hello.parameters, kind: .hello)
        case .welcome(let welcome): try validate(welcome.parameters, kind: .welcome)
        case .offer(let offer):
            if offer.name.utf8.count > ProtocolLimits.maxNameBytes {
                throw .invalidField(
                    kind: .offer,
                    field: "name",
                    reason: "\(offer.name.utf8.count) bytes, over the limit"
                )
            }
            if offer.modificationTime.nanoseconds >= 1_000_000_000 {
                throw .invalidField(kind: .offer, field: "mtime nanoseconds", reason: "not below 10^9")
            }
            if let size = offer.size, offer.offset > size || size == Offer.unknownSize {
                throw .invalidField(kind: .offer, field: "offset", reason: "\(offer.offset) is past the size \(size)")
            }
            if offer.size == nil && offer.offset != 0 {
                throw .invalidField(kind: .offer, field: "offset", reason: "a stream of unknown size starts at 0")
            }
        case .error(let error):
            if !error.fatal && error.transferID == .none {
                throw .invalidField(kind: .error, field: "transfer id", reason: "all zero in a non-fatal ERROR")
            }
        case .data(let bytes):
            if !(1...ProtocolLimits.maxDataPayload).contains(bytes.count) {
                throw .invalidField(
                    kind: .data,
                    field: "payload",
                    reason: "\(bytes.count) bytes; DATA takes 1 to 1 MiB"
                )
            }
        case .progress(let progress):
            if progress.durable > progress.received {
                throw .invalidField(kind: .progress, field: "durable", reason: "more than received")
            }
        case .unknown(let kind, _, _):
            if !kind.isIgnorable { throw .unknownKind(kind) }
        default: break
        }
    }

    private static func validate(_ parameters: [Parameter], kind: RecordKind) throws(FramingError) {
        if parameters.count > ProtocolLimits.maxParameters {
            throw .invalidField(kind: kind, field: "parameter count", reason: "\(parameters.count), over the limit")
        }
        if parameters.contains(where: { $0.value.count > ProtocolLimits.maxParameterValueBytes }) {
            throw .invalidField(kind: kind, field: "parameter length", reason: "over the limit")
        }
    }
}

extension Record {
    /// The same record with every human-readable message cut to the protocol's limit.
    fileprivate var limitingMessages: Record {
        switch self {
        case .answer(var answer):
            answer.message = answer.message.truncatedUTF8(ProtocolLimits.maxMessageBytes)
            return .answer(answer)
        case .cancel(var cancel):
            cancel.message = cancel.message.truncatedUTF8(ProtocolLimits.maxMessageBytes)
            return .cancel(cancel)
        case .error(var error):
            error.message = error.message.truncatedUTF8(ProtocolLimits.maxMessageBytes)
            return .error(error)
        default: return self
        }
    }
}

extension String {
    /// The longest prefix of whole characters whose UTF-8 form fits in `limit` bytes.
    func truncatedUTF8(_ limit: Int) -> String {
        guard utf8.count > limit else { return self }
        var result = ""
        for character in self {
            guard result.utf8.count + character.utf8.count <= limit else { break }
            result.append(character)
        }
        return result
    }
}
