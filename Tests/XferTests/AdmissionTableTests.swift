import Synchronization
import Testing

@testable import Transfer

/// Who the receiver serves, on its own: no sockets, no clock (every call passes `now`).
@Suite struct AdmissionTableTests {
    static func v4(_ last: UInt8, _ third: UInt8 = 0) -> SourceBlock {
        SourceBlock(address: [10, 0, third, last], isIPv4: true, prefixBits: 32)
    }

    static func v6(_ host: UInt16, net: UInt8 = 1) -> SourceBlock {
        var bytes: [UInt8] = [0x20, 0x01, 0x0D, 0xB8, 0, net, 0, 0] + [UInt8](repeating: 0, count: 6)
        bytes += [UInt8(host >> 8), UInt8(host & 0xFF)]
        return SourceBlock(address: bytes, isIPv4: false, prefixBits: 64)
    }

    static func table(served: Int = 4, handshakes: Int = 4, perSource: Int = 16) -> AdmissionTable {
        AdmissionTable(
            limits: .init(served: served, handshakes: handshakes, perSource: perSource),
            penalties: SourcePenaltyPolicy()
        )
    }

    static func ticket(_ admission: AdmissionTable.Admission) -> AdmissionTable.Ticket? {
        if case .accepted(let ticket, _) = admission { return ticket }
        return nil
    }

    @Test("IPv6 addresses of one /64 are one source; IPv4 addresses are each their own")
    func sourceBlocks() {
        #expect(Self.v6(1) == Self.v6(999))
        #expect(Self.v6(1) != Self.v6(1, net: 2))
        #expect(Self.v6(7).description == "2001:db8:1::/64")
        #expect(Self.v4(1) != Self.v4(2))
        #expect(Self.v4(7).description == "10.0.0.7")
        let block24 = SourceBlock(address: [10, 0, 3, 77], isIPv4: true, prefixBits: 24)
        #expect(block24 == SourceBlock(address: [10, 0, 3, 1], isIPv4: true, prefixBits: 24))
        #expect(block24.description == "10.0.3.0/24")
    }

    @Test("Three wrong proofs turn the source away until their 15 s run out; others are not touched")
    func penaltiesCostTheSource() {
        var table = Self.table()
        let attacker = Self.v4(7)
        for attempt in 0..<3 {
            guard let ticket = Self.ticket(table.admit(attacker, now: Double(attempt))) else {
                Issue.record("attempt \(attempt) was refused before its penalty reached the threshold")
                return
            }
            table.release(ticket, failure: .authentication, now: Double(attempt))
        }
        guard case .refused(let reason) = table.admit(attacker, now: 2.5) else {
            Issue.record("a source with three failed proofs was admitted")
            return
        }
        #expect(reason.contains("10.0.0.7") && reason.contains("penalised"), "\(reason)")
        #expect(Self.ticket(table.admit(Self.v4(8), now: 2.5)) != nil)
        // 5 s each at t = 0, 1, 2: 13 s left after the third, over the 10 s threshold; it
        // runs out at 15 and not before, though it fell under the threshold at 5.
        #expect(Self.ticket(table.admit(attacker, now: 14)) == nil)
        #expect(Self.ticket(table.admit(attacker, now: 15.1)) != nil)
        // Served connections and evicted handshakes cost nothing.
        #expect(table.penalties.count == 1)
    }

    @Test("Penalties add up to the maximum and no further; a full table forgets, never locks out")
    func penaltyBounds() {
        var policy = SourcePenaltyPolicy()
        policy.maximumSources = 4
        var penalties = SourcePenalties(policy: policy)
        for _ in 0..<1000 { penalties.penalise(Self.v4(1), for: .timeout, now: 0) }
        #expect(penalties.remaining(for: Self.v4(1), now: 0) == 600)
        for index in 2...20 { penalties.penalise(Self.v4(UInt8(index)), for: .timeout, now: 0) }
        #expect(penalties.count <= 4)
        #expect(penalties.remaining(for: Self.v4(1), now: 0) == 600, "the heaviest penalty is kept")
        var disabled = SourcePenalties(policy: .disabled)
        for _ in 0..<10 { disabled.penalise(Self.v4(1), for: .authentication, now: 0) }
        #expect(disabled.remaining(for: Self.v4(1), now: 0) == nil)
    }

    @Test("A full handshake table: a newcomer takes the oldest slot of the heaviest source, not a lone one")
    func handshakeEviction() {
        var table = Self.table(handshakes: 4)
        let lone = Self.ticket(table.admit(Self.v4(1), now: 0))
        var flood: [AdmissionTable.Ticket] = []
        for second in 1...3 { flood += [Self.ticket(table.admit(Self.v6(UInt16(second)), now: Double(second)))!] }
        // Full. More of the /64: each takes one of its own block's slots, never the lone one.
        for second in 4...20 {
            let admission = table.admit(Self.v6(UInt16(second)), now: Double(second))
            guard case .accepted(_, let victim?) = admission else {
                // Equal shares (2 and 2 would follow): the newcomer is refused instead.
                continue
            }
            #expect(victim != lone, "the lone handshake was evicted at \(second) s")
            table.release(victim, failure: .abandoned, now: Double(second))
        }
        #expect(lone.map { table.isEvicted($0) } == false)
        // Evicted handshakes lost their slot to another: no penalty for their source.
        #expect(table.penalties.count == 0)
        // A fresh source still gets in, taking a flood slot.
        guard case .accepted(_, let victim?) = table.admit(Self.v4(2), now: 30) else {
            Issue.record("a new source was refused while one /64 held three of four handshakes")
            return
        }
        #expect(victim != lone)
    }

