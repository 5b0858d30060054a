import Framing
import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// `xfer receive [--listen HOST:PORT] [--dir DIR] [--once] [--exec COMMAND]`
struct ReceiveCommand: Command {
    static let name = CommandName.receive

    private let arguments: Arguments
    /// The default tries IPv6 and IPv4 on one socket first, then IPv4 alone.
    private var listen: [Endpoint] = [
        Endpoint(host: "::", port: Endpoint.defaultPort), Endpoint(host: "0.0.0.0", port: Endpoint.defaultPort),
    ]
    private let directory: String
    private let once: Bool
    private let quiet: Bool
    private let logJSON: Bool
    private var options = ReceiverOptions()
    /// The listening socket systemd passed (socket activation), or why it cannot be used.
    private var activation: Result<SocketActivation.Listener?, TransferError> = .success(nil)

    init(_ arguments: Arguments) {
        self.arguments = arguments
        options.idleTimeout = arguments.seconds("timeout", default: options.idleTimeout)
        options.maxConnections = arguments.integer("max-connections") ?? options.maxConnections
        options.maxPerAddress = arguments.integer("max-per-address") ?? options.maxPerAddress
        options.maxStreams = arguments.integer("max-streams") ?? options.maxStreams
        if let blockSize = arguments.integer("block-size") { options.blockSize = UInt32(clamping: blockSize) }
        options.handshakeTimeout = arguments.seconds("handshake-timeout", default: options.handshakeTimeout)
        options.partialRetention = arguments.duration("keep-partials") ?? options.partialRetention
        if let mask = arguments.octal("umask") { options.umask = .init(mask) }
        options.consumer = arguments.value("exec").map(StreamConsumer.init(command:))
        directory = arguments.value("dir") ?? "."
        once = arguments.flag("once")
        // One connection is served: a session's further connections would wait unanswered.
        if once { options.maxStreams = 1 }
        quiet = arguments.flag("quiet")
        logJSON = arguments.flag("log-json")
    }

    mutating func validate() throws(UsageError) {
        if let extra = arguments.positional.first { throw UsageError(message: "unexpected argument '\(extra)'") }
        // An empty command exits 0 without reading anything: every file would be "accepted".
        if let command = options.consumer?.command, command.allSatisfy(\.isWhitespace) {
            throw UsageError(message: "--exec: no command (an empty one would accept every file unread)")
        }
        if let text = arguments.value("block-size"), !SessionGrant.isValidBlockSize(UInt32(clamping: Int(text) ?? 0)) {
            throw UsageError(message: "'--block-size' takes a power of two from 65536 to 67108864, not '\(text)'")
        }
        if let address = arguments.value("listen") {
            do throws(EndpointError) {
                listen = [try Endpoint(validating: address)]
            } catch {
                throw UsageError(message: "--listen: \(error)")
            }
        }
        activation = Result { () throws(TransferError) in try SocketActivation.takeListener() }
        var exposed = listen.first(where: { !$0.isLoopback })
        switch activation {
        case .success(nil):
            break
        case .success(let listener?):
            if arguments.value("listen") != nil {
                throw UsageError(message: "--listen: the service manager passed a listening socket (LISTEN_FDS)")
            }
            exposed = listener.isLoopback ? nil : listener.endpoint
        case .failure:
            // Passed but unusable: run() says why (74) rather than speak of an address the
            // receiver will never listen on.
            exposed = nil
        }
        options.key = try KeyFile.key(option: arguments.value("key"))
        if options.key == nil, !arguments.flag("no-auth"), let open = exposed {
            throw UsageError(
                message: "refusing to listen on \(open) without authentication: anyone who can reach it could "
                    + "write into the directory. Listen on loopback (--listen 127.0.0.1:PORT, e.g. behind an "
                    + "ssh tunnel), or say --no-auth to accept that risk"
            )
        }
    }

