// The payload layout of each record kind (SPEC.md §6–§7), both directions.

extension Record {
    /// The header's flag byte for this record.
    var flags: UInt8 {
        switch self {
        case .offer(let offer):
            return (offer.awaitAnswer ? Offer.Flags.awaitAnswer : 0) | (offer.blocks ? Offer.Flags.blocks : 0)
        case .ack(let ack): return (ack.durable ? Ack.Flags.durable : 0) | (ack.binding != nil ? Ack.Flags.bound : 0)
        case .error(let error): return error.fatal ? ErrorRecord.Flags.fatal : 0
        case .unknown(_, let flags, _): return flags
        default: return 0
        }
    }

    /// Appends the payload bytes (without header) to `buffer`.
    func appendPayload(to buffer: inout [UInt8]) {
        switch self {
        case .hello(let hello): appendParameters(hello.parameters, to: &buffer)
        case .welcome(let welcome): appendParameters(welcome.parameters, to: &buffer)
        case .offer(let offer):
            buffer.append(contentsOf: offer.transferID.bytes)
            buffer.appendBigEndian(offer.size ?? Offer.unknownSize)
            buffer.appendBigEndian(offer.offset)
            buffer.appendBigEndian(offer.mode)
            buffer.appendBigEndian(offer.modificationTime.seconds)
            buffer.appendBigEndian(offer.modificationTime.nanoseconds)
            buffer.appendString16(offer.name)
        case .answer(let answer):
            buffer.append(contentsOf: answer.transferID.bytes)
            buffer.append(answer.decision.rawValue)
            buffer.appendBigEndian(answer.offset)
            buffer.appendBigEndian(answer.code.rawValue)
            buffer.appendString16(answer.message)
        case .data(let bytes): buffer.append(contentsOf: bytes)
        case .end(let end):
            buffer.appendBigEndian(end.totalLength)
            buffer.appendBigEndian(end.digest)
        case .cancel(let cancel):
            buffer.appendBigEndian(cancel.code.rawValue)
            buffer.appendString16(cancel.message)
        case .progress(let progress):
            buffer.append(contentsOf: progress.transferID.bytes)
            buffer.appendBigEndian(progress.received)
            buffer.appendBigEndian(progress.durable)
        case .ack(let ack):
            buffer.append(contentsOf: ack.transferID.bytes)
            buffer.appendBigEndian(ack.committedLength)
            buffer.appendBigEndian(ack.digest)
            if let binding = ack.binding { buffer.append(contentsOf: binding.bytes) }
        case .error(let error):
            buffer.appendBigEndian(error.code.rawValue)
            buffer.append(contentsOf: error.transferID.bytes)
            buffer.appendString16(error.message)
        case .goodbye, .keepAlive: break
        case .auth(let proof): buffer.append(contentsOf: proof.code)
        case .session(let grant):
            buffer.append(contentsOf: grant.sessionID)
            buffer.append(contentsOf: grant.token)
            buffer.appendBigEndian(grant.blockSize)
        case .join(let join):
            buffer.append(contentsOf: join.sessionID)
            buffer.append(contentsOf: join.token)
        case .have(let have):
            buffer.append(contentsOf: have.transferID.bytes)
            buffer.appendBigEndian(have.blockCount)
            buffer.append(contentsOf: have.bitmap)
        case .block(let block):
            buffer.append(contentsOf: block.transferID.bytes)
            buffer.appendBigEndian(block.index)
        case .blockEnd(let end): buffer.appendBigEndian(end.digest)
        case .blockAck(let ack):
            buffer.append(contentsOf: ack.transferID.bytes)
            buffer.appendBigEndian(ack.index)
        case .unknown(_, _, let payload): buffer.append(contentsOf: payload)
        }
    }

