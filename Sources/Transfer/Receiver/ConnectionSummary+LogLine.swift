// How a ConnectionSummary reads in the receiver's log.
extension ConnectionSummary {
    /// One line for the receiver's log (without the peer, which the event carries).
    public var logLine: String {
        var line =
            joinedSession
            ? "joined a session: \(blocks) block(s), \(blockBytes) bytes received"
            : "\(committedFiles) file(s), \(committedBytes) bytes committed"
        if !joinedSession && blocks > 0 { line += " (\(blocks) block(s) of them on this connection)" }
        if failedFiles > 0 { line += ", \(failedFiles) failed" }
        if let failure { line += "; ended early: \(failure)" }
        return line
    }
}
