/// Who the receiver serves: every rule that decides whether a connection is accepted,
/// served after its handshake, or made to give way to another, as a value with no socket
/// and no clock of its own (the caller passes `now`), so each rule is a unit test.
///
/// The rules, each against a way to lock real senders out:
/// - A source (a ``SourceBlock``) whose handshakes keep failing is turned away at once
///   for a while (``SourcePenalties``): a wrong proof costs its source, not a slot.
/// - A source holds at most ``Limits/perSource`` connections at once.
/// - When every handshake slot is taken, a newcomer takes the oldest slot of the source
///   holding the most, if that source would still hold more than the newcomer's; only
///   when no source does and the newcomer's holds none, the oldest handshake of all gives way (a SYN cache's rule:
///   real senders finish a handshake in a round trip, the peers that fill the table
///   never do). So a flood from a few addresses or one IPv6 /64 cannot push out a
///   sender from anywhere else.
/// - When every served slot is taken, a newcomer that finished its handshake takes the
///   slot of the least active connection of the source holding the most, if that source
///   holds more than one slot beyond the newcomer's: one address cannot keep more than its
///   share while others wait. A source's only connection is never evicted for another.
struct AdmissionTable {
    /// The table's bounds.
    struct Limits {
        var served: Int
        var handshakes: Int
        var perSource: Int
    }

    /// A connection in the table.
    struct Ticket: Hashable, Sendable {
        let rawValue: UInt64
    }

    /// What happened to a connection that asked to be accepted.
    enum Admission: Equatable {
        /// In, handshaking; `evicting` (if any) gives its handshake slot up.
        case accepted(Ticket, evicting: Ticket?)
        case refused(String)
    }

    /// What happened to a connection that finished its handshake.
    enum Service: Equatable {
        /// Served; `evicting` (if any) gives its served slot up.
        case served(evicting: Ticket?)
        case refused(String)
    }

    private struct Entry {
        let source: SourceBlock
        var established = false
        var evicted = false
        /// Accepted (for handshakes) or last active (for served ones), monotonic seconds.
        var since: Double
    }

    private struct Counts {
        var handshaking = 0
        var served = 0
        var total: Int { handshaking + served }
    }

    let limits: Limits
    private(set) var penalties: SourcePenalties
    private var entries: [Ticket: Entry] = [:]
    private var sources: [SourceBlock: Counts] = [:]
    private var nextTicket: UInt64 = 0
    /// Slots held right now, evicted connections included until they end.
    private(set) var handshaking = 0
    private(set) var served = 0

    init(limits: Limits, penalties: SourcePenaltyPolicy) {
        self.limits = limits
        self.penalties = SourcePenalties(policy: penalties)
    }

    /// A new connection from `source`.
    mutating func admit(_ source: SourceBlock, now: Double) -> Admission {
        if let left = penalties.remaining(for: source, now: now) {
            return .refused("\(source) is penalised for failed handshakes for \(Int(left.rounded(.up))) s more")
        }
        let counts = sources[source, default: Counts()]
        if counts.total >= limits.perSource {
            return .refused("too many connections from \(source) (\(limits.perSource))")
        }
        var evicting: Ticket?
        if handshaking >= limits.handshakes {
            // Evicted connections hold their slot until their thread ends: never more
            // than the table's size of them at once.
            guard handshaking < 2 * limits.handshakes,
                let victim = handshakeVictim(newcomer: counts.handshaking)
            else { return .refused("too many connections in their handshake (\(limits.handshakes))") }
            entries[victim]?.evicted = true
            evicting = victim
        }
        nextTicket += 1
        let ticket = Ticket(rawValue: nextTicket)
        entries[ticket] = Entry(source: source, since: now)
        sources[source, default: Counts()].handshaking += 1
        handshaking += 1
        return .accepted(ticket, evicting: evicting)
    }

    /// The oldest handshake of the source holding the most, if it holds more than the
    /// newcomer's would; else, for a newcomer from a source with no handshake yet, the
    /// oldest of all. A source that already holds its share waits its turn.
    private func handshakeVictim(newcomer: Int) -> Ticket? {
        let live = entries.filter { !$0.value.established && !$0.value.evicted }
        guard let heaviest = heaviestSource(in: live.values.map(\.source)), heaviest.count > newcomer + 1 else {
            return newcomer == 0 ? live.min { $0.value.since < $1.value.since }?.key : nil
        }
        return live.filter { $0.value.source == heaviest.source }.min { $0.value.since < $1.value.since }?.key
    }

    private func heaviestSource(in list: [SourceBlock]) -> (source: SourceBlock, count: Int)? {
        var counts: [SourceBlock: Int] = [:]
        for source in list { counts[source, default: 0] += 1 }
        return counts.max { $0.value < $1.value }.map { ($0.key, $0.value) }
    }

    /// `ticket` finished its handshake: serve it if a slot is free or can be taken.
    /// - Parameter activity: When a served connection last made progress.
    mutating func establish(_ ticket: Ticket, now: Double, activity: (Ticket) -> Double) -> Service {
        guard var entry = entries[ticket], !entry.established else { return .served(evicting: nil) }
        guard !entry.evicted else { return .refused("evicted during its handshake") }
        var evicting: Ticket?
        if served >= limits.served {
            let live = entries.filter { $0.value.established && !$0.value.evicted }
            let own = live.values.filter { $0.source == entry.source }.count
            guard served < 2 * limits.served,
                let heaviest = heaviestSource(in: live.values.map(\.source)), heaviest.count > own + 1,
                let victim = live.filter({ $0.value.source == heaviest.source }).min(by: {
                    activity($0.key) < activity($1.key)
                })?.key
            else { return .refused("too many connections (\(limits.served)); try again later") }
            entries[victim]?.evicted = true
            evicting = victim
        }
        entry.established = true
        entry.since = now
        entries[ticket] = entry
        sources[entry.source, default: Counts()].handshaking -= 1
        sources[entry.source, default: Counts()].served += 1
        handshaking -= 1
        served += 1
        return .served(evicting: evicting)
    }

    /// Whether `ticket` was told to give its slot up.
    func isEvicted(_ ticket: Ticket) -> Bool { entries[ticket]?.evicted ?? false }

    /// `ticket` ended; `failure`: its handshake failed that way, which costs its source.
    mutating func release(_ ticket: Ticket, failure: HandshakeFailure? = nil, now: Double) {
        guard let entry = entries.removeValue(forKey: ticket) else { return }
        if entry.established {
            served -= 1
            sources[entry.source, default: Counts()].served -= 1
            // After the handshake only a refused JOIN fails this way (SPEC.md §16.2).
            if let failure, !entry.evicted { penalties.penalise(entry.source, for: failure, now: now) }
        } else {
            handshaking -= 1
            sources[entry.source, default: Counts()].handshaking -= 1
            // An evicted handshake lost its slot to another; that is not its failure.
            if let failure, !entry.evicted { penalties.penalise(entry.source, for: failure, now: now) }
        }
        if sources[entry.source]?.total == 0 { sources[entry.source] = nil }
    }
}
