import CXferSystem
import Framing
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The receiving server: accepts connections and serves each on its own thread
/// (SPEC.md §7.3), writing only inside its target directory.
public final class Receiver: Sendable {
    /// The settings it was created with.
    public let options: ReceiverOptions
    private let directory: TargetDirectory
    private let journal: CommitJournal
    /// Transfers being received right now, by any connection (apart from the journal: a
    /// claim never waits behind its disk work).
    private let transfers = TransferClaims()
    /// Sessions granted to first connections, which further connections join (SPEC.md §16).
    private let sessions = ReceiverSessions()
    /// What waiting commit batches may hold open, shared by every connection.
    private let descriptors: DescriptorBudget
    struct State {
        /// Who is served, handshaking, evicted or penalised.
        var table: AdmissionTable
        /// The connections in the table, to evict them.
        var admissions: [AdmissionTable.Ticket: Admission] = [:]
        var listener: TCPSocket?
        /// The listener came from the service manager (``listen(adopting:)``), which keeps
        /// listening on it after this process ends.
        var adopted = false
        var stopping = false
    }

    let state: Mutex<State>
    /// Bounds the lines each source can put in the log.
    private let logLimiter = LogRateLimiter()
    /// The cap on kept partial files' total size, enforced at every kept partial.
    private let partials: PartialsCap
    /// When partial files were last expired (monotonic seconds).
    private let lastExpiry = Mutex(0.0)

    /// Removes expired partial files, and the oldest while they hold more than the cap;
    /// at most every 10 s (a listing of `.xfer` is cheap, not free).
    private func expirePartials(log: (@Sendable (ReceiverEvent) -> Void)?) {
        let now = monotonicSeconds()
        let due = lastExpiry.withLock { last in
            guard log == nil || now - last >= 10 else { return false }
            last = now
            return true
        }
        guard due else { return }
        for partial in partials.enforce() {
            log?(
                ReceiverEvent(
                    peer: nil,
                    kind: .notice,
                    detail: "removed partial \(partial.name) (\(partial.size) bytes, \(Int(partial.age)) s old)"
                )
            )
        }
    }

    /// Prepares to receive into `directory` (which must exist).
    /// - Throws: ``TransferError/localIO(_:)`` when it cannot be opened or its `.xfer`
    ///   state directory cannot be created.
    public init(directory: String, options: ReceiverOptions = ReceiverOptions()) throws(TransferError) {
        self.options = options
        state = Mutex(
            State(
                table: AdmissionTable(
                    limits: .init(
                        served: options.maxConnections,
                        handshakes: options.maxHandshakes,
                        perSource: options.maxPerAddress
                    ),
                    penalties: options.penalties
                )
            )
        )
        descriptors = DescriptorBudget.forProcess(
            connections: options.maxConnections,
            handshakes: options.maxHandshakes
        )
        self.directory = try TargetDirectory(path: directory)
        journal = try CommitJournal(
            directory: self.directory,
            retention: options.commitRetention,
            name: options.consumer.map(CommitJournal.journalName(consumer:)) ?? "commits"
        )
        partials = PartialsCap(
            directory: self.directory,
            limit: options.maxPartialBytes ?? (self.directory.fileSystemBytes() ?? .max) / 4,
            retention: options.partialRetention
        )
        expirePartials(log: nil)
    }

    /// The process's umask, read once (reading it means setting it).
    static let processUmask: mode_t = {
        let mask = Glibc.umask(0o022)
        _ = Glibc.umask(mask)
        return mask
    }()

    /// Binds and listens; returns the address actually bound (the real port for port 0).
    public func listen(on endpoint: Endpoint) throws(TransferError) -> Endpoint {
        let socket = try TCPSocket.listen(on: endpoint)
        state.withLock { $0.listener = socket }
        return socket.localAddress.endpoint
    }

    /// Serves on a listening socket the service manager passed (``SocketActivation``);
    /// returns the address it is bound to.
    public func listen(adopting listener: SocketActivation.Listener) -> Endpoint {
        state.withLock {
            $0.listener = TCPSocket(fd: listener.descriptor)
            $0.adopted = true
        }
        return listener.endpoint
    }

