import Framing

/// The sender's outgoing bytes. Small records (OFFER, END, small files' DATA) collect here
/// and leave in one `send`; file bytes are read straight into it behind a header gap and
/// sealed in place, so a payload is never copied in user space.
struct OutputBuffer: ~Copyable {
    private let storage: UnsafeMutableRawBufferPointer
    private(set) var count = 0
    private var scratch: [UInt8] = []
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

    /// Appends one encoded record, flushing first if it does not fit.
    mutating func append(_ record: Record, flushingTo socket: TCPSocket) throws(SystemError) {
        scratch.removeAll(keepingCapacity: true)
        do {
            try RecordEncoder.append(record, to: &scratch)
        } catch {
            preconditionFailure("xfer built an invalid record: \(error)")
        }
        try append(bytes: scratch, flushingTo: socket)
    }

    /// Appends a DATA record whose payload `fill` writes in place (at most `maxPayload`
    /// bytes); returns what `fill` returned. Nothing is appended when it returns 0.
    mutating func appendData(
        maxPayload: Int,
        flushingTo socket: TCPSocket,
        fill: (UnsafeMutableRawBufferPointer) throws -> Int
    ) throws -> Int {
        if free < ProtocolLimits.headerSize + maxPayload { try flush(to: socket) }
        let start = count
        let payload = UnsafeMutableRawBufferPointer(
            rebasing: storage[(start + ProtocolLimits.headerSize)..<(start + ProtocolLimits.headerSize + maxPayload)]
        )
        let filled = try fill(payload)
        guard filled > 0 else { return 0 }
        RecordEncoder.sealData(
            in: UnsafeMutableRawBufferPointer(rebasing: storage[start..<(start + ProtocolLimits.headerSize + filled)])
        )
        count += ProtocolLimits.headerSize + filled
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
