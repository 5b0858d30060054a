import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration.SenderTrust {
    /// Issue 16, item 6: a sender whose events said `confirmed` must not then say the
    /// connection was lost "before confirmation".
    @Test(
        "A connection reset after the first of two ACKs: 70, and the words say 1 of 2 confirmed, as the events do",
        arguments: ["--json", "--quiet"]
    )
    func lostAfterOneConfirmation(style: String) throws {
        let source = TemporaryDirectory()
        source.makeFile("first.bin", count: 4096)
        source.makeFile("second.bin", count: 4096)
        let fake = FakeReceiver { peer, record in
            // The first stream is acknowledged; at the second's END the receiver resets.
            if case .end = record, peer.currentOffer?.name == "second.bin" {
                peer.reset()
            } else {
                peer.standard(record)
            }
        }
        let (run, peer) = Self.send(
            ["--timeout", "5", style, source.file("first.bin"), source.file("second.bin")],
            to: fake
        )
        #expect(run.exited(70), "\(run) — \(peer?.summary ?? "no connection")")
        if style == "--json" {
            let events = jsonEvents(run.stdout)
            #expect(events.contains { $0["event"] as? String == "confirmed" && $0["name"] as? String == "first.bin" })
            let done = try #require(events.last)
            #expect(done["confirmed"] as? Int == 1)
            let error = done["error"] as? String ?? ""
            #expect(error.hasPrefix("1 of 2 file(s) confirmed; the connection was lost before the rest"), "\(error)")
            #expect(!error.contains("before confirmation"), "\(error)")
        }
        // The stream that was lost is named as lost; the confirmed one never is.
        #expect(run.stderr.contains("second.bin"), "\(run.stderr)")
        #expect(!run.stderr.contains("first.bin"), "\(run.stderr)")
    }

    @Test("Every file confirmed, then a reset in place of GOODBYE: 70, and the words say all were confirmed")
    func lostAfterEveryConfirmation() throws {
        let source = TemporaryDirectory()
        source.makeFile("only.bin", count: 4096)
        let fake = FakeReceiver { peer, record in
            if case .goodbye = record { peer.reset() } else { peer.standard(record) }
        }
        let (run, peer) = Self.send(["--timeout", "5", "--json", source.file("only.bin")], to: fake)
        #expect(run.exited(70), "\(run) — \(peer?.summary ?? "no connection")")
        let events = jsonEvents(run.stdout)
        #expect(events.contains { $0["event"] as? String == "confirmed" && $0["name"] as? String == "only.bin" })
        let done = try #require(events.last)
        let error = done["error"] as? String ?? ""
        #expect(
            error.hasPrefix("1 of 1 file(s) confirmed; the connection was lost before the receiver's GOODBYE"),
            "\(error)"
        )
        #expect(run.stderr.contains("1 of 1 file(s) confirmed"), "\(run.stderr)")
        #expect(!run.stderr.contains("before confirmation"), "\(run.stderr)")
    }
}
