import Foundation
import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Seconds on the monotonic clock: the time base of every ``FakeReceiver`` log entry.
func fakeClock() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// One thing that happened on a fake receiver's connection, in the order it happened.
enum FakeEvent: Sendable {
    /// The client's preamble.
    case preamble(Preamble)
    /// A client record other than DATA.
    case record(Record)
    /// A client DATA record: the stream it belongs to (the most recent OFFER) and its size.
    case data(TransferID?, Int)
    /// The client's bytes did not decode (or ended inside a record); the rest is read raw.
    case framingError(String)
    /// The client's FIN: `recv` returned 0.
    case endOfStream
    /// The client's RST: `recv` failed with `ECONNRESET`.
    case reset
    /// `recv` failed otherwise.
    case readError(Int32)
    /// The fake sent this record.
    case sent(Record)
    /// The fake sent these raw bytes.
    case sentBytes([UInt8])
    /// A send of the fake failed (the client is gone, or stopped reading for 10 s).
    case sendFailed(Int32)
    /// The fake sent FIN (`shutdown(SHUT_WR)`) and goes on reading.
    case shutdownWrite
    /// The fake closed its socket; abortively (`SO_LINGER` 0, RST) or not.
    case closed(abortive: Bool)
    /// Nothing arrived for the idle limit: the fake dropped the client.
    case gaveUp
}

/// A ``FakeEvent`` and when it happened (``fakeClock()``).
struct FakeLogEntry: Sendable {
    var time: Double
    var event: FakeEvent
}

/// A scripted stand-in for `xfer receive`, to test what the sender does with every answer a
/// receiver could give, including wrong ones.
///
/// It listens on 127.0.0.1 with a kernel-chosen port, bound before `init` returns (so a
/// sender started afterwards can connect: that is the readiness signal), accepts one
/// connection, and on a background thread decodes the client's bytes with `RecordDecoder`.
/// For each client record it calls the script, which answers through the ``FakePeer``:
/// records, raw bytes, FIN, close, RST, silence, or ``FakePeer/standard(_:)``, what a correct
/// receiver would do. Everything the client sent, everything the fake sent, and how the client
/// closed is logged with times. The fake always reads the client's bytes, to the end, unless
/// the script closes or resets.
///
/// ```swift
/// let fake = FakeReceiver { peer, record in
///     if case .end(let end) = record, let offer = peer.currentOffer {
///         peer.ack(offer, end: end, durable: false)
///     } else {
///         peer.standard(record)
///     }
/// }
/// let result = xfer(["send", path, fake.address])
/// let peer = fake.finish()   // the connection, after the client closed it
/// ```
final class FakeReceiver: @unchecked Sendable {
    /// Called on the fake's thread for each decoded client record (DATA included: its slice
    /// shares the decoder's buffer, do not keep it).
    typealias Script = (FakePeer, Record) -> Void

    let port: UInt16
    var address: String { "127.0.0.1:\(port)" }
    private let core: FakeReceiverCore

