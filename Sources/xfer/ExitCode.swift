import Transfer

/// xfer's exit statuses: 0 only when the receiver confirmed every stream. Numbers follow
/// BSD sysexits where one fits, so shell scripts can tell failures apart.
enum ExitCode: Int32, CaseIterable {
    case confirmed = 0
    case usage = 64
    case integrity = 65
    case cannotConnect = 69
    case connectionLost = 70
    case refused = 71
    case localIO = 74
    case timeout = 75
    case protocolError = 76

    init(_ error: TransferError) {
        switch error {
        case .cannotConnect: self = .cannotConnect
        case .connectionLost: self = .connectionLost
        case .timeout: self = .timeout
        case .refused: self = .refused
        case .integrity: self = .integrity
        case .localIO: self = .localIO
        case .protocolViolation: self = .protocolError
        }
    }

    var meaning: String {
        switch self {
        case .confirmed: return "every stream confirmed by the receiver (complete, verified, durable)"
        case .usage: return "usage error (bad arguments)"
        case .integrity: return "integrity failure (length or digest mismatch)"
        case .cannotConnect: return "cannot connect to the receiver"
        case .connectionLost: return "connection lost before confirmation"
        case .refused: return "receiver refused (its error code and message are printed)"
        case .localIO: return "local I/O error (a source cannot be read, or the target directory cannot be used)"
        case .timeout: return "timeout: the peer went silent"
        case .protocolError: return "protocol error: the peer is not speaking xfer correctly"
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
