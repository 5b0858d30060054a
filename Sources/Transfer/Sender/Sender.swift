import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// The sending side of SPEC.md §7.1: one connection, every stream pipelined, and success
/// only for streams the receiver acknowledged with the same length and digest. On a long
/// path, a session of several connections carries large files as blocks (SPEC.md §16).
///
/// The calling thread writes; a second thread reads the receiver's records as they come,
/// so neither side can block the other (SPEC.md §7.1). Memory stays constant: one output
/// buffer of a few MiB, whatever the sizes sent.
public final class Sender: Sendable {
    /// Where it sends.
    public let endpoint: Endpoint
    /// The settings it was created with.
    public let options: SenderOptions

    /// A sender to `endpoint`; nothing happens until ``send(_:onEvent:)``.
    public init(endpoint: Endpoint, options: SenderOptions = SenderOptions()) {
        self.endpoint = endpoint
        self.options = options
    }

    /// Sends `sources` and waits for the receiver's verdict on each: over one connection
    /// near the receiver; on a long path (``SenderOptions/streams``) large files go as
    /// blocks over the connections of a session (SPEC.md §16).
    /// - Parameter onEvent: Called from any thread, never concurrently.
    /// - Returns: Which streams were confirmed and which failed, and why.
    public func send(_ sources: [SendSource], onEvent: @escaping @Sendable (SenderEvent) -> Void) -> SendReport {
        let socket: TCPSocket
        let connecting = monotonicSeconds()
        do {
            socket = try TCPSocket.connect(to: endpoint, timeout: options.connectTimeout)
        } catch {
            var report = SendReport()
            report.connectionError = error
            return report
        }
        // The TCP handshake took one round trip: what decides how many connections to use.
        let streams = options.streams ?? SenderOptions.automaticStreams(roundTrip: monotonicSeconds() - connecting)
        return send(sources, over: socket, streams: streams, onEvent: onEvent)
    }

    /// Sends `sources` over `socket`, just connected, asking for a session of `streams`
    /// connections when that is 2 or more.
    func send(
        _ sources: [SendSource],
        over socket: TCPSocket,
        streams: Int,
        onEvent: @escaping @Sendable (SenderEvent) -> Void
    ) -> SendReport {
        let session = SenderSession(sources: sources, options: options, onEvent: onEvent)
        // Reads wake every second so the reader can apply the idle timeout itself; writes
        // wake every second too, and go on blocking only while the receiver is heard from.
        socket.setTimeouts(receive: 1, send: 1)
        do {
            try DetachedThread.start("the reply reader") { session.readReplies(from: socket) }
        } catch {
            // Without a reader nothing the receiver says would be heard: writing would end
            // in a wait for answers that never come. Nothing was sent yet.
            socket.close()
            var report = SendReport()
            report.connectionError = .localIO("\(error)")
            return report
        }
        let blocks =
            streams >= 2
            ? SenderBlocks(asked: min(streams, 16), endpoint: endpoint, options: options, first: session) : nil
        onEvent(.connected(endpoint))
        var writer = SenderWriter(socket: socket, session: session, options: options)
        writer.run(sources, blocks: blocks)
        // Further connections say GOODBYE once everything is sent, and close (SPEC.md §16).
        blocks?.finish()
        session.waitForReader()
        socket.close()
        return session.report()
    }
}

extension TransferID {
    /// A random ID: for a stream that cannot be resumed, or a send forced afresh.
    static func random() -> TransferID {
        TransferID(high: UInt64.random(in: .min ... .max), low: UInt64.random(in: .min ... .max))
    }
}

/// The implementation's agent string for HELLO and WELCOME.
public let agentName = "xfer/\(xferVersion)"
/// This implementation's version.
public let xferVersion = "1.0.0"