    func run() -> ExitCode {
        let receiver: Receiver
        var bound: Endpoint?
        // Under systemd: READY=1 and STOPPING=1 for Type=notify, priorities for the journal.
        let notifier = ServiceNotifier.fromEnvironment()
        let journal = JournalStream.isConnected(STDERR_FILENO)
        do throws(TransferError) {
            receiver = try Receiver(directory: directory, options: options)
            if let listener = try activation.get() { bound = receiver.listen(adopting: listener) }
            var lastError: TransferError?
            for endpoint in listen where bound == nil {
                do {
                    bound = try receiver.listen(on: endpoint)
                } catch {
                    lastError = error
                }
            }
            if bound == nil, let lastError { throw lastError }
        } catch {
            let event = ReceiverEvent(peer: nil, kind: .failed, detail: error.description)
            printError(Self.line(event, text: "\(error)", json: logJSON, journal: journal))
            return ExitCode(error)
        }
        let quiet = self.quiet
        let json = logJSON
        let log: @Sendable (ReceiverEvent) -> Void = { event in
            guard !quiet || event.kind == .failed else { return }
            printError(Self.line(event, text: event.text, json: json, journal: journal))
        }
        let notify: @Sendable (String) -> Void = { state in
            do throws(SystemError) {
                try notifier?.notify(state)
            } catch {
                log(ReceiverEvent(peer: nil, kind: .notice, detail: "cannot notify the service manager: \(error)"))
            }
        }
        Interruption.watch {
            notify("STOPPING=1")
            receiver.stop()
            let left = receiver.waitForConnections(seconds: 10)
            // A consumer still running is stopped: unsupervised, it could run again beside
            // the copy a retry starts after a restart. Its file was not acknowledged.
            StreamConsumer.stopAll()
            log(
                ReceiverEvent(
                    peer: nil,
                    kind: .notice,
                    detail: "stopped: no longer accepting; \(left) connection(s) still open were cut; "
                        + "verified partial files are kept for resumes"
                )
            )
            return .confirmed
        }
        // Only now, with SIGINT and SIGTERM handled, is the receiver ready: a signal that
        // arrives the moment a script reads this line stops it cleanly.
        let ready = ReceiverEvent(peer: nil, kind: .notice, detail: "listening on \(bound!)")
        if json {
            // The same object as every other line, with the address in fields of its own.
            printError(
                (journal ? ready.priority.prefix : "")
                    + jsonObject([
                        ("time", fixed(ready.time, digits: 3)), ("event", jsonString("listening")),
                        ("host", jsonString(bound!.host)), ("port", "\(bound!.port)"),
                        ("detail", jsonString(ready.detail)),
                    ])
            )
        } else {
            printError(Self.line(ready, text: "listening on \(bound!)", json: false, journal: journal))
        }
        notify("READY=1\nSTATUS=listening on \(bound!)")
        let summary = receiver.serve(once: once, log: log)
        guard let summary else {
            // Stopped by a signal: its handler finishes the connections and exits.
            while true { pause() }
        }
        log(ReceiverEvent(peer: summary.peer, kind: .connection, detail: summary.logLine))
        notify("STOPPING=1")
        if let failure = summary.failure { return ExitCode(failure) }
        return summary.failedFiles > 0 ? .refused : .confirmed
    }
}

extension ReceiveCommand {
    /// One line of the log: JSON, or `TIME xfer: TEXT`; on the journal, which stamps its
    /// own time, `<PRIORITY>xfer: TEXT` or `<PRIORITY>` and the JSON.
    static func line(_ event: ReceiverEvent, text: String, json: Bool, journal: Bool) -> String {
        let body = json ? event.json : journal ? "xfer: \(text)" : "\(isoTimestamp(event.time)) xfer: \(text)"
        return journal ? event.priority.prefix + body : body
    }
}

/// `2026-12-05T11:02:03.456Z`: ISO 8601 in UTC with milliseconds, the start of every line
/// of the receiver's text log.
func isoTimestamp(_ time: Double) -> String {
    var seconds = time_t(time.rounded(.down))
    var milliseconds = Int(((time - Double(seconds)) * 1000).rounded(.down))
    if milliseconds > 999 { milliseconds = 999 }
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return zeroPadded(Int(parts.tm_year) + 1900, 4) + "-" + zeroPadded(Int(parts.tm_mon) + 1, 2) + "-"
        + zeroPadded(Int(parts.tm_mday), 2) + "T" + zeroPadded(Int(parts.tm_hour), 2) + ":"
        + zeroPadded(Int(parts.tm_min), 2) + ":" + zeroPadded(Int(parts.tm_sec), 2) + "."
        + zeroPadded(milliseconds, 3) + "Z"
}

extension ReceiverEvent {
    /// The event as one JSON object.
    var json: String {
        var pairs: [(String, String)] = [
            ("time", fixed(time, digits: 3)), ("event", jsonString(kind.rawValue)),
        ]
        if let peer { pairs.append(("peer", jsonString(peer))) }
        if let name { pairs.append(("name", jsonString(name))) }
        if let bytes { pairs.append(("bytes", "\(bytes)")) }
        if let resumedFrom { pairs.append(("resumed_from", "\(resumedFrom)")) }
        if !detail.isEmpty { pairs.append(("detail", jsonString(detail))) }
        return jsonObject(pairs)
    }
}
