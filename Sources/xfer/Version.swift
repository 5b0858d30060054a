import Transfer

/// What `xfer --version` says: the release, the commit, and the protocol.
enum Version {
    /// The commit, or why it is not known: only scripts/install.sh records it.
    static var commit: String { buildCommit ?? "unknown: built without scripts/install.sh" }

    /// `xfer 1.0.0 (commit 1a2b3c4d5e6f; protocol version 1)`.
    static var line: String { "xfer \(xferVersion) (commit \(commit); protocol version 1)" }
}
