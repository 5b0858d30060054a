import Foundation
import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of a ``Receiver``.
public struct ReceiverOptions: Sendable {
    /// Seconds a peer may stay silent before it is dropped.
    public var idleTimeout: Double = 30
    /// Connections served at once; the next gets a fatal ERROR `busy`.
    public var maxConnections = 64
    /// A commit batch closes at this many files (each holds a descriptor until the commit
    /// has checked it)…
    public var commitBatchFiles = 256
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

/// The receiving server: accepts connections and serves each on its own thread
/// (SPEC.md §7.3), writing only inside its target directory.
public final class Receiver: Sendable {
    /// The settings it was created with.
    public let options: ReceiverOptions
    private let directory: TargetDirectory
    private let journal: CommitJournal
    private struct State {
        /// Connections being served.
        var active = 0
        var listener: TCPSocket?
    }

    private let state = Mutex(State())
    /// The cap on kept partial files' total size.
    private let partialLimit: UInt64
    /// When partial files were last expired (monotonic seconds).
    private let lastExpiry = Mutex(0.0)

    /// Removes expired partial files, and the oldest while they hold more than the cap;
    /// at most every 10 s (a listing of `.xfer` is cheap, not free).
    private func expirePartials(log: (@Sendable (String) -> Void)?) {
        let now = monotonicSeconds()
        let due = lastExpiry.withLock { last in
            guard log == nil || now - last >= 10 else { return false }
            last = now
            return true
        }
        guard due else { return }
        for partial in directory.expirePartials(maximumAge: options.partialRetention, maximumBytes: partialLimit) {
            log?("removed partial \(partial.name) (\(partial.size) bytes, \(Int(partial.age)) s old)")
        }
    }

    /// Prepares to receive into `directory` (which must exist).
    /// - Throws: ``TransferError/localIO(_:)`` when it cannot be opened or its `.xfer`
    ///   state directory cannot be created.
    public init(directory: String, options: ReceiverOptions = ReceiverOptions()) throws(TransferError) {
        self.options = options
        Receiver.raiseDescriptorLimit()
        self.directory = try TargetDirectory(path: directory)
        journal = try CommitJournal(directory: self.directory, retention: options.commitRetention)
        partialLimit = options.maxPartialBytes ?? (self.directory.fileSystemBytes() ?? .max) / 4
        expirePartials(log: nil)
    }

    /// Each connection holds up to ``ReceiverOptions/commitBatchFiles`` descriptors while a
    /// batch waits for its commit: take the whole hard limit, which the soft default
    /// (often 1024) is far below.
    /// The process's umask, read once (reading it means setting it).
    static let processUmask: mode_t = {
        let mask = Glibc.umask(0o022)
        _ = Glibc.umask(mask)
        return mask
    }()

    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// Binds and listens; returns the address actually bound (the real port for port 0).
    public func listen(on endpoint: Endpoint) throws(TransferError) -> Endpoint {
        let socket = try TCPSocket.listen(on: endpoint)
        state.withLock { $0.listener = socket }
        return socket.localAddress.endpoint
    }

    /// Serves connections until ``stop()``; with `once`, serves one and returns its summary.
    /// - Parameter log: One line per notable event (errors, refusals, connection ends).
    @discardableResult
    public func serve(once: Bool = false, log: @escaping @Sendable (String) -> Void) -> ConnectionSummary? {
        guard let listener = state.withLock({ $0.listener }) else { return nil }
        while true {
            let socket: TCPSocket
            let address: SocketAddress
            do {
                (socket, address) = try listener.accept()
            } catch {
                if error.errno == EBADF || error.errno == EINVAL { return nil }  // stopped
                log("accept failed: \(error.reason)")
                usleep(100_000)  // EMFILE and friends: back off instead of spinning
                continue
            }
            let peer = address.description
            if once {
                return connection(socket, peer: peer, log: log).run()
            }
            let admitted = state.withLock { state in
                guard state.active < options.maxConnections else { return false }
                state.active += 1
                return true
            }
            let thread = Thread { [self] in
                if admitted {
                    let summary = connection(socket, peer: peer, log: log).run()
                    state.withLock { $0.active -= 1 }
                    log(summary.logLine)
                    expirePartials(log: log)
                } else {
                    turnAway(socket, peer: peer, log: log)
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Stops accepting (connections being served go on).
    public func stop() {
        state.withLock {
            if let listener = $0.listener { shutdown(listener.fd, CInt(SHUT_RDWR)) }
        }
    }

    private func connection(_ socket: TCPSocket, peer: String, log: @escaping @Sendable (String) -> Void)
        -> ReceiverConnection
    {
        ReceiverConnection(
            socket: socket,
            peer: peer,
            directory: directory,
            journal: journal,
            options: options,
            log: log
        )
    }

    /// Tells a connection over the cap to come back later (SPEC.md §9), without reading it.
    private func turnAway(_ socket: TCPSocket, peer: String, log: @Sendable (String) -> Void) {
        var bytes = Preamble().bytes
        try? RecordEncoder.append(
            .error(
                ErrorRecord(
                    code: .busy,
                    fatal: true,
                    message: "too many connections (\(options.maxConnections)); try again later"
                )
            ),
            to: &bytes
        )
        socket.setTimeouts(receive: 1, send: 2)
        try? socket.writeAll(bytes)
        socket.shutdownWrite()
        socket.drain(seconds: 2)
        socket.close()
        log("\(peer): turned away: too many connections")
    }
}

extension ConnectionSummary {
    /// One line for the receiver's log.
    public var logLine: String {
        var line = "\(peer): \(committedFiles) file(s), \(committedBytes) bytes committed"
        if failedFiles > 0 { line += ", \(failedFiles) failed" }
        if let failure { line += "; ended early: \(failure)" }
        return line
    }
}

/// The receiver's state in a target directory, for tools: partial files kept for resumes.
/// Works while a receiver serves the directory: each partial is checked by its own lock.
public enum ReceiverState {
    /// The partial files in `<directory>/.xfer`, oldest first.
    public static func partials(in directory: String) throws(TransferError) -> [KeptPartial] {
        try TargetDirectory(path: directory, locking: false).partials()
    }

    /// Removes every partial file no receiver is writing right now.
    /// - Returns: The partials removed.
    public static func removePartials(in directory: String) throws(TransferError) -> [KeptPartial] {
        try TargetDirectory(path: directory, locking: false).expirePartials(maximumAge: -1, maximumBytes: 0)
    }
}
