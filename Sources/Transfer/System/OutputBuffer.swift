import Framing

/// The sender's outgoing bytes. Small records (OFFER, END, small files' DATA) collect here
/// and leave in one `send`; file bytes are read straight into it behind a header gap and
/// sealed in place, so a payload is never copied in user space.
struct OutputBuffer: ~Copyable {
    private let storage: UnsafeMutableRawBufferPointer
    private(set) var count = 0
    private var scratch: [UInt8] = []
    /// After an authenticated handshake: seals every record (SPEC.md §13.4).
    private var sealer: RecordSealer?
    /// Asked whenever a write made no progress for the socket's send timeout: go on
    /// waiting (true) or fail with `EAGAIN`.
    private let keepWaiting: () -> Bool

    /// Room for `capacity` bytes; must exceed one maximal record.
    /// - Parameter keepWaiting: Whether a blocked write should go on waiting.
    init(capacity: Int, keepWaiting: @escaping () -> Bool = { false }) {
        precondition(capacity > ProtocolLimits.headerSize + ProtocolLimits.maxPayload)
        storage = .allocate(byteCount: capacity, alignment: 64)
        self.keepWaiting = keepWaiting
    }

    deinit { storage.deallocate() }

    var free: Int { storage.count - count }

    /// Appends raw bytes (the preamble).
    mutating func append(bytes: [UInt8], flushingTo socket: TCPSocket) throws(SystemError) {
        if free < bytes.count { try flush(to: socket) }
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: storage[count...]).copyMemory(from: $0) }
        count += bytes.count
    }

    /// From the next record on, seals every record.
    mutating func startSealing(_ sealer: RecordSealer) { self.sealer = sealer }

    /// Appends one encoded record, flushing first if it does not fit.
    mutating func append(_ record: Record, flushingTo socket: TCPSocket) throws(SystemError) {
        scratch.removeAll(keepingCapacity: true)
        do {
            if sealer != nil {
                try sealer!.seal(record, appendingTo: &scratch)
            } else {
                try RecordEncoder.append(record, to: &scratch)
            }
        } catch {
            preconditionFailure("xfer built an invalid record: \(error)")
        }
        try append(bytes: scratch, flushingTo: socket)
    }

    /// Appends a DATA record whose payload `fill` writes in place (at most `maxPayload`
    /// bytes, fewer on a sealed connection: ``RecordSealer/maxInnerPayload``); returns what
    /// `fill` returned. Nothing is appended when it returns 0. Sealed, the payload is
    /// encrypted where `fill` put it.
    mutating func appendData(
        maxPayload: Int,
        flushingTo socket: TCPSocket,
        fill: (UnsafeMutableRawBufferPointer) throws -> Int
    ) throws -> Int {
        let sealed = sealer != nil
        let limit = sealed ? min(maxPayload, RecordSealer.maxInnerPayload) : maxPayload
        // Sealed: the outer header, then the inner kind and flags; the tag after the payload.
        let front = ProtocolLimits.headerSize + (sealed ? 2 : 0)
        let back = sealed ? CipherSuite.tagByteCount : 0
        if free < front + limit + back { try flush(to: socket) }
        let start = count
        let filled = try fill(
            UnsafeMutableRawBufferPointer(rebasing: storage[(start + front)..<(start + front + limit)])
        )
        guard filled > 0 else { return 0 }
        let record = UnsafeMutableRawBufferPointer(rebasing: storage[start..<(start + front + filled + back)])
        if sealed {
            record[ProtocolLimits.headerSize] = RecordKind.data.rawValue
            record[ProtocolLimits.headerSize + 1] = 0
            sealer!.sealInPlace(record)
        } else {
            RecordEncoder.sealData(in: record)
        }
        count += record.count
        return filled
    }

    /// Sends everything buffered.
    mutating func flush(to socket: TCPSocket) throws(SystemError) {
        guard count > 0 else { return }
        let pending = UnsafeRawBufferPointer(rebasing: storage[..<count])
        count = 0
        try socket.writeAll(pending, keepWaiting: keepWaiting)
    }
}
