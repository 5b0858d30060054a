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

/// Reads messages from one socket: the socket's bytes land straight in the decoder's
/// buffer (no copy), and the decoder checks lengths and checksums. One thread at a time.
struct RecordReader {
    let socket: TCPSocket
    private(set) var decoder = RecordDecoder()
    /// When bytes last arrived (monotonic seconds): any byte is a sign of life, even in the
    /// middle of a long record on a slow link.
    private(set) var lastInput = monotonicSeconds()

    init(socket: TCPSocket) { self.socket = socket }

    /// From the next record on, opens every record (SPEC.md §13.4).
    mutating func startOpening(_ opener: RecordOpener) { decoder.startOpening(opener) }

    /// The next message, blocking until one is complete.
    /// - Parameter onIdle: Called after every read that leaves the message incomplete (data
    ///   or the socket's receive timeout), with the seconds since bytes last arrived; throw
    ///   from it to stop waiting. Called on data too, so that an absolute deadline (a
    ///   handshake's) also stops a peer that trickles one byte at a time.
    mutating func next(onIdle: (_ silence: Double) throws(ReadFailure) -> Void) throws(ReadFailure)
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
            try fill(onIdle: { _ in })
        }
    }

    /// A message complete in the decoder's buffer, if there is one.
    private mutating func buffered() throws(ReadFailure) -> RecordDecoder.Message? {
        do {
            return try decoder.next()
        } catch {
            throw .framing(error)
        }
    }

    private mutating func fill(onIdle: (_ silence: Double) throws(ReadFailure) -> Void) throws(ReadFailure) {
        let socket = self.socket
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
                lastInput = monotonicSeconds()
                try onIdle(0)
                return
            case .failure(let error) where error.errno == EAGAIN || error.errno == EWOULDBLOCK:
                try onIdle(monotonicSeconds() - lastInput)
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
