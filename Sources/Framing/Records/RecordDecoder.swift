/// An incremental decoder for one direction of an xfer connection (SPEC.md §3–§4).
///
/// Feed it bytes in pieces of any size — down to one byte at a time — and pull complete
/// messages out; `nil` means it needs more bytes. Its one buffer grows with the records it
/// meets, never beyond ``ProtocolLimits/headerSize`` + ``ProtocolLimits/maxPayload`` bytes:
/// a header whose length is over the limit is rejected as soon as its 10 bytes are in,
/// before anything is buffered for it.
///
/// ```swift
/// var decoder = RecordDecoder()
/// let count = try decoder.readFrom { space in try socket.read(into: space) }  // no copy
/// while let message = try decoder.next() { ... }
/// ```
///
/// After an error the stream cannot be resynchronised: every later call throws the same
/// error. At end of input, call ``finish()``: a record cut short is an error, never a
/// silent success.
public struct RecordDecoder: Sendable {
    /// What the decoder yields.
    public enum Message: Hashable, Sendable {
        /// The connection's first 8 bytes.
        case preamble(Preamble)
        /// A record whose length, checksum and fields were checked.
        case record(Record)
    }

    private enum State: Sendable {
        case awaitingPreamble
        case awaitingHeader
        case awaitingPayload(kind: RecordKind, flags: UInt8, length: Int, crc: UInt32)
        case failed(FramingError)
    }

    /// The most the buffer ever holds: one record and its header.
    public static let capacity = ProtocolLimits.headerSize + ProtocolLimits.maxPayload
    /// Reads are offered at least this much room, so a socket read is never tiny.
    private static let minimumReadRoom = 64 * 1024

    /// The largest payload accepted, at most ``ProtocolLimits/maxPayload``. A server lowers
    /// it until a handshake ends (SPEC.md §9: a peer nobody has verified gets a few KiB of
    /// memory, not a megabyte), and raises it again after.
    public var payloadLimit = ProtocolLimits.maxPayload {
        didSet { payloadLimit = max(0, min(payloadLimit, ProtocolLimits.maxPayload)) }
    }

    /// Room offered to a read: a socket read is never tiny, nor larger than the biggest
    /// message allowed now.
    private var readRoom: Int {
        min(RecordDecoder.minimumReadRoom, ProtocolLimits.headerSize + max(payloadLimit, ProtocolLimits.preambleSize))
    }

    private var storage: [UInt8]
    /// After an authenticated handshake: opens every record (SPEC.md §13.4).
    private var opener: (any RecordOpening)?
    /// Where the last message returned lies in `storage` (for ``lastMessageBytes``).
    private var lastMessage = 0..<0
    private var readIndex = 0
    private var writeIndex = 0
    private var state: State

    /// Creates a decoder.
    /// - Parameter expectingPreamble: Whether the input starts with the 8-byte preamble
    ///   (true for a whole connection; false to decode bare records).
    public init(expectingPreamble: Bool = true) {
        storage = []
        state = expectingPreamble ? .awaitingPreamble : .awaitingHeader
    }

    /// From the next record on, every record must be a SEALED record that `opener` opens
    /// (SPEC.md §13.4); the one exception is the server's unsealed refusal of a client's
    /// proof (a fatal ERROR `unauthenticated`) in place of its first sealed record. Anything
    /// else — a record that does not open, an unsealed record, an outer length or checksum
    /// error — throws ``FramingError/sealBroken(_:)``, and the decoder stays failed.
    public mutating func startOpening(_ opener: some RecordOpening) { self.opener = opener }

    /// Whether records are being opened (``startOpening(_:)`` was called).
    public var isOpening: Bool { opener != nil }

    /// The exact bytes of the message ``next()`` returned last (a preamble, or a record's
    /// header and payload as they arrived), for an authentication transcript, which covers
    /// what was sent, not a re-encoding. Valid until the next call that adds input; after
    /// ``startOpening(_:)`` the payload part holds plaintext.
    public var lastMessageBytes: [UInt8] { Array(storage[lastMessage]) }

    /// The size of the message being received (a record's header and payload) once its
    /// header has arrived; `nil` between messages and while a header is incomplete.
    public var awaitedMessageSize: Int? {
        if case .awaitingPayload(_, _, let length, _) = state { return ProtocolLimits.headerSize + length }
        return nil
    }

