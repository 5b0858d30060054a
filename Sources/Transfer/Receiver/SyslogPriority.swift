/// A log line's importance, as syslog numbers it (`sd-daemon(3)`): written as `<N>` at the
/// start of a line on a journal stream, it becomes that entry's priority, so
/// `journalctl -p warning` shows refusals and failures without the files that went well.
public enum SyslogPriority: Int, Sendable {
    /// `LOG_ERR`: a file or the receiver failed.
    case error = 3
    /// `LOG_WARNING`: something was refused or turned away.
    case warning = 4
    /// `LOG_NOTICE`: the receiver's own news (listening, stopping, partials kept or removed).
    case notice = 5
    /// `LOG_INFO`: the ordinary course (files committed, connections ended).
    case info = 6

    /// `<N>`, the prefix the journal reads and removes.
    public var prefix: String { "<\(rawValue)>" }
}

extension ReceiverEvent {
    /// How important the event is in a system log.
    public var priority: SyslogPriority {
        switch kind {
        case .failed: .error
        case .refused, .turnedAway: .warning
        case .kept, .notice: .notice
        case .committed, .alreadyCommitted, .cancelled, .connection: .info
        }
    }
}
