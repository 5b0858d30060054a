import Transfer

/// xfer's exit statuses: 0 only when the receiver confirmed every stream, durable. Numbers
/// follow BSD sysexits where one fits (23 is rsync's "partial transfer"), so shell scripts
/// can tell failures apart.
enum ExitCode: Int32, CaseIterable {
    case confirmed = 0
    case partial = 23
    case usage = 64
    case integrity = 65
    case cannotConnect = 69
    case connectionLost = 70
    case refused = 71
    case notDurable = 73
    case localIO = 74
    case timeout = 75
    case protocolError = 76
    case unauthenticated = 77
    case peerReset = 78
    case notAcknowledged = 79
    case acknowledgedNotClosed = 80
    case interrupted = 130

    init(_ error: TransferError) {
        switch error {
        case .cannotConnect: self = .cannotConnect
        case .connectionLost, .connectionLostAfterConfirming: self = .connectionLost
        case .timeout: self = .timeout
        case .refused(code: .unauthenticated, _), .authenticationFailed: self = .unauthenticated
        case .refused: self = .refused
        case .integrity: self = .integrity
        case .localIO: self = .localIO
        case .protocolViolation: self = .protocolError
        }
    }

    /// The one status for a whole run, by precedence: the connection's failure; else the
    /// first stream the receiver (or the wire) failed, in command-line order; else 73 if a
    /// confirmation was not durable (unless allowed); else, when sources could not be read
    /// or sent, 23 if anything was confirmed and 74 if nothing was; else 0.
    static func verdict(_ report: SendReport, lostSources: Int, allowNondurable: Bool) -> ExitCode {
        if let error = report.connectionError { return ExitCode(error) }
        let local = report.failures.filter { if case .localIO = $0.error { true } else { false } }
        if let failure = report.failures.first(where: { if case .localIO = $0.error { false } else { true } }) {
            return ExitCode(failure.error)
        }
        if !allowNondurable && report.confirmed.contains(where: { !$0.delivery.durable }) { return .notDurable }
        if !local.isEmpty || lostSources > 0 { return report.confirmed.isEmpty ? .localIO : .partial }
        return .confirmed
    }

    var meaning: String {
        switch self {
        case .confirmed:
            return "every stream confirmed by the receiver (complete, verified, durable); "
                + "--raw: less, see xfer send --raw --help"
        case .partial: return "partial: every stream sent was confirmed, but some sources could not be read or named"
        case .usage: return "usage error (bad arguments, a source named twice)"
        case .integrity: return "integrity failure (length or digest mismatch)"
        case .cannotConnect: return "cannot connect to the receiver"
        case .connectionLost: return "connection lost before confirmation"
        case .refused: return "receiver refused or failed a stream (its error code and message are printed)"
        case .notDurable: return "confirmed, but the receiver did not say durable (0 with --allow-nondurable)"
        case .unauthenticated:
            return "authentication failed: the receiver did not prove the key, or refused ours (--key)"
        case .localIO: return "local I/O error: nothing could be sent (no source could be read)"
        case .timeout: return "timeout: the peer went silent"
        case .protocolError: return "protocol error: the peer is not speaking xfer correctly"
        case .acknowledgedNotClosed:
            return "--raw: every byte reached the peer's kernel (acknowledged), but the peer did not close in time"
        case .peerReset:
            return "--raw: the peer reset the connection (how many bytes its TCP acknowledged before is printed)"
        case .notAcknowledged: return "--raw: the peer's TCP did not acknowledge every byte within --timeout"
        case .interrupted: return "interrupted (SIGINT, SIGTERM): re-run the same command to resume"
        }
    }

    /// The table for `--help` and the README.
    static var table: String {
        allCases.map { "  \(String($0.rawValue).padding(3)) \($0.meaning)" }.joined(separator: "\n")
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
