import Framing

/// Claims, and reading records with the receiver's deadlines.
extension ReceiverConnection {
    /// Claims `id` among the receiver's transfers for this connection.
    ///
    /// - Returns: false when another connection receives it.
    func claim(_ id: TransferID) -> Bool {
        guard transfers.claim(id) else { return false }
        claims.insert(id)
        return true
    }

    /// Ends this connection's claim on `id`.
    func release(_ id: TransferID) {
        claims.remove(id)
        transfers.release(id)
    }

    /// A name for the log: a name over the protocol's limit (refused for it) is cut.
    static func shown(_ name: String) -> String {
        name.utf8.count <= 256
            ? name : "\(String(decoding: Array(name.utf8.prefix(200)), as: UTF8.self))… (\(name.utf8.count) bytes)"
    }

    func next() throws -> RecordDecoder.Message {
        do {
            let timeout = options.idleTimeout
            let deadline = established ? Double.infinity : accepted + options.handshakeTimeout
            let admission = self.admission
            let floor = options.minimumRecordRate
            return try reader.next { (wait: ReadWait) throws(ReadFailure) in
                // An absolute deadline for the handshake, however the bytes trickle.
                if monotonicSeconds() > deadline {
                    throw .idle(.timeout("no complete handshake within \(Int(options.handshakeTimeout)) s"))
                }
                if admission.stopping {
                    throw .idle(.refused(code: .busy, message: "the receiver is shutting down; try again later"))
                }
                // Bytes arriving are progress, even inside one long record (a slow link)…
                if wait.silence > timeout {
                    throw .idle(.timeout("no data from the sender for \(Int(timeout)) s"))
                }
                // …but a record that has started must arrive at the floor's rate: a byte
                // every few seconds would otherwise hold a slot for ever.
                let size = Double(wait.recordSize ?? ProtocolLimits.headerSize)
                if wait.insideRecord > timeout + size / floor {
                    throw .idle(
                        .timeout(
                            "a \(Int(size))-byte record took over \(Int(wait.insideRecord)) s (slower than \(Int(floor / 1024)) KiB/s after \(Int(timeout)) s)"
                        )
                    )
                }
            }
        } catch {
            throw stop(for: error)
        }
    }

    func readIfReady() throws -> RecordDecoder.Message? {
        do {
            return try reader.nextIfReady()
        } catch {
            throw stop(for: error)
        }
    }

    func stop(for failure: ReadFailure) -> Stop {
        switch failure {
        case .endOfStream(let buffered):
            let inside =
                buffered > 0
                ? " inside a record"
                : current != nil ? " inside a stream" : established ? " before GOODBYE" : " during the handshake"
            return .peerGone("the sender closed the connection\(inside)")
        case .system(let error): return .peerGone(error.description)
        case .framing(.sealBroken(let reason)):
            // Tampering, or a broken peer: nothing we could send would be trusted or useful.
            return .peerGone("the sealed connection broke: \(reason)")
        case .framing(let error): return .fatal(error.wireCode, error.description)
        case .idle(.timeout(let text)): return .fatal(.timeout, text)
        case .idle(.refused(let code, let text)): return .fatal(code, text)
        case .idle(let error): return .fatal(error.wireCode, "\(error)")
        }
    }

    func flush() throws {
        do {
            try writer.flush()
        } catch {
            throw Stop.peerGone("sending failed: \(error.reason)")
        }
    }
}
