import Framing

/// DATA and END: bytes to the partial, verified streams into the commit batch.
extension ReceiverConnection {
    func store(_ bytes: ArraySlice<UInt8>) {
        guard var incoming = current else { return }
        let partial = incoming.partial
        let failure: SystemError? = bytes.withUnsafeBytes { raw in
            do throws(SystemError) {
                try partial.append(raw)
                return nil
            } catch {
                return error
            }
        }
        if let error = failure {
            return fail(
                incoming,
                error.isNoSpace ? .noSpace : .ioError,
                "cannot write '\(incoming.name.text)': \(error.reason)"
            )
        }
        let now = monotonicSeconds()
        if now - incoming.lastProgress >= 0.25 {
            incoming.lastProgress = now
            current = incoming
            writer.enqueue(
                .progress(
                    Progress(
                        transferID: incoming.offer.transferID,
                        received: partial.length,
                        durable: partial.writtenBack
                    )
                )
            )
        }
    }

    /// Fails the current stream (non-fatal ERROR), drops its partial, discards the rest of it.
    func fail(_ incoming: Incoming, _ code: ErrorCode, _ message: String) {
        current = nil
        machine.streamFailed()
        incoming.partial.file.close()
        directory.removePartial(incoming.offer.transferID)
        release(incoming.offer.transferID)
        reportFailure(incoming.offer.transferID, name: incoming.name.text, code, message)
    }

    func reportFailure(_ id: TransferID, name: String, _ code: ErrorCode, _ message: String) {
        summary.failedFiles += 1
        note(.failed, name, detail: message)
        writer.enqueue(.error(ErrorRecord(code: code, transferID: id, fatal: false, message: message)))
    }

    func finish(length: UInt64, digest: UInt64, _ committer: Committer) throws {
        guard let incoming = current else { return }  // the stream failed earlier; its ERROR is sent
        current = nil
        let partial = incoming.partial
        // The machine counted what arrived; the file must hold exactly that.
        guard partial.length == length else {
            return fail(
                incoming,
                .ioError,
                "'\(incoming.name.text)': \(partial.length) bytes written of the \(length) received"
            )
        }
        let full = pending.add(
            VerifiedStream(offer: incoming.offer, name: incoming.name, partial: partial, digest: digest),
            length: partial.length,
            nameBytes: incoming.offer.name.utf8.count,
            budgeted: descriptors.take()
        )
        if full { try commitPending(committer) }
    }
}
