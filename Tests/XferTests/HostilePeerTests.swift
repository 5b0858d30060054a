import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Raw-socket peers that misbehave on purpose. The receiver must refuse or drop each,
    /// write nothing outside its directory, and go on serving a normal transfer.
    @Suite struct HostilePeers {
        static func greeted(_ port: UInt16) -> RawClient {
            let client = RawClient(port: port)
            client.send(Preamble().bytes)
            client.send(.hello(Hello()))
            return client
        }

        static func offer(_ name: String, size: UInt64 = 4, id: UInt64 = 1) -> Record {
            .offer(Offer(transferID: TransferID(high: 0xBAD, low: id), size: size, name: name, awaitAnswer: true))
        }

        /// The fatal ERROR a conversation ended with, recording an issue if it did not.
        static func finalError(_ records: [Record]) -> ErrorRecord? {
            guard case .error(let error)? = records.last else {
                Issue.record("expected a final ERROR, got \(records)")
                return nil
            }
            #expect(error.fatal)
            return error
        }

        /// Afterwards, a normal transfer still works.
        static func expectStillServing(_ receiver: ReceiverProcess, _ target: TemporaryDirectory) {
            let source = TemporaryDirectory()
            let bytes = source.makeFile("normal.bin", count: 300_000)
            let result = xfer(["send", source.file("normal.bin"), receiver.address])
            #expect(result.status == 0, "\(result.stderr)")
            expectSameBytes(target.contents("normal.bin"), bytes)
        }

        @Test("Names that escape the directory are refused with badName")
        func pathTraversal() throws {
            let outside = TemporaryDirectory()
            let target = TemporaryDirectory()
            // A link planted inside the target that points outside it.
            symlink(outside.path, target.file("planted"))
            let receiver = ReceiverProcess(directory: target.path)
            let names = [
                "../escape.txt", "/tmp/absolute.txt", "a/../../escape.txt", "a//b", ".", "planted/x.txt",
                ".xfer/committed.log", "bad\u{1}name", "new\nline", String(repeating: "n", count: 256),
            ]
            let client = Self.greeted(receiver.port)
            for (index, name) in names.enumerated() { client.send(Self.offer(name, id: UInt64(index))) }
            client.send(.goodbye)
            let records = client.records()
            let answers = records.compactMap { record -> Answer? in
                if case .answer(let answer) = record { return answer }
                return nil
            }
            #expect(answers.count == names.count)
            for answer in answers {
                #expect(answer.decision == .refuse, "\(answer)")
                #expect(answer.code == .badName, "\(answer.message)")
            }
            #expect(records.last == .goodbye)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: target.path + "/../escape.txt"))
            Self.expectStillServing(receiver, target)
        }

        @Test("A client speaking version 2 is told the server's version and unsupportedVersion")
        func versionNegotiation() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = RawClient(port: receiver.port)
            client.send(Preamble(version: 2).bytes)
            client.send(.hello(Hello()))
            let bytes = client.readToEnd()
            #expect(Array(bytes.prefix(8)) == Preamble(version: 1).bytes)
            var decoder = RecordDecoder(expectingPreamble: false)
            var records: [Record] = []
            try? decoder.feed(bytes.dropFirst(8)) { if case .record(let record) = $0 { records.append(record) } }
            guard let error = Self.finalError(records) else { return }
            #expect(error.code == .unsupportedVersion)
            Self.expectStillServing(receiver, target)
        }

        @Test("The same transfer ID on two connections at once: the second is refused busy")
        func sameTransferTwice() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let first = Self.greeted(receiver.port)
            first.send(Self.offer("same.bin", size: 4, id: 42))
            // Readiness: the first offer is accepted (ANSWER read) before the second is made.
            var decoder = RecordDecoder()
            var accepted = false
            var byte = [UInt8](repeating: 0, count: 1)
            while !accepted, recv(first.fd, &byte, 1, 0) == 1 {
                try? decoder.feed(byte) {
                    if case .record(.answer(let answer)) = $0 { accepted = answer.decision == .accept }
                }
            }
            #expect(accepted)
            let second = Self.greeted(receiver.port)
            second.send(Self.offer("same.bin", size: 4, id: 42))
            second.send(.goodbye)
            let answer = second.records().compactMap { record -> Answer? in
                if case .answer(let answer) = record { return answer }
                return nil
            }.first
            #expect(answer?.decision == .refuse)
            #expect(answer?.code == .busy)
            // The first goes on to commit normally.
            first.send(.data([1, 2, 3, 4][...]))
            var digest = StreamDigest()
            digest.update([1, 2, 3, 4] as [UInt8])
            first.send(.end(End(totalLength: 4, digest: digest.value)))
            first.send(.goodbye)
            #expect(first.records(preambleRead: true).contains { if case .ack = $0 { true } else { false } })
            #expect(target.contents("same.bin") == [1, 2, 3, 4])
        }

        @Test("A length over the limit gets a fatal ERROR recordTooLarge before any payload")
        func oversizedLength() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = Self.greeted(receiver.port)
            client.send([RecordKind.data.rawValue, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
            guard let error = Self.finalError(client.records()) else { return }
            #expect(error.fatal)
            #expect(error.code == .recordTooLarge)
            Self.expectStillServing(receiver, target)
        }

        @Test(
            "An OFFER with the all-zero transfer ID (the connection's) is a fatal protocolViolation; the receiver lives on",
            arguments: ["digest", "length", "past"]
        )
        func zeroTransferID(failure: String) {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = Self.greeted(receiver.port)
            // xfer's encoder refuses to build it: the bytes by hand, CRC made right.
            var offer: [UInt8] = []
            try! RecordEncoder.append(
                .offer(Offer(transferID: TransferID(high: 1, low: 1), size: 4, name: "z")),
                to: &offer
            )
            for index in 10..<26 { offer[index] = 0 }
            let crc = CRC32C.checksum(offer[10...], continuing: CRC32C.checksum(offer[0..<6]))
            offer.replaceSubrange(6..<10, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
            client.send(offer)
            // What once made the receiver answer a non-fatal ERROR with that ID, which its own
            // encoder refused: the whole process died (a one-record denial of service).
            switch failure {
            case "digest":
                client.send(.data([1, 2, 3, 4][...]))
                client.send(.end(End(totalLength: 4, digest: 0)))
            case "length": client.send(.end(End(totalLength: 3, digest: 0)))
            default: client.send(.data([1, 2, 3, 4, 5][...]))
            }
            guard let error = Self.finalError(client.records()) else { return }
            #expect(error.code == .protocolViolation, "\(error)")
            #expect(error.message.contains("transfer id"), "\(error.message)")
            #expect(receiver.xfer.process.isRunning, "the receiver died: \(receiver.log)")
            #expect(!target.exists("z"))
            Self.expectStillServing(receiver, target)
        }

        @Test("Garbage instead of a preamble: dropped without a word")
        func garbage() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = RawClient(port: receiver.port)
            client.send(
                Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 97) }
            )
            #expect(client.readToEnd().isEmpty)
            #expect(receiver.xfer.stderr.wait(for: "bad magic"))
            Self.expectStillServing(receiver, target)
        }

        @Test("A corrupted record gets a fatal ERROR checksumMismatch; nothing is committed")
        func corruptedRecord() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let client = Self.greeted(receiver.port)
            client.send(.offer(Offer(transferID: TransferID(high: 1, low: 2), size: 4, name: "flipped")))
            var data: [UInt8] = []
            try! RecordEncoder.append(.data([1, 2, 3, 4][...]), to: &data)
            data[data.count - 1] ^= 0x01
            client.send(data)
            guard let error = Self.finalError(client.records()) else { return }
            #expect(error.code == .checksumMismatch)
            #expect(error.fatal)
            #expect(!target.exists("flipped"))
            Self.expectStillServing(receiver, target)
        }

        @Test("Early close inside a record, and a silent peer, are both dropped")
        func earlyCloseAndSilence() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--timeout", "1"])
            let early = Self.greeted(receiver.port)
            early.send(.offer(Offer(transferID: TransferID(high: 3, low: 4), size: 100, name: "cut")))
            early.send([RecordKind.data.rawValue, 0, 0, 0, 0, 100, 0, 0, 0, 0, 1, 2, 3])
            early.close()
            #expect(receiver.xfer.stderr.wait(for: "inside a record"))
            let silent = RawClient(port: receiver.port)
            let started = Date()
            #expect(silent.readToEnd(seconds: 10).isEmpty, "closed without a word: it never said XFER")
            #expect(Date().timeIntervalSince(started) < 8, "the idle timeout dropped it")
            #expect(!target.exists("cut"))
            Self.expectStillServing(receiver, target)
        }

        @Test("Past --max-connections the next peer is told busy, and others are still served")
        func connectionCap() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--max-connections", "1", "--timeout", "5"])
            let holder = Self.greeted(receiver.port)
            // Readiness: the holder has been admitted once it is welcomed.
            var decoder = RecordDecoder()
            var welcomed = false
            while !welcomed {
                var byte = [UInt8](repeating: 0, count: 1)
                guard recv(holder.fd, &byte, 1, 0) == 1 else { break }
                try? decoder.feed(byte) { if case .record(.welcome) = $0 { welcomed = true } }
            }
            #expect(welcomed)
            let turnedAway = Self.greeted(receiver.port)
            guard let error = Self.finalError(turnedAway.records()) else { return }
            #expect(error.code == .busy)
            holder.send(.goodbye)
            #expect(holder.records(preambleRead: true).last == .goodbye)
            holder.close()
            #expect(receiver.xfer.stderr.wait(for: "0 file(s)"))
            Self.expectStillServing(receiver, target)
        }
    }
}

