import Foundation
import Framing
import Testing

extension Integration {
    /// `xfer receive --key` as an exposed machine runs it, under the floods of
    /// scripts/flood-check.py (in a network namespace of its own: wrong proofs, silent and
    /// trickling handshakes, reopened as fast as they end): the key holder still gets through.
    @Suite(.enabled(if: unshareUsable, "needs root and unshare (and CI is not set)"))
    struct ExposedReceiver {
        static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/flood-check.py").path

        static func flood(_ attack: String, kinds: String = "wrong-proof,silent,trickle") throws -> [String: Any] {
            let result = shell(
                "python3 '\(script)' --xfer '\(xferBinary)' --attack \(attack) --kinds \(kinds) --sends 40"
            )
            let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
            let report = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try #require(report, "no report: \(result.stdout) \(result.stderr)")
        }

        static func expectKeyHolderServed(_ report: [String: Any]) {
            let succeeded = report["succeeded"] as? Int ?? 0
            let quick = report["started_within_2s"] as? Int ?? 0
            // ≥ 95 % of 40 sends succeed, and start (the receiver accepted the offer) within 2 s.
            #expect(succeeded >= 38, "\(report)")
            #expect(quick >= 38, "\(report)")
            #expect(report["intact_files"] as? Int == succeeded, "\(report)")
            // The flood was real: thousands of connections, nearly all turned away cheaply.
            #expect((report["attacker_connections"] as? Int ?? 0) > 1000, "\(report)")
        }

        @Test("320 connections sending wrong proofs from 20 addresses: a key holder's 40 sends start within 2 s")
        func wrongProofFlood() throws {
            // Each wrong proof once held its slot for a 1 s delay: 6 of 40 got through.
            let report = try Self.flood("ipv4", kinds: "wrong-proof")
            Self.expectKeyHolderServed(report)
            #expect(
                (report["attacker_turned_away_busy"] as? Int ?? 0) > 1000,
                "penalties turn the flood away: \(report)"
            )
        }

        @Test(
            "Wrong proofs, silent and trickling handshakes from 20 addresses: a key holder's 40 sends start within 2 s"
        )
        func mixedFlood() throws {
            Self.expectKeyHolderServed(try Self.flood("ipv4"))
        }

        @Test("The same flood from 1,000 addresses of one IPv6 /64: one source, and the key holder gets through")
        func floodFromOneIPv6Block() throws {
            let report = try Self.flood("ipv6")
            Self.expectKeyHolderServed(report)
            // The /64 is one source: its 17th connection is refused by the per-source limit.
            #expect((report["refusals_naming_the_block"] as? Int ?? 0) > 0, "\(report)")
        }
    }
}

/// Whether this test may make network namespaces with `unshare --net` (root).
let unshareUsable: Bool = {
    if getuid() == 0 && commandExists("unshare") && commandExists("ip") { return true }
    return ProcessInfo.processInfo.environment["CI"] != nil
}()

extension Integration {
    /// Limits of an exposed receiver that need no namespace.
    @Suite struct ExposedReceiverLimits {
        @Test(
            "Streams cancelled in a loop on a 4 MiB target: kept partials stay under the cap at once, and a 2.5 MiB send fits",
            .enabled(if: canMountTmpfs)
        )
        func partialsCapHoldsAtEveryKeep() throws {
            let target = TemporaryDirectory()
            #expect(shell("mount -t tmpfs -o size=4m tmpfs '\(target.path)'").status == 0)
            defer { shell("umount -l '\(target.path)'") }
            // The default cap: a quarter of the file system, 1 MiB here.
            let receiver = ReceiverProcess(directory: target.path)
            let client = RawClient(port: receiver.port)
            var hello = Preamble().bytes
            try RecordEncoder.append(.hello(Hello()), to: &hello)
            client.send(hello)
            let chunk = ArraySlice([UInt8](repeating: 0x5A, count: 800 << 10))
            for index in 0..<4 {
                client.send(
                    .offer(
                        Offer(
                            transferID: TransferID(high: 7, low: UInt64(index)),
                            size: 900 << 10,
                            name: "cut-\(index).bin"
                        )
                    )
                )
                client.send(.data(chunk))
                client.send(.cancel(Cancel(code: .ioError, message: "cut")))
            }
            client.send(.goodbye)
            let records = client.records(seconds: 10)
            #expect(records.last == .goodbye, "\(records)")
            // Right after the last cancel, not at the next expiry: at most the cap is kept.
            let kept = try FileManager.default.contentsOfDirectory(atPath: target.file(".xfer"))
                .filter { $0.hasSuffix(".part") }
                .map {
                    try FileManager.default.attributesOfItem(atPath: target.file(".xfer/\($0)"))[.size] as? Int ?? 0
                }
            #expect(kept.reduce(0, +) <= 1 << 20, "kept partials: \(kept)")
            #expect(receiver.xfer.stderr.wait(for: "over the cap"), "\(receiver.log)")
            let source = TemporaryDirectory()
            let bytes = source.makeFile("legit.bin", count: 5 << 19)
            let send = xfer(["send", source.file("legit.bin"), receiver.address])
            #expect(send.status == 0, "\(send.stderr)")
            #expect(target.contents("legit.bin") == bytes)
        }

        @Test(
            "Before its handshake ends a peer gets 8 KiB: a 64 KiB HELLO is refused recordTooLarge, an 8 KiB one is read"
        )
        func handshakeRecordsAreSmall() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let big = RawClient(port: receiver.port)
            // A header declaring 64 KiB, and that much: on the previous receiver the decoder
            // made room for it (a megabyte per peer at most, before anyone was verified).
            var header: [UInt8] = [1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
            header = Preamble().bytes + header
            big.send(header + [UInt8](repeating: 0, count: 65536))
            let records = big.records(seconds: 5)
            guard case .error(let error)? = records.first else {
                Issue.record("a 64 KiB HELLO was not refused: \(records)")
                return
            }
            #expect(error.code == .recordTooLarge && error.fatal, "\(error)")
            #expect(error.message.contains("8192"), "\(error.message)")
            // The largest legal parameter value still fits.
            let fits = RawClient(port: receiver.port)
            var hello = Preamble().bytes
            try RecordEncoder.append(
                .hello(Hello(parameters: [.agent(String(repeating: "a", count: 4096))])),
                to: &hello
            )
            fits.send(hello)
            let answer = fits.records(seconds: 5)
            #expect(answer.contains { if case .welcome = $0 { true } else { false } }, "\(answer)")
        }
    }
}
