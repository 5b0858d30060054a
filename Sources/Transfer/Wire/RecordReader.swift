import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Why reading the next message failed.
enum ReadFailure: Error {
    /// The peer closed; `buffered` bytes of an unfinished record were left.
    case endOfStream(buffered: Int)
    case system(SystemError)
    case framing(FramingError)
    /// Thrown by an idle check to stop waiting.
    case idle(TransferError)
}

/// How long a read has waited, for the caller's timeouts.
struct ReadWait {
    /// Seconds since bytes last arrived.
    var silence: Double
    /// Seconds spent waiting for the peer since the unfinished record's first byte (0 when
    /// nothing of the next record has arrived): the time the peer took over this record,
    /// not counting the time this side spent elsewhere (a commit's syncs, say).
    var insideRecord: Double
    /// The unfinished record's whole size (header and payload) once its header arrived.
    var recordSize: Int?
}

/// Reads messages from one socket: the socket's bytes land straight in the decoder's
/// buffer (no copy), and the decoder checks lengths and checksums. One thread at a time.
struct RecordReader {
    let socket: TCPSocket
    private(set) var decoder = RecordDecoder()
    /// When bytes last arrived (monotonic seconds): any byte is a sign of life, even in the
    /// middle of a long record on a slow link.
    private(set) var lastInput = monotonicSeconds()
    /// Seconds waited for the peer inside the unfinished record, before the current read.
    private var waitedInRecord = 0.0

    init(socket: TCPSocket) { self.socket = socket }

    /// The largest record payload accepted from now on (SPEC.md §9).
    mutating func limitPayload(to bytes: Int) { decoder.payloadLimit = bytes }

    /// From the next record on, opens every record (SPEC.md §13.4).
    mutating func startOpening(_ opener: RecordOpener) { decoder.startOpening(opener) }

    /// The next message, blocking until one is complete.
    /// - Parameter onIdle: Called after every read that leaves the message incomplete (data
    ///   or the socket's receive timeout), with how long it has waited; throw from it to
    ///   stop waiting. Called on data too, so that an absolute deadline (a handshake's) or
    ///   a record's rate floor also stops a peer that trickles one byte at a time.
    mutating func next(onIdle: (ReadWait) throws(ReadFailure) -> Void) throws(ReadFailure)
        -> RecordDecoder.Message
    {
        while true {
            if let message = try buffered() { return message }
            try fill(onIdle: onIdle)
        }
    }

    /// A message if one is complete in the buffer or can be read without blocking.
    mutating func nextIfReady() throws(ReadFailure) -> RecordDecoder.Message? {
        while true {
            if let message = try buffered() { return message }
            guard socket.isReadable else { return nil }
            try fill(onIdle: { (_: ReadWait) throws(ReadFailure) in })
        }
    }

    /// A message complete in the decoder's buffer, if there is one.
    private mutating func buffered() throws(ReadFailure) -> RecordDecoder.Message? {
        do {
            guard let message = try decoder.next() else { return nil }
            waitedInRecord = 0
            return message
        } catch {
            throw .framing(error)
        }
    }

    private mutating func fill(onIdle: (ReadWait) throws(ReadFailure) -> Void) throws(ReadFailure) {
        let socket = self.socket
        // Waiting between records is the idle clock's business; inside one, the rate's.
        let inRecord = decoder.bufferedByteCount > 0
        let started = monotonicSeconds()
        func wait(_ now: Double) -> ReadWait {
            ReadWait(
                silence: now - lastInput,
                insideRecord: inRecord ? waitedInRecord + (now - started) : 0,
                recordSize: decoder.awaitedMessageSize
            )
        }
        while true {
            let result: Result<Int, SystemError> = decoder.readFrom { space in
                do throws(SystemError) {
                    return .success(try socket.read(into: space))
                } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .success(0): throw .endOfStream(buffered: decoder.bufferedByteCount)
            case .success:
                let now = monotonicSeconds()
                if inRecord { waitedInRecord += now - started }
                lastInput = now
                try onIdle(wait(now))
                return
            case .failure(let error) where error.errno == EAGAIN || error.errno == EWOULDBLOCK:
                try onIdle(wait(monotonicSeconds()))
            case .failure(let error): throw .system(error)
            }
        }
    }
}

extension RecordDecoder {
    /// `readFrom` for a body that reports its result instead of throwing.
    fileprivate mutating func readFrom(_ body: (UnsafeMutableRawBufferPointer) -> Result<Int, SystemError>) -> Result<
        Int, SystemError
    > {
        var outcome: Result<Int, SystemError> = .success(0)
        _ = readFrom { space -> Int in
            outcome = body(space)
            if case .success(let count) = outcome { return count }
            return 0
        }
        return outcome
    }
}