    /// - Parameters:
    ///   - receiveBuffer: `SO_RCVBUF` for the accepted socket (set on the listener before
    ///     `listen`, so the window is small from the handshake on), to make a sender block
    ///     soon when the fake stops reading.
    ///   - idleLimit: The fake drops the client (RST) after this long without a byte, and
    ///     stops waiting for a connection after this long, so that no test hangs forever.
    ///   - connections: How many connections it accepts (SPEC.md §16: a session's joined
    ///     connections come to the same address). The first is served on the fake's thread;
    ///     each further one on a thread of its own, which calls the script too (then the
    ///     script must lock what it shares), with ``FakePeer/number`` 2, 3… in accept order.
    ///   - script: What to do with each client record; by default what a correct receiver does.
    init(
        receiveBuffer: CInt? = nil,
        idleLimit: Double = 30,
        connections: Int = 1,
        script: @escaping Script = { $0.standard($1) }
    ) {
        let listener = socket(AF_INET, streamSocketType | CInt(SOCK_CLOEXEC.rawValue), 0)
        precondition(listener >= 0, "socket: \(errno)")
        if var size = receiveBuffer {
            setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        precondition(bound && listen(listener, 4) == 0, "bind/listen: \(errno)")
        port = UInt16(bigEndian: address.sin_port)
        core = FakeReceiverCore(listener: listener, connections: connections)
        let core = self.core
        let box = FakeScriptBox(script: script)
        let thread = Thread {
            core.run(script: box.script, receiveBuffer: receiveBuffer, idleLimit: idleLimit)
        }
        thread.name = "FakeReceiver \(port)"
        thread.start()
    }

    /// Waits until the connection has ended (the client closed or reset it, or the script
    /// closed it) and returns it; `nil` if no client connected. Call it once the sender has
    /// exited: a connection not accepted yet is then still taken and read to its end, and
    /// when there is none the fake stops waiting at once.
    @discardableResult
    func finish(seconds: Double = 30) -> FakePeer? {
        core.finish(seconds: seconds)
    }

    /// The connection, once a client connected (while it runs, too).
    var peer: FakePeer? { core.currentPeer }

    /// Every connection accepted so far, the first first.
    var peers: [FakePeer] { core.allPeers }

    deinit { core.stop() }
}

/// Lets the (non-Sendable) script travel to the fake's thread, which alone calls it.
private final class FakeScriptBox: @unchecked Sendable {
    let script: FakeReceiver.Script
    init(script: @escaping FakeReceiver.Script) { self.script = script }
}

/// What the fake's thread and the test's thread share.
private final class FakeReceiverCore: @unchecked Sendable {
    private let condition = NSCondition()
    private let listener: CInt
    private var stopRequested = false
    private var senderGone = false
    private var done = false
    private var peer: FakePeer?
    /// Connections accepted after the first (``FakeReceiver/init(receiveBuffer:idleLimit:connections:script:)``).
    private let connections: Int
    private var others: [FakePeer] = []
    /// Threads still at work for further connections: the acceptor and each connection's.
    private var otherThreads = 0
    private var firstDone = false

    init(listener: CInt, connections: Int) {
        self.listener = listener
        self.connections = connections
    }

    var currentPeer: FakePeer? { condition.withLock { peer } }

    var allPeers: [FakePeer] { condition.withLock { (peer.map { [$0] } ?? []) + others } }

    func stop() {
        condition.withLock {
            stopRequested = true
            condition.broadcast()
        }
    }

    func finish(seconds: Double) -> FakePeer? {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        senderGone = true
        while !(done && otherThreads == 0) && condition.wait(until: deadline) {}
        return peer
    }

    /// Accepts connections 2… while the first is served (or until the sender is gone and
    /// none is queued), each served on a thread of its own.
    private func acceptOthers(script: @escaping FakeReceiver.Script, receiveBuffer: CInt?, idleLimit: Double) {
        defer {
            close(listener)
            condition.withLock {
                otherThreads -= 1
                condition.broadcast()
            }
        }
        var lastAccept = fakeClock()
        var accepted = 1
        while accepted < connections {
            let (stopping, over) = condition.withLock { (stopRequested, firstDone && senderGone) }
            if stopping { return }
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, over ? 0 : 100)
            if ready > 0 {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { continue }
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                accepted += 1
                lastAccept = fakeClock()
                let connection = configured(FakePeer(fd: fd, number: accepted), receiveBuffer: receiveBuffer)
                condition.withLock {
                    others.append(connection)
                    otherThreads += 1
                }
                let box = FakeScriptBox(script: script)
                let thread = Thread { [self] in
                    connection.serve(script: box.script, idleLimit: idleLimit) { [self] in shouldStop }
                    condition.withLock {
                        otherThreads -= 1
                        condition.broadcast()
                    }
                }
                thread.name = "FakeReceiver connection \(accepted)"
                thread.start()
                continue
            }
            if over || fakeClock() - lastAccept > idleLimit { return }
        }
    }

