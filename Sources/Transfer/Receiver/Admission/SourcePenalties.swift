/// What a failed handshake costs the network block it came from: OpenSSH's answer to the
/// same problem (`PerSourcePenalties`, 9.8+), so that peers that fail cost their source,
/// not the server's slots.
///
/// Each failure adds its seconds to its source's penalty, which counts down in real time
/// and is capped at ``maximum``. A source whose penalty reaches ``threshold`` is
/// *penalised*: the accepting thread turns its connections away at once, without a thread
/// or a handshake slot, until its penalty has run out. The threshold lets a person who
/// mistypes a key file retry once before being told to wait.
public struct SourcePenaltyPolicy: Sendable, Equatable {
    /// Seconds for a wrong proof of the key (OpenSSH's `authfail`).
    public var authenticationFailure: Double = 5
    /// Seconds for a handshake that ran past ``ReceiverOptions/handshakeTimeout`` or the
    /// idle timeout (OpenSSH's `grace-exceeded`): a silent or trickling peer. One alone
    /// stays under the threshold: a sender whose network hiccuped once is not shut out.
    public var handshakeTimeout: Double = 5
    /// Seconds for a handshake that broke the protocol or closed before it ended
    /// (OpenSSH's `noauth`).
    public var handshakeAbandoned: Double = 1
    /// A source is turned away once its penalty reaches this many seconds: with the
    /// defaults, at its third wrong proof or timed-out handshake in quick succession.
    public var threshold: Double = 10
    /// A penalty never exceeds this many seconds.
    public var maximum: Double = 600
    /// Sources remembered at once; when full, the table makes room from the sources
    /// whose penalty is smallest, and a source not remembered is simply not penalised
    /// (OpenSSH's `overflow permissive`): the table can never lock everyone out.
    public var maximumSources = 65_536

    /// The defaults above.
    public init() {}

    /// No penalties: every failure is forgotten at once.
    public static let disabled: SourcePenaltyPolicy = {
        var policy = SourcePenaltyPolicy()
        policy.authenticationFailure = 0
        policy.handshakeTimeout = 0
        policy.handshakeAbandoned = 0
        return policy
    }()
}

/// How a handshake failed, for its source's penalty.
enum HandshakeFailure: Sendable {
    case authentication
    case timeout
    case abandoned
}

/// The penalty of every source that failed recently. A value: every rule is a unit test.
struct SourcePenalties {
    let policy: SourcePenaltyPolicy

    private struct Penalty {
        /// When it runs out (monotonic seconds).
        var expiry: Double
        /// It reached the threshold: the source is turned away until `expiry`. Once over,
        /// a source stays out until its whole penalty has run out (counting down below the
        /// threshold does not readmit it early), as OpenSSH does.
        var active: Bool
    }

    private var penalties: [SourceBlock: Penalty] = [:]

    init(policy: SourcePenaltyPolicy) { self.policy = policy }

    /// Sources remembered now.
    var count: Int { penalties.count }

    /// Adds what `failure` costs to `source`'s penalty.
    mutating func penalise(_ source: SourceBlock, for failure: HandshakeFailure, now: Double) {
        let seconds: Double
        switch failure {
        case .authentication: seconds = policy.authenticationFailure
        case .timeout: seconds = policy.handshakeTimeout
        case .abandoned: seconds = policy.handshakeAbandoned
        }
        guard seconds > 0 else { return }
        var penalty = penalties[source].flatMap { $0.expiry > now ? $0 : nil } ?? Penalty(expiry: now, active: false)
        if penalties[source] == nil, penalties.count >= policy.maximumSources {
            makeRoom(now: now)
            guard penalties.count < policy.maximumSources else { return }
        }
        penalty.expiry = min(penalty.expiry + seconds, now + policy.maximum)
        if penalty.expiry - now >= policy.threshold { penalty.active = true }
        penalties[source] = penalty
    }

    /// Seconds `source` is still turned away for, or nil when it is not penalised.
    func remaining(for source: SourceBlock, now: Double) -> Double? {
        guard let penalty = penalties[source], penalty.active, penalty.expiry > now else { return nil }
        return penalty.expiry - now
    }

    /// Forgets the sources whose penalty has run out, and if still full, the half with
    /// the smallest penalties.
    private mutating func makeRoom(now: Double) {
        penalties = penalties.filter { $0.value.expiry > now }
        guard penalties.count >= policy.maximumSources else { return }
        let kept = penalties.sorted { $0.value.expiry > $1.value.expiry }.prefix(policy.maximumSources / 2)
        penalties = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
    }
}