    /// Bytes received but not yet returned as part of a message.
    public var bufferedByteCount: Int { writeIndex - readIndex }

    /// Lets `body` write new input straight into the decoder's buffer, with no copy.
    /// - Parameter body: Receives free space (never empty) and returns how many bytes it
    ///   wrote there (0 for end of input).
    /// - Returns: What `body` returned.
    public mutating func readFrom(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        makeRoom()
        let start = writeIndex
        let written = try storage.withUnsafeMutableBytes { bytes in
            let space = UnsafeMutableRawBufferPointer(rebasing: bytes[start...])
            let count = try body(space)
            precondition(count >= 0 && count <= space.count, "readFrom body reported more bytes than it had room for")
            return count
        }
        writeIndex += written
        return written
    }

    /// Copies `bytes` in and calls `onMessage` for each complete message, buffering only
    /// the incomplete tail.
    public mutating func feed<Bytes: Collection<UInt8>>(
        _ bytes: Bytes,
        onMessage: (Message) throws -> Void
    ) throws {
        var rest = bytes[...]
        while true {
            while let message = try next() { try onMessage(message) }
            guard !rest.isEmpty else { return }
            let taken = readFrom { space in
                let count = min(space.count, rest.count)
                _ = space.initializeMemory(as: UInt8.self, from: rest.prefix(count))
                return count
            }
            rest = rest.dropFirst(taken)
        }
    }

    /// The next complete message, or `nil` when more input is needed.
    ///
    /// A returned ``Record/data(_:)`` slice shares this decoder's buffer; drop it before the
    /// next call that adds input, or that call copies the buffer.
    /// - Throws: ``FramingError`` when the bytes are not a valid message; the decoder is
    ///   then finished and throws the same error again.
    public mutating func next() throws(FramingError) -> Message? {
        do {
            return try decodeNext()
        } catch {
            var failure = error
            if opener != nil {
                // Once the layer is on, a damaged outer record is as good as an altered one:
                // nothing about it can be trusted, so nothing is said about it either.
                switch error {
                case .payloadTooLarge, .checksumMismatch: failure = .sealBroken(error.description)
                default: break
                }
            }
            state = .failed(failure)
            throw failure
        }
    }

    /// Declares the end of input.
    /// - Throws: ``FramingError/truncatedInput(buffered:)`` if bytes of an incomplete
    ///   preamble or record are left, or the error that already stopped the decoder.
    public func finish() throws(FramingError) {
        if case .failed(let error) = state { throw error }
        guard bufferedByteCount == 0 else { throw .truncatedInput(buffered: bufferedByteCount) }
    }