    private func configured(_ connection: FakePeer, receiveBuffer: CInt?) -> FakePeer {
        if var size = receiveBuffer {
            setsockopt(connection.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        // A send never blocks a test forever: a client that stops reading for 10 s is gone.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(connection.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return connection
    }

    private var shouldStop: Bool { condition.withLock { stopRequested } }

    func run(script: @escaping FakeReceiver.Script, receiveBuffer: CInt?, idleLimit: Double) {
        var acceptorStarted = false
        defer {
            if !acceptorStarted { close(listener) }
            condition.withLock {
                done = true
                firstDone = true
                condition.broadcast()
            }
        }
        let started = fakeClock()
        var fd: CInt = -1
        while fd < 0 {
            let (stopping, gone) = condition.withLock { (stopRequested, senderGone) }
            if stopping { return }
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            // Once the sender has exited, a connection it made is already queued.
            let ready = poll(&pfd, 1, gone ? 0 : 100)
            if ready > 0 {
                fd = accept(listener, nil, nil)
                if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                continue
            }
            if gone || fakeClock() - started > idleLimit { return }
        }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        // A send never blocks a test forever: a client that stops reading for 10 s is gone.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connection = FakePeer(fd: fd)
        condition.withLock { peer = connection }
        if connections > 1 {
            acceptorStarted = true
            condition.withLock { otherThreads += 1 }
            let box = FakeScriptBox(script: script)
            let acceptor = Thread { [self] in
                acceptOthers(script: box.script, receiveBuffer: receiveBuffer, idleLimit: idleLimit)
            }
            acceptor.name = "FakeReceiver acceptor"
            acceptor.start()
        }
        connection.serve(script: script, idleLimit: idleLimit) { [self] in shouldStop }
    }
}

/// The fake's side of one connection: what a script answers with, and the log of everything.
///
/// Scripts and timers run on the fake's thread; the log and the counters may be read from any
/// thread (they are locked), most usefully after ``FakeReceiver/finish(seconds:)``.
final class FakePeer: @unchecked Sendable {
    let fd: CInt
    /// Which connection of the fake this is: 1 for the first accepted, 2… for further ones.
    let number: Int
    private let lock = NSLock()
    private let writeLock = NSLock()
    private var entries: [FakeLogEntry] = []
    private var arrivalLog: [(time: Double, bytes: Int)] = []
    private var dataCounts: [TransferID: UInt64] = [:]
    private var offerLog: [Offer] = []
    private var current: Offer?
    private var writeShut = false
    private var socketClosed = false
    private var timers: [(time: Double, action: (FakePeer) -> Void)] = []
    private var pause: Double = 0
    /// With a key, after the handshake: seals what the fake sends, opens what it reads.
    private var sealer: RecordSealer?
    private var pendingOpener: RecordOpener?

    init(fd: CInt, number: Int = 1) {
        self.fd = fd
        self.number = number
    }

    // MARK: The log

    /// Everything that happened, in order.
    var log: [FakeLogEntry] { lock.withLock { entries } }

    /// When each chunk of the client's bytes arrived, and its size.
    var arrivals: [(time: Double, bytes: Int)] { lock.withLock { arrivalLog } }

    /// The client's records other than DATA, in order (HELLO, OFFER, END, CANCEL, GOODBYE…).
    var clientRecords: [Record] {
        log.compactMap {
            if case .record(let record) = $0.event { return record }
            return nil
        }
    }

    /// Every OFFER the client made, in order.
    var offers: [Offer] { lock.withLock { offerLog } }

    /// The most recent OFFER: the stream that DATA, END and CANCEL belong to.
    var currentOffer: Offer? { lock.withLock { current } }

    /// DATA payload bytes received for the offers of `id`.
    func dataBytes(for id: TransferID) -> UInt64 { lock.withLock { dataCounts[id] ?? 0 } }

    /// The END and CANCEL records that closed offers of `id`, in order.
    func closings(of id: TransferID) -> [Record] {
        var stream: TransferID?
        var result: [Record] = []
        for entry in log {
            guard case .record(let record) = entry.event else { continue }
            switch record {
            case .offer(let offer): stream = offer.transferID
            case .end, .cancel: if stream == id { result.append(record) }
            default: break
            }
        }
        return result
    }

    /// How the client ended the connection: ``FakeEvent/endOfStream``, ``FakeEvent/reset`` or
    /// ``FakeEvent/readError(_:)``, with its time; `nil` if the fake closed first or gave up.
    var clientClose: FakeLogEntry? {
        log.first {
            switch $0.event {
            case .endOfStream, .reset, .readError: return true
            default: return false
            }
        }
    }

    /// The time of the first entry that `matches`.
    func time(of matches: (FakeEvent) -> Bool) -> Double? { log.first { matches($0.event) }?.time }

    /// Whether the fake has sent FIN.
    var isWriteShut: Bool { lock.withLock { writeShut } }

    /// The conversation in one line, for failure messages (runs of DATA merged).
    var summary: String {
        var parts: [String] = []
        var dataRun = 0
        for entry in log {
            if case .data(_, let count) = entry.event {
                dataRun += count
                continue
            }
            if dataRun > 0 {
                parts.append("DATA \(dataRun) B")
                dataRun = 0
            }
            switch entry.event {
            case .preamble(let preamble): parts.append("preamble v\(preamble.version)")
            case .record(let record): parts.append(FakePeer.describe(record))
            case .sent(let record): parts.append("fake: " + FakePeer.describe(record))
            case .sentBytes(let bytes):
                if bytes.count == ProtocolLimits.preambleSize, bytes.starts(with: Preamble.magic) {
                    parts.append("fake: preamble v\(UInt16(bytes[4]) << 8 | UInt16(bytes[5]))")
                } else {
                    parts.append("fake: \(bytes.count) raw bytes")
                }
            case .framingError(let text): parts.append("undecodable (\(text))")
            case .endOfStream: parts.append("client FIN")
            case .reset: parts.append("client RST")
            case .readError(let code): parts.append("recv errno \(code)")
            case .sendFailed(let code): parts.append("fake: send errno \(code)")
            case .shutdownWrite: parts.append("fake: FIN")
            case .closed(let abortive): parts.append(abortive ? "fake: RST" : "fake: close")
            case .gaveUp: parts.append("fake gave up")
            case .data: break
            }
        }
        if dataRun > 0 { parts.append("DATA \(dataRun) B") }
        return parts.joined(separator: ", ")
    }

    /// One record in a few words.
    static func describe(_ record: Record) -> String {
        switch record {
        case .offer(let offer):
            return "OFFER '\(offer.name)' size \(offer.size.map { "\($0)" } ?? "unknown") offset \(offer.offset)"
                + (offer.awaitAnswer ? " awaitAnswer" : "")
        case .answer(let answer): return "ANSWER \(answer.decision) \(answer.offset) \(answer.code)"
        case .end(let end): return "END \(end.totalLength)"
        case .cancel(let cancel): return "CANCEL \(cancel.code) '\(cancel.message)'"
        case .progress(let progress): return "PROGRESS \(progress.received)"
        case .ack(let ack): return "ACK \(ack.committedLength)" + (ack.durable ? " durable" : "")
        case .error(let error): return "ERROR \(error.code)" + (error.fatal ? " fatal" : "") + " '\(error.message)'"
        default: return "\(record.kind)"
        }
    }

    // MARK: Reading

    /// Seconds to wait after each read of the client's bytes (a slow reader); 0 by default.
    var readPause: Double {
        get { lock.withLock { pause } }
        set { lock.withLock { pause = newValue } }
    }

    /// Runs `action` on the fake's thread `seconds` from now, between reads.
    func after(_ seconds: Double, _ action: @escaping (FakePeer) -> Void) {
        lock.withLock { timers.append((fakeClock() + seconds, action)) }
    }

    /// Stops reading for `seconds` (the client's writes block once the buffers fill), calling
    /// `beat` at once and then every `interval` seconds meanwhile (to send PROGRESS, say).
    func stall(seconds: Double, every interval: Double? = nil, _ beat: ((FakePeer) -> Void)? = nil) {
        let end = fakeClock() + seconds
        while true {
            let now = fakeClock()
            guard now < end else { return }
            beat?(self)
            let next = interval.map { min(fakeClock() + $0, end) } ?? end
            let rest = next - fakeClock()
            if rest > 0 { usleep(useconds_t(rest * 1_000_000)) }
        }
    }

    // MARK: Writing

    /// From now on seals every record sent (SPEC.md §13.4).
    func startSealing(_ sealer: RecordSealer) { lock.withLock { self.sealer = sealer } }

    /// From the client's next record on, opens every record (SPEC.md §13.4).
    func startOpening(_ opener: RecordOpener) { lock.withLock { pendingOpener = opener } }

    /// Sends one record (any record: the encoder checks only its own limits), sealed once
    /// ``startSealing(_:)`` was called.
    func send(_ record: Record) {
        var bytes: [UInt8] = []
        do {
            lock.lock()
            defer { lock.unlock() }
            if sealer != nil {
                try sealer!.seal(record, appendingTo: &bytes)
            } else {
                try RecordEncoder.append(record, to: &bytes)
            }
        } catch {
            preconditionFailure("the fake built an invalid record: \(error)")
        }
        if write(bytes) { note(.sent(record)) }
    }

    /// Sends raw bytes.
    func send(raw bytes: [UInt8]) {
        if write(bytes) { note(.sentBytes(bytes)) }
    }

    /// Preamble (version 1 unless told otherwise) and WELCOME.
    func greet(version: UInt16 = Preamble.currentVersion) {
        send(raw: Preamble(version: version).bytes)
        send(.welcome(Welcome(parameters: [.agent("fake-receiver/1")])))
    }

    /// ANSWER `decision` for `offer`; the offset defaults to the offer's.
    func answer(
        _ offer: Offer,
        _ decision: Answer.Decision,
        offset: UInt64? = nil,
        code: ErrorCode = .none,
        message: String = ""
    ) {
        send(
            .answer(
                Answer(
                    transferID: offer.transferID,
                    decision: decision,
                    offset: offset ?? offer.offset,
                    code: code,
                    message: message
                )
            )
        )
    }

    /// ANSWER accept, at the offer's offset unless told otherwise.
    func accept(_ offer: Offer, offset: UInt64? = nil) { answer(offer, .accept, offset: offset) }

    /// The ACK a correct receiver sends for `offer` closed by `end` (its length and digest,
    /// durable), with any field overridden.
    func ack(
        _ offer: Offer,
        end: End,
        length: UInt64? = nil,
        digest: UInt64? = nil,
        durable: Bool = true
    ) {
        ack(offer.transferID, length: length ?? end.totalLength, digest: digest ?? end.digest, durable: durable)
    }

    /// An ACK with these fields.
    func ack(_ id: TransferID, length: UInt64, digest: UInt64, durable: Bool = true) {
        send(.ack(Ack(transferID: id, committedLength: length, digest: digest, durable: durable)))
    }

    /// An ERROR; an all-zero ID concerns the connection.
    func error(_ code: ErrorCode, id: TransferID = .none, fatal: Bool, message: String = "fake receiver says no") {
        send(.error(ErrorRecord(code: code, transferID: id, fatal: fatal, message: message)))
    }

    /// A PROGRESS record.
    func progress(_ id: TransferID, received: UInt64, durable: UInt64 = 0) {
        send(.progress(Progress(transferID: id, received: received, durable: durable)))
    }

    func goodbye() { send(.goodbye) }

    /// Sends FIN and goes on reading until the client's end.
    func shutdownWrite() {
        lock.withLock { writeShut = true }
        shutdown(fd, CInt(SHUT_WR))
        note(.shutdownWrite)
    }

    /// Closes now. Unread client bytes, or bytes the client sends later, make the kernel
    /// send RST: use it only when a test wants that.
    func close() { closeSocket(abortive: false) }

    /// Closes abortively (`SO_LINGER` 0): RST at once.
    func reset() { closeSocket(abortive: true) }

    /// What a correct receiver does with `record`: greet on HELLO, accept every OFFER, ACK
    /// (durable) every END with its own length and digest, answer GOODBYE with GOODBYE, and
    /// after a fatal ERROR send FIN; all the while read on to the client's end.
    func standard(_ record: Record) {
        switch record {
        case .hello: greet()
        case .offer(let offer): accept(offer)
        case .end(let end): if let offer = currentOffer { ack(offer, end: end) }
        case .goodbye: if !isWriteShut { goodbye() }
        case .error(let error) where error.fatal: if !isWriteShut { shutdownWrite() }
        default: break
        }
    }

    // MARK: The fake's thread

    func serve(script: FakeReceiver.Script, idleLimit: Double, shouldStop: () -> Bool) {
        var decoder = RecordDecoder()
        var decoding = true
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        var lastInput = fakeClock()
        while !isClosed {
            runDueTimers()
            if isClosed { break }
            if shouldStop() {
                reset()
                break
            }
            let nextTimer = lock.withLock { timers.map(\.time).min() }
            let wait = nextTimer.map { max(0, min(0.1, $0 - fakeClock())) } ?? 0.1
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, CInt((wait * 1000).rounded(.up)))
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 {
                if fakeClock() - lastInput > idleLimit {
                    note(.gaveUp)
                    reset()
                }
                continue
            }
            var failure: CInt = 0
            var count = 0
            if decoding {
                _ = decoder.readFrom { space in
                    count = recv(fd, space.baseAddress, space.count, 0)
                    if count < 0 { failure = errno }
                    return max(count, 0)
                }
            } else {
                count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 { failure = errno }
            }
            if count < 0 {
                if failure == EINTR || failure == EAGAIN { continue }
                note(failure == ECONNRESET ? .reset : .readError(failure))
                break
            }
            if count == 0 {
                if decoding && decoder.bufferedByteCount > 0 {
                    note(.framingError("the client's bytes ended inside a record"))
                }
                note(.endOfStream)
                break
            }
            lastInput = fakeClock()
            lock.withLock { arrivalLog.append((lastInput, count)) }
            if decoding {
                do {
                    while !isClosed, let message = try decoder.next() {
                        dispatch(message, script)
                        if let opener = lock.withLock({ () -> RecordOpener? in
                            defer { pendingOpener = nil }
                            return pendingOpener
                        }) {
                            decoder.startOpening(opener)
                        }
                    }
                } catch {
                    note(.framingError("\(error)"))
                    decoding = false
                }
            }
            let pause = readPause
            if pause > 0 { usleep(useconds_t(pause * 1_000_000)) }
        }
        if !isClosed { closeSocket(abortive: false) }
    }

    private var isClosed: Bool { lock.withLock { socketClosed } }

    private func dispatch(_ message: RecordDecoder.Message, _ script: FakeReceiver.Script) {
        switch message {
        case .preamble(let preamble):
            note(.preamble(preamble))
        case .record(let record):
            switch record {
            case .data(let bytes):
                let stream = lock.withLock { () -> TransferID? in
                    if let id = current?.transferID { dataCounts[id, default: 0] += UInt64(bytes.count) }
                    return current?.transferID
                }
                note(.data(stream, bytes.count))
            case .offer(let offer):
                lock.withLock {
                    current = offer
                    offerLog.append(offer)
                }
                note(.record(record))
            default:
                note(.record(record))
            }
            script(self, record)
        }
    }

    private func runDueTimers() {
        while true {
            let due = lock.withLock { () -> ((FakePeer) -> Void)? in
                let now = fakeClock()
                guard
                    let index = timers.indices.filter({ timers[$0].time <= now }).min(by: {
                        timers[$0].time < timers[$1].time
                    })
                else { return nil }
                return timers.remove(at: index).action
            }
            guard let due else { return }
            due(self)
        }
    }

    private func write(_ bytes: [UInt8]) -> Bool {
        writeLock.lock()
        defer { writeLock.unlock() }
        guard !isClosed else { return false }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, CInt(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                note(.sendFailed(errno))
                return false
            }
            offset += sent
        }
        return true
    }

    private func closeSocket(abortive: Bool) {
        let already = lock.withLock { () -> Bool in
            defer { socketClosed = true }
            return socketClosed
        }
        guard !already else { return }
        if abortive {
            var value = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
        }
        Glibc.close(fd)
        note(.closed(abortive: abortive))
    }

    private func note(_ event: FakeEvent) {
        let time = fakeClock()
        lock.withLock { entries.append(FakeLogEntry(time: time, event: event)) }
    }
}

extension FakeReceiver {
    /// The whole-stream digest (XXH64) of `bytes`.
    static func digest(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var digest = StreamDigest()
        digest.update(bytes)
        return digest.value
    }

    /// The whole-stream digest of the file at `path`, read in 1 MiB pieces.
    static func digest(ofFile path: String) -> UInt64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        precondition(fd >= 0, "cannot open \(path)")
        defer { Glibc.close(fd) }
        var digest = StreamDigest()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            precondition(count >= 0, "cannot read \(path)")
            if count == 0 { return digest.value }
            buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }
}