extension Integration {
    /// netcat as the peer: a plain TCP tool that knows nothing of xfer.
    @Suite(.enabled(if: commandExists("nc"))) struct Netcat {
        @Test("Sending to a plain netcat listener never reports success")
        func sendToNetcat() {
            let source = TemporaryDirectory()
            source.makeFile("f", count: 100_000)
            let port = RawListener().port
            let listener = Process()
            listener.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            listener.arguments = ["nc", "-v", "-l", "127.0.0.1", "\(port)"]
            let err = Pipe()
            listener.standardError = err
            listener.standardOutput = FileHandle.nullDevice
            listener.standardInput = Pipe()
            let log = PipeCollector(err)
            try! listener.run()
            defer {
                kill(listener.processIdentifier, SIGKILL)
                listener.waitUntilExit()
            }
            #expect(log.wait(for: "Listening"), "\(log.text)")
            let result = xfer(["send", "--timeout", "1", source.file("f"), "127.0.0.1:\(port)"])
            #expect(result.status != 0)
            #expect([75, 70, 76].contains(result.status), "\(result.status): \(result.stderr)")
        }

        @Test("netcat piping garbage at the receiver is dropped; the receiver goes on")
        func netcatGarbage() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let result = shell("head -c 100000 /dev/urandom | nc -N 127.0.0.1 \(receiver.port); echo $?")
            #expect(result.status == 0)
            #expect(receiver.xfer.stderr.wait(for: "bad magic"))
            HostilePeers.expectStillServing(receiver, target)
        }
    }
}
