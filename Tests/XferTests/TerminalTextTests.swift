import Foundation
import Framing
import Testing
import Transfer

/// Text from the wire never reaches a terminal or a text log raw (issue 15): a peer cannot
/// clear the screen, draw a fake verdict, forge a log line or reorder what is shown.
@Suite struct TerminalTextTests {
    @Test func escapes() {
        #expect(TerminalText.escaped("plain name/ok.txt") == "plain name/ok.txt")
        #expect(TerminalText.escaped("a\u{1B}[2Jb") == "a\\x1b[2Jb")
        #expect(TerminalText.escaped("line\nxfer: forged") == "line\\x0axfer: forged")
        #expect(TerminalText.escaped("\u{7F}\u{9B}\t\r") == "\\x7f\\x9b\\x09\\x0d")
        #expect(TerminalText.escaped("exe.\u{202E}txt") == "exe.\\u{202e}txt")
        #expect(TerminalText.escaped("\u{2066}\u{200F}\u{061C}") == "\\u{2066}\\u{200f}\\u{61c}")
        #expect(TerminalText.escaped("back\\slash") == "back\\\\slash", "an escape must always mean one")
        #expect(TerminalText.escaped("naïve ✓ 名前") == "naïve ✓ 名前")
    }
}

extension Integration {
    @Suite struct WireTextOnTerminals {
        static let hostile = "no\u{1B}[2J\u{1B}[H\nxfer: confirmed 1 file(s), durable \u{202E}txt.exe"

        @Test("A receiver's ANSWER and ERROR texts are escaped on the sender's terminal")
        func senderTerminal() {
            let fake = FakeReceiver { peer, record in
                switch record {
                case .hello: peer.greet()
                case .offer(let offer): peer.answer(offer, .refuse, code: .refused, message: Self.hostile)
                case .goodbye:
                    peer.error(.refused, fatal: true, message: Self.hostile)
                    peer.shutdownWrite()
                default: break
                }
            }
            let source = TemporaryDirectory()
            source.makeFile("f.bin", count: 10)
            let result = xfer(["send", "--timeout", "5", source.file("f.bin"), fake.address])
            #expect(result.status != 0)
            #expect(!result.stderr.contains("\u{1B}"), "an escape sequence reached the terminal")
            #expect(!result.stderr.contains("\u{202E}"), "a bidi override reached the terminal")
            #expect(!result.stderr.split(separator: "\n").contains { $0.hasPrefix("xfer: confirmed") })
            #expect(result.stderr.contains("\\x1b[2J"), "\(result.stderr)")
        }

        @Test("A peer's ERROR text is escaped in the receiver's text log, and exact in --log-json")
        func receiverLog() throws {
            for json in [false, true] {
                let target = TemporaryDirectory()
                let receiver = ReceiverProcess(directory: target.path, extra: json ? ["--log-json"] : [])
                let client = RawClient(port: receiver.port)
                client.send(Preamble().bytes)
                client.send(.hello(Hello(parameters: [])))
                client.send(.error(ErrorRecord(code: .internalError, fatal: true, message: Self.hostile)))
                _ = client.readToEnd(seconds: 5)
                #expect(receiver.xfer.stderr.wait(for: json ? "2J" : "\\x1b[2J"), "\(receiver.log)")
                let log = receiver.log
                #expect(!log.contains("\u{1B}"), "an escape sequence reached the log")
                #expect(!log.split(separator: "\n").contains { $0.hasPrefix("xfer: confirmed") }, "a forged line")
                if json {
                    // (The 'listening on' line is still plain text: issue 20.)
                    for line in log.split(separator: "\n") where line.hasPrefix("{") {
                        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
                        if let detail = (object as? [String: Any])?["detail"] as? String, detail.contains("2J") {
                            #expect(detail.contains(Self.hostile), "JSON must carry the text exactly: \(detail)")
                        }
                    }
                }
            }
        }

        @Test(
            "300 connections from one address, each with an ERROR text: its log lines stop at a burst, then one summary counts the rest"
        )
        func receiverLogRateLimited() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            for index in 0..<300 {
                let client = RawClient(port: receiver.port, from: "127.0.0.77")
                client.send(Preamble().bytes)
                client.send(.hello(Hello(parameters: [])))
                client.send(.error(ErrorRecord(code: .internalError, fatal: true, message: "line \(index)")))
                _ = client.readToEnd(seconds: 5)
                client.close()
            }
            // A line from another address after the flood flushes the flood's summary.
            let source = TemporaryDirectory()
            source.makeFile("legit.bin", count: 10)
            #expect(xfer(["send", source.file("legit.bin"), receiver.address]).status == 0)
            #expect(receiver.xfer.stderr.wait(for: "suppressed"), "\(receiver.log.suffix(2000))")
            let lines = receiver.log.split(separator: "\n").filter { $0.contains("127.0.0.77") }
            // A burst of 20, two a second after it; the 300 connections make over 600 lines.
            #expect(lines.count < 80, "\(lines.count) lines from one address")
            let summary = lines.first { $0.contains("suppressed") }
            #expect(
                summary?.contains("more lines from 127.0.0.77 suppressed") == true,
                "\(String(describing: summary))"
            )
        }
    }
}