    /// Decodes a payload whose CRC has been checked.
    static func decode(kind: RecordKind, flags: UInt8, payload: ArraySlice<UInt8>) throws(FramingError) -> Record {
        let known = RecordKind.all.contains(kind)
        if flags & ~kind.definedFlags != 0 && known {
            throw .unknownFlags(kind: kind, flags: flags & ~kind.definedFlags)
        }
        var reader = PayloadReader(payload, kind: kind)
        let record: Record
        switch kind {
        case .hello: record = .hello(Hello(parameters: try readParameters(&reader, kind: kind)))
        case .welcome: record = .welcome(Welcome(parameters: try readParameters(&reader, kind: kind)))
        case .offer:
            let id = try readStreamID(&reader, kind: kind)
            let size = try reader.read(UInt64.self, "size")
            let offset = try reader.read(UInt64.self, "offset")
            let mode = try reader.read(UInt32.self, "mode")
            let seconds = try reader.read(Int64.self, "mtime seconds")
            let nanoseconds = try reader.read(UInt32.self, "mtime nanoseconds")
            // A name over ProtocolLimits.maxNameBytes is still a well-formed record (the u16
            // length bounds it): the receiver refuses it with `badName` (SPEC.md §9) instead
            // of ending the connection.
            let name = try reader.readString16("name", limit: Int(UInt16.max))
            guard nanoseconds < 1_000_000_000 else {
                throw .invalidField(kind: kind, field: "mtime nanoseconds", reason: "\(nanoseconds) ≥ 10^9")
            }
            if size != Offer.unknownSize && offset > size {
                throw .invalidField(kind: kind, field: "offset", reason: "\(offset) is past the size \(size)")
            }
            let blocks = flags & Offer.Flags.blocks != 0
            if blocks && (flags & Offer.Flags.awaitAnswer == 0 || size == Offer.unknownSize || size == 0 || offset != 0)
            {
                throw .invalidField(
                    kind: kind,
                    field: "flags",
                    reason: "blocks needs awaitAnswer, a known size of at least 1 and offset 0"
                )
            }
            if size == Offer.unknownSize && offset != 0 {
                throw .invalidField(
                    kind: kind,
                    field: "offset",
                    reason: "\(offset) for a stream of unknown size, which can only start at 0"
                )
            }
            var offer = Offer(
                transferID: id,
                size: size == Offer.unknownSize ? nil : size,
                offset: offset,
                mode: mode,
                modificationTime: Timestamp(seconds: seconds, nanoseconds: nanoseconds),
                name: name,
                awaitAnswer: flags & Offer.Flags.awaitAnswer != 0
            )
            offer.blocks = blocks
            record = .offer(offer)
        case .answer:
            let id = try readStreamID(&reader, kind: kind)
            let rawDecision = try reader.read(UInt8.self, "decision")
            guard let decision = Answer.Decision(rawValue: rawDecision) else {
                throw .invalidField(kind: kind, field: "decision", reason: "unknown value \(rawDecision)")
            }
            let offset = try reader.read(UInt64.self, "offset")
            let code = ErrorCode(rawValue: try reader.read(UInt16.self, "code"))
            let message = try reader.readString16("message", limit: ProtocolLimits.maxMessageBytes)
            record = .answer(Answer(transferID: id, decision: decision, offset: offset, code: code, message: message))
        case .data:
            guard !payload.isEmpty else {
                throw .invalidField(kind: kind, field: "payload", reason: "DATA must not be empty")
            }
            return .data(payload)
        case .end:
            record = .end(
                End(
                    totalLength: try reader.read(UInt64.self, "total length"),
                    digest: try reader.read(UInt64.self, "digest")
                )
            )
        case .cancel:
            let code = ErrorCode(rawValue: try reader.read(UInt16.self, "code"))
            record = .cancel(
                Cancel(code: code, message: try reader.readString16("message", limit: ProtocolLimits.maxMessageBytes))
            )
        case .progress:
            let id = try readStreamID(&reader, kind: kind)
            let received = try reader.read(UInt64.self, "received")
            let durable = try reader.read(UInt64.self, "durable")
            guard durable <= received else {
                throw .invalidField(
                    kind: kind,
                    field: "durable",
                    reason: "\(durable) is more than received \(received)"
                )
            }
            record = .progress(Progress(transferID: id, received: received, durable: durable))
        case .ack:
            let id = try readStreamID(&reader, kind: kind)
            let length = try reader.read(UInt64.self, "committed length")
            let digest = try reader.read(UInt64.self, "digest")
            let binding =
                flags & Ack.Flags.bound != 0
                ? AckBinding(bytes: Array(try reader.readBytes(AckBinding.byteCount, "binding"))) : nil
            record = .ack(
                Ack(
                    transferID: id,
                    committedLength: length,
                    digest: digest,
                    durable: flags & Ack.Flags.durable != 0,
                    binding: binding
                )
            )
        case .error:
            let code = ErrorCode(rawValue: try reader.read(UInt16.self, "code"))
            let id = try readTransferID(&reader)
            let message = try reader.readString16("message", limit: ProtocolLimits.maxMessageBytes)
            let fatal = flags & ErrorRecord.Flags.fatal != 0
            guard fatal || id != .none else {
                throw .invalidField(
                    kind: kind,
                    field: "transfer id",
                    reason: "all zero in a non-fatal ERROR: an error of the whole connection is fatal"
                )
            }
            record = .error(ErrorRecord(code: code, transferID: id, fatal: fatal, message: message))
        case .goodbye: record = .goodbye
        case .keepAlive: record = .keepAlive
        case .auth: record = .auth(AuthProof(unchecked: Array(try reader.readBytes(AuthProof.byteCount, "proof"))))
        case .session:
            let id = try readSessionID(&reader, kind: kind)
            let token = Array(try reader.readBytes(SessionGrant.tokenByteCount, "token"))
            let blockSize = try reader.read(UInt32.self, "block size")
            guard SessionGrant.isValidBlockSize(blockSize) else {
                throw .invalidField(
                    kind: kind,
                    field: "block size",
                    reason: "\(blockSize) is not a power of two from 65536 to 67108864"
                )
            }
            record = .session(SessionGrant(sessionID: id, token: token, blockSize: blockSize))
        case .join:
            let id = try readSessionID(&reader, kind: kind)
            record = .join(
                Join(sessionID: id, token: Array(try reader.readBytes(SessionGrant.tokenByteCount, "token")))
            )
        case .have:
            let id = try readStreamID(&reader, kind: kind)
            let count = try reader.read(UInt32.self, "block count")
            let bytes = (Int(count) + 7) / 8
            guard count > 0, reader.remaining == bytes else {
                throw .invalidField(
                    kind: kind,
                    field: "bitmap",
                    reason: "\(reader.remaining) bytes for \(count) blocks (needs \(bytes), and at least one block)"
                )
            }
            let bitmap = Array(try reader.readBytes(bytes, "bitmap"))
            if count % 8 != 0, bitmap[bytes - 1] >> (count % 8) != 0 {
                throw .invalidField(kind: kind, field: "bitmap", reason: "bits set past block \(count - 1)")
            }
            record = .have(Have(transferID: id, blockCount: count, bitmap: bitmap))
        case .block:
            let id = try readStreamID(&reader, kind: kind)
            record = .block(BlockStart(transferID: id, index: try reader.read(UInt32.self, "index")))
        case .blockEnd: record = .blockEnd(BlockEnd(digest: try reader.read(UInt64.self, "digest")))
        case .blockAck:
            let id = try readStreamID(&reader, kind: kind)
            record = .blockAck(BlockAck(transferID: id, index: try reader.read(UInt32.self, "index")))
        default:
            guard kind.isIgnorable else { throw .unknownKind(kind) }
            return .unknown(kind: kind, flags: flags, payload: Array(payload))
        }
        try reader.finish()
        return record
    }
}

