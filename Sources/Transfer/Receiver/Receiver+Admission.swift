import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension Receiver {
    /// A connection's place in the ``AdmissionTable``: handshaking until ``establish()``,
    /// released at the end (or evicted, when another needs its slot more).
    ///
    /// Everything it changes is in the receiver's table, under the receiver's lock; the
    /// activity clock is an atomic that the connection's thread alone writes.
    final class Admission: Sendable {
        private let receiver: Receiver
        /// The connection's socket, shut down to evict it.
        let socket: TCPSocket
        let ticket: AdmissionTable.Ticket
        /// When the connection last made progress (monotonic milliseconds): a served
        /// connection that must give way is its source's least active one.
        private let activity = Atomic<Int64>(0)

        init(receiver: Receiver, socket: TCPSocket, ticket: AdmissionTable.Ticket) {
            self.receiver = receiver
            self.socket = socket
            self.ticket = ticket
            touch()
        }

        /// Notes progress (a complete record).
        func touch() { activity.store(Int64(monotonicSeconds() * 1000), ordering: .relaxed) }

        var lastActivity: Double { Double(activity.load(ordering: .relaxed)) / 1000 }

        /// The handshake is done: take a served slot, or the reason there is none.
        func establish() -> String? {
            let (service, evicting): (AdmissionTable.Service, Admission?) = receiver.state.withLock { state in
                let admissions = state.admissions
                let service = state.table.establish(ticket, now: monotonicSeconds()) { other in
                    admissions[other]?.lastActivity ?? 0
                }
                if case .served(let victim?) = service { return (service, admissions[victim]) }
                return (service, nil)
            }
            evicting?.evict()
            if case .refused(let reason) = service { return reason }
            return nil
        }

        /// Whether this connection was told to give its slot up.
        var isEvicted: Bool { receiver.state.withLock { $0.table.isEvicted(ticket) } }

        /// Wakes the connection's thread: its reads and writes fail at once.
        func evict() { shutdown(socket.fd, CInt(SHUT_RDWR)) }

        /// Whether the receiver is shutting down.
        var stopping: Bool { receiver.state.withLock { $0.stopping } }

        /// Frees the slot (once); before a connection drains its peer, so a slot is never
        /// held for the seconds a close can take. `failure`: the handshake failed that
        /// way, which costs its source (``SourcePenalties``).
        func release(failure: HandshakeFailure? = nil) {
            receiver.state.withLock { state in
                guard state.admissions.removeValue(forKey: ticket) != nil else { return }
                state.table.release(ticket, failure: failure, now: monotonicSeconds())
            }
        }
    }
}
