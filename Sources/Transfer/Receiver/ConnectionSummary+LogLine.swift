// How a ConnectionSummary reads in the receiver's log.
extension ConnectionSummary {
    /// One line for the receiver's log (without the peer, which the event carries).
    public var logLine: String {
        var line = "\(committedFiles) file(s), \(committedBytes) bytes committed"
        if failedFiles > 0 { line += ", \(failedFiles) failed" }
        if let failure { line += "; ended early: \(failure)" }
        return line
    }
}
