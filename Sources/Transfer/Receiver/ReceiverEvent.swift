#if canImport(Glibc)
    import Glibc
#endif

/// One line of the receiver's log: what happened to a file, or to a connection.
public struct ReceiverEvent: Sendable {
    /// What happened.
    public enum Kind: String, Sendable {
        /// A file is durable under its name and was ACKed.
        case committed
        /// A file was ACKed again without data: the receiver already had it.
        case alreadyCommitted = "already_committed"
        /// An offer was refused (bad name, no space, busy, …).
        case refused
        /// A stream failed (digest, length, write or sync error); nothing was committed.
        case failed
        /// The verified part of an interrupted stream is kept for a resume.
        case kept
        /// The sender cancelled a stream.
        case cancelled
        /// A connection ended (``ReceiverEvent/detail`` sums it up).
        case connection
        /// A connection was turned away before it was served.
        case turnedAway = "turned_away"
        /// Anything else worth a line (expired partials, a sender's ERROR, accept failures).
        case notice
    }

    /// Seconds since 1970.
    public var time: Double
    /// The peer's address, when the event concerns one.
    public var peer: String?
    /// What happened.
    public var kind: Kind
    /// The file's name, when the event concerns one.
    public var name: String?
    /// Bytes of the file (committed, kept).
    public var bytes: UInt64?
    /// The offset a committed stream was resumed from, when it was.
    public var resumedFrom: UInt64?
    /// Why, or more, in words.
    public var detail: String

    /// An event of now.
    public init(
        peer: String?,
        kind: Kind,
        name: String? = nil,
        bytes: UInt64? = nil,
        resumedFrom: UInt64? = nil,
        detail: String = ""
    ) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        time = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        self.peer = peer
        self.kind = kind
        self.name = name
        self.bytes = bytes
        self.resumedFrom = resumedFrom
        self.detail = detail
    }

    /// The event as one line for people: `PEER: WHAT 'NAME' (BYTES): DETAIL`.
    /// Names and details come from the wire: every control and bidi character is escaped
    /// (``TerminalText``), so the line can be shown on a terminal or kept in a log as it is.
    public var text: String { TerminalText.escaped(rawText) }

    private var rawText: String {
        var line = peer.map { "\($0): " } ?? ""
        switch kind {
        case .committed:
            line += "committed '\(name ?? "")' (\(bytes ?? 0) bytes"
            line += resumedFrom.map { ", resumed from \($0))" } ?? ")"
        case .alreadyCommitted: line += "'\(name ?? "")' already committed (\(bytes ?? 0) bytes); acknowledged again"
        case .refused: line += "refused '\(name ?? "")': \(detail)"
        case .failed: line += "'\(name ?? "")' failed: \(detail)"
        case .kept: line += "kept \(bytes ?? 0) bytes of '\(name ?? "")' to resume"
        case .cancelled: line += "'\(name ?? "")' cancelled by the sender: \(detail)"
        case .connection: line += detail
        case .turnedAway: line += "turned away: \(detail)"
        case .notice: line += detail
        }
        return line
    }
}
