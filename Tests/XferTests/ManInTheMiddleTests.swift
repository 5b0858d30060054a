import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// An attacker on the path without the key (scripts/mitm-relay.py) between the real
    /// `xfer send --key` and `xfer receive --key`: it renames, forges (same length, digest fixed
    /// up), injects after the last ACK, drops, reorders, duplicates, replays from an earlier
    /// connection, flips bits and cuts before GOODBYE, in both directions, knowing the file's
    /// content and name. The promise: the sender never exits 0 on a changed stream, and the
    /// target holds nothing the relay changed or wrote (SPEC.md §13).
    @Suite(.serialized) struct ManInTheMiddle {
        static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/mitm-relay.py").path

        /// A relay in front of `upstream`, ready when it printed its address.
        final class Relay {
            let process = Process()
            let port: UInt16
            private let output = Pipe()

            init(upstream: UInt16, attack: String, known: String, name: String, capture: String? = nil) {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments =
                    [
                        "python3", ManInTheMiddle.script, "--upstream", "127.0.0.1:\(upstream)", "--attack", attack,
                        "--known", known, "--name", name, "--forged-name", ManInTheMiddle.forgedName(name),
                    ] + (capture.map { ["--capture", $0] } ?? [])
                process.standardOutput = output
                try! process.run()
                // Its readiness signal: the first line, "listening on 127.0.0.1:PORT".
                var line: [UInt8] = []
                var byte: UInt8 = 0
                while read(output.fileHandleForReading.fileDescriptor, &byte, 1) == 1, byte != 0x0A {
                    line.append(byte)
                }
                port = UInt16(String(decoding: line, as: UTF8.self).split(separator: ":").last ?? "0") ?? 0
            }

            deinit {
                // SIGKILL: a child of the test process starts with its signals blocked, SIGTERM too.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        /// The relay's name for the file: one letter changed, same length (so XOR can do it).
        static func forgedName(_ name: String) -> String {
            var bytes = Array(name.utf8)
            bytes[1] ^= 0x20
            return String(decoding: bytes, as: UTF8.self)
        }

        struct Outcome {
            let status: Int32
            let stderr: String
            let target: TemporaryDirectory
            let content: [UInt8]
        }

        /// One `xfer send --key` of a 3 MiB file through the relay.
        static func attacked(_ attack: String, sends: Int = 1) -> Outcome {
            let keys = TemporaryDirectory()
            let (key, _) = Integration.Authentication.keyFile(keys)
            let source = TemporaryDirectory()
            let content = source.makeFile("report.txt", count: 3 << 20)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", key, "--timeout", "5"])
            let relay = Relay(
                upstream: receiver.port,
                attack: attack,
                known: source.file("report.txt"),
                name: "report.txt"
            )
            var last = Finished(status: -1, stdout: "", stderr: "")
            for _ in 0..<sends {
                // --no-resume: each send is a whole new transfer (a replay needs a full first one).
                last = xfer([
                    "send", "--key", key, "--timeout", "5", "--no-resume", source.file("report.txt"),
                    "127.0.0.1:\(relay.port)",
                ])
            }
            return Outcome(status: last.status, stderr: last.stderr, target: target, content: content)
        }

        /// Nothing the relay changed or wrote is in the target; the real file, if there, is whole.
        static func expectUntouched(_ outcome: Outcome, _ attack: String) {
            let files = Integration.Authentication.written(outcome.target)
            #expect(!files.contains(forgedName("report.txt")), "\(attack): committed under the relay's name")
            #expect(!files.contains("evil.sh"), "\(attack): the relay's own file was committed")
            if files.contains("report.txt") {
                expectSameBytes(
                    outcome.target.contents("report.txt"),
                    outcome.content,
                    "\(attack): forged content committed"
                )
            }
            #expect(
                files.allSatisfy { $0 == "report.txt" || $0.hasPrefix(".xfer") },
                "\(attack): unexpected files \(files)"
            )
        }

        @Test("Control: through a relay that only forwards, the send is confirmed and the file intact")
        func control() {
            let outcome = Self.attacked("none")
            #expect(outcome.status == 0, "\(outcome.stderr)")
            expectSameBytes(outcome.target.contents("report.txt"), outcome.content)
        }

        @Test(
            "Every attack on the path fails: the sender never exits 0, nothing changed is committed",
            arguments: [
                "rename", "forge", "inject-after-ack", "drop:c2s", "drop:s2c", "reorder:c2s", "reorder:s2c",
                "duplicate:c2s", "duplicate:s2c", "flip-data", "flip:s2c", "truncate:c2s", "truncate:s2c",
            ]
        )
        func attack(_ attack: String) {
            let outcome = Self.attacked(attack)
            #expect(outcome.status != 0, "\(attack): exit 0 — \(outcome.stderr)")
            Self.expectUntouched(outcome, attack)
        }

        @Test("A client proof changed on the way: the receiver refuses it unsealed, the sender exits 77")
        func changedProof() {
            let outcome = Self.attacked("flip-auth")
            #expect(outcome.status == 77, "\(outcome.stderr)")
            #expect(outcome.stderr.contains("wrong key"), "\(outcome.stderr)")
            #expect(Integration.Authentication.written(outcome.target).isEmpty)
        }

        @Test("A record replayed from an earlier connection does not open", arguments: ["replay:c2s", "replay:s2c"])
        func replay(_ attack: String) {
            // The first send goes through whole (the relay records it); the second gets its replay.
            let outcome = Self.attacked(attack, sends: 2)
            #expect(outcome.status != 0, "\(attack): exit 0 — \(outcome.stderr)")
            Self.expectUntouched(outcome, attack)
        }

        @Test("Nobody on the path reads names or data, and equal files never look alike")
        func confidentiality() throws {
            let keys = TemporaryDirectory()
            let (key, _) = Integration.Authentication.keyFile(keys)
            let source = TemporaryDirectory()
            let text = Array(String(repeating: "The quarterly figures are confidential. ", count: 1700).utf8)
            let names = ["secret-plan-alpha.txt", "secret-plan-bravo.txt"]
            for name in names {
                _ = FileManager.default.createFile(atPath: source.file(name), contents: Data(text))
            }
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", key])
            let capture = keys.file("capture.bin")
            let relay = Relay(
                upstream: receiver.port,
                attack: "none",
                known: source.file(names[0]),
                name: names[0],
                capture: capture
            )
            let sent = xfer([
                "send", "--key", key, source.file(names[0]), source.file(names[1]), "127.0.0.1:\(relay.port)",
            ])
            #expect(sent.status == 0, "\(sent.stderr)")
            let wire = try [UInt8](Data(contentsOf: URL(fileURLWithPath: capture)))
            #expect(wire.count > 2 * text.count, "the capture holds the data")
            func contains(_ needle: [UInt8]) -> Bool {
                guard needle.count <= wire.count else { return false }
                return (0...(wire.count - needle.count)).contains {
                    wire[$0] == needle[0] && Array(wire[$0..<$0 + needle.count]) == needle
                }
            }
            #expect(!contains(Array("secret-plan".utf8)), "a name crossed the wire in the clear")
            #expect(!contains(Array("quarterly figures".utf8)), "the data crossed the wire in the clear")
            // Two equal files sealed under fresh nonces share no 64-byte run (a reused nonce would
            // make equal plaintext equal ciphertext).
            var seen = Set<[UInt8]>()
            var repeated = 0
            for start in stride(from: 256, to: wire.count - 64, by: 64) {
                if !seen.insert(Array(wire[start..<start + 64])).inserted { repeated += 1 }
            }
            #expect(repeated == 0, "\(repeated) repeated 64-byte runs on the wire")
        }
    }
}