    /// Serves connections until ``stop()``; with `once`, serves one and returns its summary.
    ///
    /// The accepting thread turns a connection away itself, without a thread for it, when
    /// its source is penalised for failed handshakes, already has
    /// ``ReceiverOptions/maxPerAddress`` connections, or when every handshake slot is taken
    /// and none can be taken from a heavier source; a connection past its handshake
    /// beyond ``ReceiverOptions/maxConnections`` gets a fatal `busy` unless a source holds
    /// more than its share. ``AdmissionTable`` has the rules: peers that never finish a
    /// handshake, or fail it, cannot starve real senders.
    /// - Parameter log: One line per notable event (errors, refusals, files, connection ends).
    @discardableResult
    public func serve(once: Bool = false, log: @escaping @Sendable (ReceiverEvent) -> Void) -> ConnectionSummary? {
        guard let listener = state.withLock({ $0.listener }) else { return nil }
        let unlimitedLog = log
        while true {
            logLimiter.flush(to: unlimitedLog)
            // An adopted listener is not shut down by stop() (see there): the loop ends here.
            if state.withLock({ $0.stopping }) { return nil }
            // Wake at least every second, so that suppressed log lines are summed up even
            // when nothing else happens (a flood that stopped).
            var ready = pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 1000) == 0 { continue }
            let socket: TCPSocket
            let address: SocketAddress
            do {
                (socket, address) = try listener.accept()
            } catch {
                if error.errno == EBADF || error.errno == EINVAL { return nil }  // stopped
                log(ReceiverEvent(peer: nil, kind: .notice, detail: "accept failed: \(error.reason)"))
                usleep(100_000)  // EMFILE and friends: back off instead of spinning
                continue
            }
            let peer = address.description
            let source = SourceBlock(
                address,
                ipv4PrefixBits: options.sourcePrefixBits.ipv4,
                ipv6PrefixBits: options.sourcePrefixBits.ipv6
            )
            let limiter = logLimiter
            let log: @Sendable (ReceiverEvent) -> Void = { event in limiter.log(event, from: source, to: log) }
            let admitted: Result<(Admission, evicting: Admission?), Refusal> = state.withLock { state in
                if state.stopping { return .failure(Refusal("the receiver is shutting down")) }
                switch state.table.admit(source, now: monotonicSeconds()) {
                case .refused(let reason):
                    return .failure(Refusal(reason))
                case .accepted(let ticket, let evicting):
                    let admission = Admission(receiver: self, socket: socket, ticket: ticket)
                    state.admissions[ticket] = admission
                    return .success((admission, evicting.flatMap { state.admissions[$0] }))
                }
            }
            let admission: Admission
            switch admitted {
            case .failure(let refusal):
                turnAway(socket, peer: peer, reason: refusal.reason, log: log)
                continue
            case .success(let (admitted, evicting)):
                admission = admitted
                // Wakes the evicted connection's thread at once; it ends and frees its slot.
                evicting?.evict()
            }
            if once {
                return connection(socket, peer: peer, admission: admission, log: log).run()
            }
            do {
                try DetachedThread.start("a connection") { [self] in
                    let summary = connection(socket, peer: peer, admission: admission, log: log).run()
                    log(ReceiverEvent(peer: peer, kind: .connection, detail: summary.logLine))
                    limiter.flush(to: unlimitedLog)
                    expirePartials(log: unlimitedLog)
                    // A burst (thousands of records with long names) leaves freed pages inside
                    // this thread's malloc arena, which glibc does not give back on its own:
                    // hand them to the kernel now, so an idle receiver is back near its start.
                    _ = xfer_release_free_memory()
                }
            } catch {
                // No thread (RLIMIT_NPROC, memory): free the slot, close the socket.
                admission.release()
                turnAway(socket, peer: peer, reason: "\(error)", log: log)
            }
        }
    }

    /// Why a connection is turned away.
    private struct Refusal: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Stops accepting; connections being served finish their current commit and end
    /// (their verified partial files are kept).
    public func stop() {
        state.withLock {
            $0.stopping = true
            // The service manager's socket is the same socket: shutting it down would stop
            // it listening for good. Left alone, connections arriving now wait in its queue
            // for the next receiver the manager starts.
            if let listener = $0.listener, !$0.adopted { shutdown(listener.fd, CInt(SHUT_RDWR)) }
        }
    }

    /// Waits until no connection is served, or `seconds` pass; returns how many still are.
    public func waitForConnections(seconds: Double) -> Int {
        let deadline = monotonicSeconds() + seconds
        while true {
            let left = state.withLock { $0.table.served + $0.table.handshaking }
            if left == 0 || monotonicSeconds() >= deadline { return left }
            usleep(20_000)
        }
    }

    private func connection(
        _ socket: TCPSocket,
        peer: String,
        admission: Admission,
        log: @escaping @Sendable (ReceiverEvent) -> Void
    ) -> ReceiverConnection {
        ReceiverConnection(
            socket: socket,
            peer: peer,
            directory: directory,
            journal: journal,
            transfers: transfers,
            sessions: sessions,
            descriptors: descriptors,
            partials: partials,
            options: options,
            admission: admission,
            log: log
        )
    }

    /// Tells a connection it cannot be served now (SPEC.md §9), on the accepting thread:
    /// never blocks. What fits in the socket buffer is sent (the preamble, a fatal `busy`),
    /// what the peer already sent is read, so closing sends FIN rather than RST.
    private func turnAway(_ socket: TCPSocket, peer: String, reason: String, log: @Sendable (ReceiverEvent) -> Void) {
        var bytes = Preamble().bytes
        try? RecordEncoder.append(
            .error(ErrorRecord(code: .busy, fatal: true, message: "\(reason); try again later")),
            to: &bytes
        )
        _ = fcntl(socket.fd, F_SETFL, fcntl(socket.fd, F_GETFL) | O_NONBLOCK)
        _ = bytes.withUnsafeBytes { send(socket.fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
        socket.shutdownWrite()
        var scratch = [UInt8](repeating: 0, count: 4096)
        while scratch.withUnsafeMutableBytes({ recv(socket.fd, $0.baseAddress, $0.count, 0) }) > 0 {}
        socket.close()
        log(ReceiverEvent(peer: peer, kind: .turnedAway, detail: reason))
    }
}
