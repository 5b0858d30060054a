import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Receiver behaviour that SPEC.md 1.1 settles, seen by a raw client.
    @Suite struct SpecDecisions {
        static func greeted(_ port: UInt16) -> RawClient {
            let client = RawClient(port: port)
            client.send(Preamble().bytes)
            client.send(.hello(Hello()))
            return client
        }

        static func answers(_ records: [Record]) -> [Answer] {
            records.compactMap { record -> Answer? in
                if case .answer(let answer) = record { return answer }
                return nil
            }
        }

        @Test("§6.2/§9: a name over 4096 bytes is refused badName; the connection goes on")
        func overlongNameIsRefused() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = Self.greeted(receiver.port)
            // Encoders refuse such a name: build the OFFER by hand.
            var payload = TransferID(high: 0x4097, low: 1).bytes
            payload +=
                [0, 0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 8) + [0, 0, 0x01, 0xA4]
                + [UInt8](repeating: 0, count: 12)
            let name = [UInt8](repeating: UInt8(ascii: "n"), count: 4097)
            payload += [UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name
            var record: [UInt8] = [RecordKind.offer.rawValue, Offer.Flags.awaitAnswer]
            record += withUnsafeBytes(of: UInt32(payload.count).bigEndian, Array.init)
            var crc = CRC32C.checksum(record)
            crc = CRC32C.checksum(payload, continuing: crc)
            record += withUnsafeBytes(of: crc.bigEndian, Array.init) + payload
            client.send(record)
            // The next offer on the same connection is received as usual.
            let id = TransferID(high: 0x4097, low: 2)
            client.send(.offer(Offer(transferID: id, size: 2, name: "after.txt", awaitAnswer: true)))
            client.send(.data([1, 2][...]))
            var digest = StreamDigest()
            digest.update([1, 2] as [UInt8])
            client.send(.end(End(totalLength: 2, digest: digest.value)))
            client.send(.goodbye)
            let records = client.records()
            let answers = Self.answers(records)
            #expect(answers.first?.decision == .refuse && answers.first?.code == .badName, "\(answers)")
            #expect(answers.dropFirst().first?.decision == .accept, "\(answers)")
            #expect(records.last == .goodbye, "\(records)")
            #expect(target.contents("after.txt") == [1, 2])
        }

        @Test("§7.2: the same transfer ID offered twice on one connection is refused busy, saying so")
        func sameIDTwiceOnOneConnection() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = Self.greeted(receiver.port)
            let id = TransferID(high: 0x7A1C, low: 2)
            client.send(.offer(Offer(transferID: id, size: 4, name: "twice.bin")))
            client.send(.data([1, 2, 3, 4][...]))
            var digest = StreamDigest()
            digest.update([1, 2, 3, 4] as [UInt8])
            client.send(.end(End(totalLength: 4, digest: digest.value)))
            // Pipelined: the first offer is not ACKed yet (it waits for its commit).
            client.send(.offer(Offer(transferID: id, size: 4, name: "twice.bin", awaitAnswer: true)))
            client.send(.goodbye)
            let records = client.records()
            let answers = Self.answers(records)
            #expect(answers.count == 2)
            #expect(answers.first?.decision == .accept)
            let second = answers.dropFirst().first
            #expect(second?.decision == .refuse && second?.code == .busy, "\(answers)")
            #expect(second?.message.contains("twice on this connection") == true, "\(second?.message ?? "")")
            #expect(records.contains { if case .ack(let ack) = $0 { ack.transferID == id } else { false } })
            #expect(target.contents("twice.bin") == [1, 2, 3, 4])
        }

        @Test("§4: KEEPALIVE and an unknown ignorable record before HELLO are skipped")
        func ignorableBeforeHello() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = RawClient(port: receiver.port)
            client.send(Preamble().bytes)
            client.send(.keepAlive)
            client.send(.unknown(kind: RecordKind(rawValue: 0x9C), flags: 0x80, payload: Array("future".utf8)))
            client.send(.hello(Hello()))
            client.send(.goodbye)
            let records = client.records()
            #expect(records.first.map { if case .welcome = $0 { true } else { false } } == true, "\(records)")
            #expect(records.last == .goodbye, "\(records)")
        }

        @Test("§6.9: a non-fatal ERROR with an all-zero ID is a fatal protocolViolation")
        func zeroIDErrorMustBeFatal() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = Self.greeted(receiver.port)
            // Encoders refuse it: flip the fatal flag of a fatal one and fix the CRC.
            var bytes: [UInt8] = []
            try! RecordEncoder.append(.error(ErrorRecord(code: .ioError, fatal: true, message: "x")), to: &bytes)
            bytes[1] = 0
            let crc = CRC32C.checksum(Array(bytes[10...]), continuing: CRC32C.checksum(Array(bytes[..<6])))
            bytes.replaceSubrange(6..<10, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
            client.send(bytes)
            let records = client.records()
            guard case .error(let error)? = records.last else {
                Issue.record("no fatal ERROR: \(records)")
                return
            }
            #expect(error.fatal && error.code == .protocolViolation, "\(error)")
        }

        @Test("§7.5: after the client's fatal ERROR the receiver sends nothing and reads to the end: FIN, not RST")
        func clientFatalErrorIsReadToTheEnd() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = Self.greeted(receiver.port)
            var welcome = RecordDecoder()
            var welcomed = false
            var byte = [UInt8](repeating: 0, count: 1)
            while !welcomed, recv(client.fd, &byte, 1, 0) == 1 {
                try? welcome.feed(byte) { if case .record(.welcome) = $0 { welcomed = true } }
            }
            #expect(welcomed)
            var bytes: [UInt8] = []
            try! RecordEncoder.append(
                .error(ErrorRecord(code: .internalError, fatal: true, message: "bye")),
                to: &bytes
            )
            client.send(bytes)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(client.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var rest: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            var result = 0
            repeat {
                result = buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
                if result > 0 { rest += buffer[..<result] }
            } while result > 0
            #expect(result == 0, "the receiver's end was not a FIN: errno \(errno)")
            #expect(rest.isEmpty, "the receiver answered a fatal ERROR with \(rest.count) bytes")
            // It is still reading: bytes sent now are taken, not answered with RST (a closed
            // socket would reset the first, and the second send would then fail).
            var keepAlive: [UInt8] = []
            try! RecordEncoder.append(.keepAlive, to: &keepAlive)
            var sends: [Int] = []
            for _ in 0..<2 {
                usleep(200_000)
                sends.append(
                    keepAlive.withUnsafeBytes { send(client.fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
                )
            }
            #expect(
                sends == [keepAlive.count, keepAlive.count],
                "the receiver did not read to the end: \(sends), errno \(errno)"
            )
        }

        @Test("§3: a client speaking version 0 is answered like any version the server does not speak")
        func versionZero() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = RawClient(port: receiver.port)
            client.send(Preamble(version: 0).bytes)
            let bytes = client.readToEnd()
            #expect(Array(bytes.prefix(8)) == Preamble(version: 1).bytes)
            var decoder = RecordDecoder(expectingPreamble: false)
            var records: [Record] = []
            try? decoder.feed(bytes.dropFirst(8)) { if case .record(let record) = $0 { records.append(record) } }
            guard case .error(let error)? = records.last else {
                Issue.record("no ERROR: \(records)")
                return
            }
            #expect(error.fatal && error.code == .unsupportedVersion)
        }
    }
}