private func appendParameters(_ parameters: [Parameter], to buffer: inout [UInt8]) {
    buffer.appendBigEndian(UInt16(truncatingIfNeeded: parameters.count))
    for parameter in parameters {
        buffer.appendBigEndian(parameter.id)
        buffer.appendBigEndian(UInt16(truncatingIfNeeded: parameter.value.count))
        buffer.append(contentsOf: parameter.value)
    }
}

private func readParameters(_ reader: inout PayloadReader, kind: RecordKind) throws(FramingError) -> [Parameter] {
    let count = Int(try reader.read(UInt16.self, "parameter count"))
    guard count <= ProtocolLimits.maxParameters else {
        throw .invalidField(
            kind: kind,
            field: "parameter count",
            reason: "\(count), over the limit of \(ProtocolLimits.maxParameters)"
        )
    }
    var parameters: [Parameter] = []
    for _ in 0..<count {
        let id = try reader.read(UInt16.self, "parameter id")
        let length = Int(try reader.read(UInt16.self, "parameter length"))
        guard length <= ProtocolLimits.maxParameterValueBytes else {
            throw .invalidField(
                kind: kind,
                field: "parameter length",
                reason: "\(length), over the limit of \(ProtocolLimits.maxParameterValueBytes)"
            )
        }
        parameters.append(Parameter(id: id, value: Array(try reader.readBytes(length, "parameter value"))))
    }
    return parameters
}

private func readTransferID(_ reader: inout PayloadReader) throws(FramingError) -> TransferID {
    TransferID(unchecked: Array(try reader.readBytes(16, "transfer id")))
}

/// A session ID (SESSION, JOIN): 16 bytes, never all zero.
private func readSessionID(_ reader: inout PayloadReader, kind: RecordKind) throws(FramingError) -> [UInt8] {
    let id = Array(try reader.readBytes(SessionGrant.idByteCount, "session id"))
    guard id.contains(where: { $0 != 0 }) else {
        throw .invalidField(kind: kind, field: "session id", reason: "all zero")
    }
    return id
}

/// The transfer ID of one stream (OFFER, ANSWER, PROGRESS, ACK): never all zero, which
/// names the whole connection and is only for a fatal ERROR (SPEC.md §2).
private func readStreamID(_ reader: inout PayloadReader, kind: RecordKind) throws(FramingError) -> TransferID {
    let id = try readTransferID(&reader)
    guard id != .none else {
        throw .invalidField(kind: kind, field: "transfer id", reason: "all zero, which only a fatal ERROR may carry")
    }
    return id
}
