import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of a ``Receiver``.
public struct ReceiverOptions: Sendable {
    /// The pre-shared key every client must prove before anything else (SPEC.md §13);
    /// `nil`: no authentication.
    public var key: AuthenticationKey?
    /// Seconds a peer may stay silent before it is dropped.
    public var idleTimeout: Double = 30
    /// The slowest a record may arrive, in bytes per second: a record of `n` bytes whose
    /// first byte has arrived must be complete within ``idleTimeout`` + `n` / this many
    /// seconds of waiting for the peer, or the connection is dropped. Between records only
    /// ``idleTimeout`` applies (a sender may pause, sending KEEPALIVEs).
    public var minimumRecordRate: Double = 64 * 1024
    /// Connections served at once past their handshake; the next gets a fatal ERROR `busy`.
    public var maxConnections = 64
    /// Connections still in their handshake (not yet sent a valid HELLO, or not yet
    /// authenticated) at once; more are turned away on the accepting thread.
    public var maxHandshakes = 128
    /// Connections from one source at once (handshaking or not); a source is an address,
    /// or for IPv6 a network block (``sourcePrefixBits``).
    public var maxPerAddress = 16
    /// How many leading bits of an address make one source for the per-source limits and
    /// penalties: 32 (one address) for IPv4, 64 (one /64, what one host is routinely given)
    /// for IPv6, as OpenSSH's `PerSourceNetBlockSize`.
    public var sourcePrefixBits: (ipv4: Int, ipv6: Int) = (32, 64)
    /// What a failed handshake costs its source: a source over the threshold is turned
    /// away at once for a while (OpenSSH's `PerSourcePenalties`).
    public var penalties = SourcePenaltyPolicy()
    /// Seconds a connection may take from accept to the end of its handshake, however
    /// it trickles its bytes.
    public var handshakeTimeout: Double = 10
    /// A commit batch closes at this many files (each holds a descriptor until the commit
    /// has checked it; many connections at once share what the process may open, and
    /// close their batches sooner)…
    public var commitBatchFiles = 1000
    /// …or this many bytes, or when the sender pauses.
    public var commitBatchBytes: UInt64 = 64 << 20
    /// Write-back of received data starts every this many bytes.
    public var writeBackWindow: UInt64 = 8 << 20
    /// Seconds a partial file of an interrupted transfer is kept for a resume.
    public var partialRetention: Double = 7 * 86400
    /// Bytes all kept partial files may hold together; the oldest go first. `nil`: a
    /// quarter of the target's file system.
    public var maxPartialBytes: UInt64?
    /// Seconds a commit is remembered at least, for "already committed" answers.
    public var commitRetention: Double = 30 * 86400
    /// Permission bits never given to received files: the sender's mode is applied through
    /// this mask. `nil`: the process's umask, plus world-write (never world-writable).
    public var umask: mode_t?
    /// Connections one session may have, the first included (SPEC.md §16); also bounded by
    /// ``maxPerAddress`` and by 16. 1: no sessions are granted.
    public var maxStreams = 16
    /// Bytes per block of a `blocks` offer: a power of two, 64 KiB to 64 MiB.
    public var blockSize: UInt32 = 8 << 20
    /// The program each committed stream is handed to before its ACK (`--exec`); `nil`:
    /// the ACK follows the commit.
    public var consumer: StreamConsumer?

    /// The defaults: 30 s idle timeout, 64 connections, batches of 256 files or 64 MiB,
    /// partials kept 7 days (at most a quarter of the file system), commits remembered 30 days.
    public init() {}
}

extension ReceiverOptions {
    /// The mask applied to senders' modes: ``umask``, or the process's umask plus
    /// world-write.
    var effectiveUmask: mode_t {
        if let umask { return umask & 0o777 }
        return Receiver.processUmask | 0o002
    }
}
