import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// A lying sender: the receiver checks every length and digest itself, and a stream
    /// that fails any check is never ACKed and never appears under its name.
    @Suite struct ReceiverIntegrity {
        static let id = TransferID(high: 0x1E, low: 7)

        static func offer(size: UInt64?) -> Record {
            .offer(Offer(transferID: id, size: size, name: "liar.bin"))
        }

        /// The records that concern the liar's stream, read up to the server's GOODBYE.
        static func play(_ records: [Record], receiver: ReceiverProcess) -> [Record] {
            let client = HostilePeers.greeted(receiver.port)
            for record in records { client.send(record) }
            client.send(.goodbye)
            return client.records()
        }

        static func error(in records: [Record]) -> ErrorRecord? {
            records.lazy.compactMap { record -> ErrorRecord? in
                if case .error(let error) = record, error.transferID == id { return error }
                return nil
            }.first
        }

        static func acked(_ records: [Record]) -> Bool {
            records.contains { if case .ack(let ack) = $0 { return ack.transferID == id } else { return false } }
        }

        @Test("DATA past the declared size is refused as it arrives, before END, and never stored")
        func dataPastSize() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = HostilePeers.greeted(receiver.port)
            client.send(Self.offer(size: 4))
            // 1 MiB for a 4-byte stream, and no END: the ERROR must come from the DATA alone.
            client.send(.data(ArraySlice(repeating: 0x41, count: 1 << 20)))
            var decoder = RecordDecoder()
            var buffer = [UInt8](repeating: 0, count: 65536)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(client.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var error: ErrorRecord?
            reading: while error == nil {
                let count = buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                try decoder.feed(buffer[..<count]) { message in
                    if case .record(.error(let record)) = message, record.transferID == Self.id { error = record }
                }
                if error != nil { break reading }
            }
            #expect(error?.code == .lengthMismatch, "no lengthMismatch before END: \(String(describing: error))")
            #expect(error?.fatal == false)
            // Nothing of it is kept: no final file, no partial.
            let state = try FileManager.default.contentsOfDirectory(atPath: target.file(".xfer"))
            #expect(!state.contains { $0.hasSuffix(".part") }, "\(state)")
            #expect(!target.exists("liar.bin"))
            client.send(.end(End(totalLength: 4, digest: 0)))
            client.send(.goodbye)
            #expect(client.records(preambleRead: true).last == .goodbye)
        }

        @Test("END with the right length but another digest: digestMismatch, no ACK, no file")
        func wrongDigest() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let bytes = ArraySlice("abcd".utf8)
            var digest = StreamDigest()
            digest.update(Array(bytes))
            let records = Self.play(
                [Self.offer(size: 4), .data(bytes), .end(End(totalLength: 4, digest: digest.value ^ 1))],
                receiver: receiver
            )
            #expect(Self.error(in: records)?.code == .digestMismatch)
            #expect(!Self.acked(records))
            #expect(!target.exists("liar.bin"))
        }

        @Test("END claiming another length than arrived (known and unknown size): lengthMismatch, no ACK, no file")
        func wrongLength() {
            for size: UInt64? in [4, nil] {
                let target = TemporaryDirectory()
                let receiver = ReceiverProcess(directory: target.path)
                let bytes = ArraySlice("abc".utf8)
                var digest = StreamDigest()
                digest.update(Array(bytes))
                // The digest is right for the three bytes sent; only the length lies.
                let records = Self.play(
                    [Self.offer(size: size), .data(bytes), .end(End(totalLength: 4, digest: digest.value))],
                    receiver: receiver
                )
                #expect(Self.error(in: records)?.code == .lengthMismatch, "size \(String(describing: size))")
                #expect(!Self.acked(records))
                #expect(!target.exists("liar.bin"))
            }
        }
    }
}