    private mutating func decodeNext() throws(FramingError) -> Message? {
        switch state {
        case .failed(let error):
            throw error
        case .awaitingPreamble:
            guard bufferedByteCount >= ProtocolLimits.preambleSize else { return nil }
            let preamble = try Preamble(decoding: storage[readIndex..<readIndex + ProtocolLimits.preambleSize])
            lastMessage = readIndex..<readIndex + ProtocolLimits.preambleSize
            readIndex += ProtocolLimits.preambleSize
            state = .awaitingHeader
            return .preamble(preamble)
        case .awaitingHeader:
            guard bufferedByteCount >= ProtocolLimits.headerSize else { return nil }
            let kind = RecordKind(rawValue: storage[readIndex])
            let flags = storage[readIndex + 1]
            let length = readUInt32(at: readIndex + 2)
            let crc = readUInt32(at: readIndex + 6)
            // Checks in the order of SPEC.md §4: the length first (nothing is buffered for a
            // payload over the limit), then the CRC over header and payload, and only then
            // the kind, the flags and the fields, which the CRC covers.
            guard let payloadLength = Int(exactly: length), payloadLength <= payloadLimit else {
                throw .payloadTooLarge(kind: kind, length: length, limit: payloadLimit)
            }
            state = .awaitingPayload(kind: kind, flags: flags, length: payloadLength, crc: crc)
            return try decodeNext()
        case .awaitingPayload(let kind, let flags, let length, let expected):
            guard bufferedByteCount >= ProtocolLimits.headerSize + length else { return nil }
            let payloadStart = readIndex + ProtocolLimits.headerSize
            let actual = storage.withUnsafeBytes { bytes in
                let header = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[readIndex..<readIndex + 6]))
                return CRC32C.checksum(
                    UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<payloadStart + length]),
                    continuing: header
                )
            }
            guard actual == expected else { throw .checksumMismatch(kind: kind, expected: expected, actual: actual) }
            lastMessage = readIndex..<payloadStart + length
            readIndex = payloadStart + length
            state = .awaitingHeader
            if opener != nil {
                return .record(try open(kind: kind, flags: flags, payloadStart: payloadStart, length: length))
            }
            guard kind != .sealed else {
                throw .invalidField(
                    kind: kind,
                    field: "kind",
                    reason: "a SEALED record before an authenticated handshake ended"
                )
            }
            return .record(
                try Record.decode(kind: kind, flags: flags, payload: storage[payloadStart..<payloadStart + length])
            )
        }
    }

    /// Opens the SEALED record whose checked payload lies at `payloadStart`, and decodes the
    /// record inside it.
    private mutating func open(kind: RecordKind, flags: UInt8, payloadStart: Int, length: Int) throws(FramingError)
        -> Record
    {
        guard var opener else { preconditionFailure("open without an opener") }
        guard kind == .sealed else {
            let payload = storage[payloadStart..<payloadStart + length]
            // The server cannot seal its refusal of our proof (it has no verified session):
            // that one fatal ERROR may come unsealed, first. An attacker who injects it only
            // ends the connection, which it can do anyway.
            if opener.sequence == 0, kind == .error,
                case .error(let error)? = try? Record.decode(kind: kind, flags: flags, payload: payload),
                error.fatal, error.code == .unauthenticated
            {
                return .error(error)
            }
            throw .sealBroken("an unsealed \(kind) record where only SEALED records may come")
        }
        let headerStart = payloadStart - ProtocolLimits.headerSize
        // Nothing else may hold `storage` here (a slice would make this copy the whole buffer).
        let opened = storage.withUnsafeMutableBytes { bytes in
            opener.open(
                header: UnsafeRawBufferPointer(rebasing: bytes[headerStart..<headerStart + 6]),
                payload: UnsafeMutableRawBufferPointer(rebasing: bytes[payloadStart..<payloadStart + length])
            )
        }
        let sequence = self.opener?.sequence ?? 0
        self.opener = opener
        guard opened else {
            throw .sealBroken(
                "sealed record \(sequence) did not open: altered, dropped, reordered, repeated or injected"
            )
        }
        let innerKind = RecordKind(rawValue: storage[payloadStart])
        guard ![RecordKind.hello, .welcome, .auth, .sealed].contains(innerKind) else {
            throw .invalidField(kind: innerKind, field: "kind", reason: "not allowed inside a SEALED record")
        }
        let innerEnd = payloadStart + length - CipherSuite.tagByteCount
        return try Record.decode(
            kind: innerKind,
            flags: storage[payloadStart + 1],
            payload: storage[payloadStart + 2..<innerEnd]
        )
    }

    private func readUInt32(at index: Int) -> UInt32 {
        UInt32(storage[index]) << 24 | UInt32(storage[index + 1]) << 16 | UInt32(storage[index + 2]) << 8
            | UInt32(storage[index + 3])
    }

    /// Makes room for the next read: moves buffered bytes to the front when the current
    /// message could not otherwise fit, or when too little room is left for an efficient
    /// read, and grows the buffer up to the size of the current message (already checked
    /// against the limit), never beyond ``ProtocolLimits/headerSize`` + ``ProtocolLimits/maxPayload``.
    private mutating func makeRoom() {
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
        let needed: Int
        switch state {
        case .awaitingPayload(_, _, let length, _): needed = ProtocolLimits.headerSize + length
        case .awaitingPreamble: needed = ProtocolLimits.preambleSize
        default: needed = ProtocolLimits.headerSize
        }
        if readIndex > 0,
            readIndex + needed > storage.count || storage.count - writeIndex < readRoom
        {
            let count = bufferedByteCount
            let from = readIndex
            storage.withUnsafeMutableBytes { bytes in
                bytes.baseAddress!.copyMemory(from: bytes.baseAddress! + from, byteCount: count)
            }
            readIndex = 0
            writeIndex = count
        }
        if storage.count < needed || storage.count - writeIndex < readRoom {
            let grown = min(RecordDecoder.capacity, max(needed, storage.count * 2, readRoom))
            if grown > storage.count { storage += [UInt8](repeating: 0, count: grown - storage.count) }
        }
    }
}
