import Framing
import Synchronization

/// One session of SPEC.md §16: granted on a first connection, joined by others that prove
/// its token, and the `blocks` offers open in it, which any of its connections may carry
/// blocks of.
final class ReceiverSession: Sendable {
    /// What a JOIN names and proves.
    let grant: SessionGrant
    /// Connections in the session, the first included.
    let granted: Int
    private struct State {
        var joined = 0
        var open: [TransferID: BlockAssembly] = [:]
        var ended = false
    }
    private let state = Mutex(State())

    init(grant: SessionGrant, granted: Int) {
        self.grant = grant
        self.granted = granted
    }

    /// How the cut of a file into blocks is, in this session.
    var layout: BlockLayout { BlockLayout(blockSize: grant.blockSize) }

    /// A connection asks to join; `nil` if it may, else why not.
    func join() -> String? {
        state.withLock { state in
            if state.ended { return "the session has ended" }
            guard state.joined + 1 < granted else {
                return "the session already has the \(granted) connections it was granted"
            }
            state.joined += 1
            return nil
        }
    }

    /// A joined connection ended.
    func leave() {
        state.withLock { $0.joined -= 1 }
    }

    /// A `blocks` offer was accepted on the first connection: its blocks may come on any.
    func open(_ assembly: BlockAssembly) {
        state.withLock { $0.open[assembly.transferID] = assembly }
    }

    /// The `blocks` offer `id` of this session, open or closed (its late blocks are read
    /// and dropped, SPEC.md §16.4); `nil` if there is none, or the session has ended.
    func assembly(for id: TransferID) -> BlockAssembly? {
        state.withLock { $0.open[id] }
    }

    /// Whether the first connection has ended.
    var ended: Bool { state.withLock { $0.ended } }

    /// The first connection ended: nobody may join any more.
    func end() {
        state.withLock { state in
            state.ended = true
            state.open.removeAll()
        }
    }
}

/// Every live session of the receiver, by ID: what a JOIN is checked against.
final class ReceiverSessions: Sendable {
    private let sessions = Mutex<[[UInt8]: ReceiverSession]>([:])

    /// A new session of `granted` connections with blocks of `blockSize` bytes, under a
    /// fresh random ID and token.
    func create(blockSize: UInt32, granted: Int) -> ReceiverSession {
        while true {
            let grant = SessionGrant(
                sessionID: randomBytes(SessionGrant.idByteCount),
                token: randomBytes(SessionGrant.tokenByteCount),
                blockSize: blockSize
            )
            let session = ReceiverSession(grant: grant, granted: granted)
            let added = sessions.withLock { sessions -> Bool in
                guard grant.sessionID.contains(where: { $0 != 0 }), sessions[grant.sessionID] == nil else {
                    return false
                }
                sessions[grant.sessionID] = session
                return true
            }
            if added { return session }
        }
    }

    /// The session `join` names, if its token is right (compared in constant time).
    func find(_ join: Join) -> ReceiverSession? {
        guard let session = sessions.withLock({ $0[join.sessionID] }) else { return nil }
        return constantTimeEqual(session.grant.token, join.token) ? session : nil
    }

    /// Its first connection ended.
    func remove(_ session: ReceiverSession) {
        session.end()
        sessions.withLock { _ = $0.removeValue(forKey: session.grant.sessionID) }
    }
}