    @Test("Equal sources, table full: the oldest handshake of all gives way (a SYN cache's rule)")
    func oldestGivesWay() {
        var table = Self.table(handshakes: 3)
        let first = Self.ticket(table.admit(Self.v4(1), now: 0))!
        _ = table.admit(Self.v4(2), now: 1)
        _ = table.admit(Self.v4(3), now: 2)
        #expect(table.admit(Self.v4(4), now: 3) == .accepted(AdmissionTable.Ticket(rawValue: 4), evicting: first))
    }

    @Test("Served slots full: a waiting source takes the least active slot of one holding more than its share")
    func servedShare() {
        var table = Self.table(served: 4, handshakes: 8)
        var activity: [AdmissionTable.Ticket: Double] = [:]
        var hog: [AdmissionTable.Ticket] = []
        for index in 0..<3 {
            let ticket = Self.ticket(table.admit(Self.v4(1), now: 0))!
            #expect(table.establish(ticket, now: 0, activity: { activity[$0] ?? 0 }) == .served(evicting: nil))
            activity[ticket] = Double(10 - index)  // the last one is the least active
            hog.append(ticket)
        }
        let other = Self.ticket(table.admit(Self.v4(2), now: 0))!
        #expect(table.establish(other, now: 0, activity: { activity[$0] ?? 0 }) == .served(evicting: nil))
        // Full: 3 + 1. A third source's newcomer takes the hog's least active slot.
        let newcomer = Self.ticket(table.admit(Self.v4(3), now: 1))!
        #expect(table.establish(newcomer, now: 1, activity: { activity[$0] ?? 0 }) == .served(evicting: hog[2]))
        table.release(hog[2], now: 1)
        // Now 2 + 1 + 1: nobody holds more than one beyond the next newcomer's share of 0… 2 > 0 + 1.
        let fourth = Self.ticket(table.admit(Self.v4(4), now: 2))!
        #expect(table.establish(fourth, now: 2, activity: { activity[$0] ?? 0 }) == .served(evicting: hog[1]))
        table.release(hog[1], now: 2)
        // 1 + 1 + 1 + 1: a source's only connection is never evicted for another.
        let fifth = Self.ticket(table.admit(Self.v4(5), now: 3))!
        guard case .refused(let reason) = table.establish(fifth, now: 3, activity: { activity[$0] ?? 0 }) else {
            Issue.record("a lone connection was evicted for a newcomer")
            return
        }
        #expect(reason.contains("too many connections"), "\(reason)")
    }

    @Test("Per-source limit counts a block's handshakes and served connections together")
    func perSourceLimit() {
        var table = Self.table(served: 8, handshakes: 8, perSource: 2)
        let a = Self.ticket(table.admit(Self.v6(1), now: 0))!
        _ = table.establish(a, now: 0, activity: { _ in 0 })
        #expect(Self.ticket(table.admit(Self.v6(2), now: 0)) != nil)
        guard case .refused(let reason) = table.admit(Self.v6(3), now: 0) else {
            Issue.record("a third connection from one /64 was admitted")
            return
        }
        #expect(reason.contains("2001:db8:1::/64"), "\(reason)")
        table.release(a, now: 1)
        #expect(Self.ticket(table.admit(Self.v6(4), now: 1)) != nil)
    }

    @Test("Log lines: a burst per source, then one summary with the count; committed lines always pass")
    func logRateLimit() {
        let limiter = LogRateLimiter(burst: 3, perSecond: 1)
        let lines = Lines()
        let log: @Sendable (ReceiverEvent) -> Void = { lines.append($0.text) }
        for _ in 0..<100 {
            limiter.log(
                ReceiverEvent(peer: "10.0.0.7:1", kind: .notice, detail: "x"),
                from: Self.v4(7),
                now: 0,
                to: log
            )
        }
        limiter.log(ReceiverEvent(peer: "10.0.0.8:1", kind: .notice, detail: "y"), from: Self.v4(8), now: 0, to: log)
        limiter.log(
            ReceiverEvent(peer: "10.0.0.7:1", kind: .committed, name: "a", bytes: 1),
            from: Self.v4(7),
            now: 0,
            to: log
        )
        #expect(lines.all.count == 5, "\(lines.all)")
        limiter.flush(now: 0.5, to: log)
        #expect(lines.all.count == 5, "no token yet: no summary")
        limiter.flush(now: 1.5, to: log)
        #expect(lines.all.last == "… 97 more lines from 10.0.0.7 suppressed", "\(lines.all)")
    }

    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }
}
