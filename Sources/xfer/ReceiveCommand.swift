import Foundation
import Transfer

/// `xfer receive [--listen HOST:PORT] [--dir DIR] [--once]`
struct ReceiveCommand {
    static let help = """
        OVERVIEW: Receive files into a directory. Each file is written to a temporary name,
        checked, synced, renamed into place and synced again before the sender is told it
        arrived. Serves until interrupted, many senders at once.

        USAGE: xfer receive [--listen HOST:PORT] [--dir DIR] [--key FILE | --no-auth] [--once]
                            [--timeout SECONDS] [--max-connections N] [--max-per-address N]
                            [--handshake-timeout SECONDS] [--keep-partials TIME] [--umask OCTAL]
                            [--quiet] [--log-json]

        Protected mode: without a key, xfer receive listens only on loopback addresses
        (127.0.0.0/8, ::1) unless told --no-auth: anyone who can reach the port could write
        into DIR.

        OPTIONS:
          --listen HOST:PORT     Address to listen on (default [::]:\(Endpoint.defaultPort), IPv6 and IPv4,
                                 or 0.0.0.0:\(Endpoint.defaultPort) where there is no IPv6; port 0 picks a
                                 free port). Prints "xfer: listening on HOST:PORT".
          --key FILE             A pre-shared key (xfer keygen; default: the file $XFER_KEY_FILE
                                 names): only senders that prove it are served.
          --no-auth              Listen on a non-loopback address without authentication.
          --dir DIR              Directory to write into (default: the current one). Its
                                 .xfer/ subdirectory holds partial files and the commit log.
          --once                 Serve one connection, then exit (0 if it ended cleanly).
          --timeout SECONDS      Drop a peer silent this long (default 30).
          --max-connections N    Serve at most N senders at once (default 64).
          --max-per-address N    At most N connections from one address at once (default 16).
          --handshake-timeout SECONDS
                                 Drop a connection that has not completed its handshake this
                                 long after it was accepted, however it trickles (default 10).
          --keep-partials TIME   Keep the partial file of an interrupted transfer this long for a
                                 resume (default 7d; s, m, h, d suffixes). Partials together hold
                                 at most a quarter of the file system; the oldest go first.
          --umask OCTAL          Permission bits never given to received files (default: the
                                 process umask plus o+w: nothing received is world-writable).
          --quiet                Log nothing but the listening line and errors.
          --log-json             Log one JSON object per line on stderr (time, peer, event, name,
                                 bytes, resumed_from, detail) instead of text.
          SIGINT or SIGTERM stops accepting, lets running commits finish (at most 10 s), keeps
          verified partial files for resumes, and exits 0.
          -h, --help             Show this help.
        """

    let listen: [Endpoint]
    /// The listening socket systemd passed (socket activation), or why it cannot be used.
    let activation: Result<SocketActivation.Listener?, TransferError>
    let directory: String
    let once: Bool
    let quiet: Bool
    let logJSON: Bool
    let options: ReceiverOptions

    init(_ arguments: [String]) throws(UsageError) {
        let parsed = try Arguments(
            arguments,
            valueOptions: [
                "listen", "dir", "timeout", "max-connections", "max-per-address", "handshake-timeout", "keep-partials",
                "umask", "key",
            ],
            flagOptions: ["once", "quiet", "no-auth", "log-json"]
        )
        if let extra = parsed.positional.first { throw UsageError(message: "unexpected argument '\(extra)'") }
        var listen: [Endpoint] = [
            Endpoint(host: "::", port: Endpoint.defaultPort), Endpoint(host: "0.0.0.0", port: Endpoint.defaultPort),
        ]
        if let address = parsed.value("listen") {
            do throws(EndpointError) {
                listen = [try Endpoint(validating: address)]
            } catch {
                throw UsageError(message: "--listen: \(error)")
            }
        }
        let activation = Result { () throws(TransferError) in try SocketActivation.takeListener() }
        var exposed = listen.first(where: { !$0.isLoopback })
        if case .success(let listener?) = activation {
            if parsed.value("listen") != nil {
                throw UsageError(message: "--listen: the service manager passed a listening socket (LISTEN_FDS)")
            }
            exposed = listener.isLoopback ? nil : listener.endpoint
        }
        let key = try KeyFile.key(option: parsed.value("key"))
        if key == nil, !parsed.flag("no-auth"), let open = exposed {
            throw UsageError(
                message: "refusing to listen on \(open) without authentication: anyone who can reach it could "
                    + "write into the directory. Listen on loopback (--listen 127.0.0.1:PORT, e.g. behind an "
                    + "ssh tunnel), or say --no-auth to accept that risk"
            )
        }
        var options = ReceiverOptions()
        options.key = key
        options.idleTimeout = try parsed.seconds("timeout", default: options.idleTimeout)
        if let text = parsed.value("max-connections") {
            guard let count = Int(text), count > 0, count <= 1_000_000 else {
                throw UsageError(message: "'--max-connections' takes a whole number from 1 to 1000000")
            }
            options.maxConnections = count
        }
        if let text = parsed.value("max-per-address") {
            guard let count = Int(text), count > 0, count <= 1_000_000 else {
                throw UsageError(message: "'--max-per-address' takes a whole number from 1 to 1000000")
            }
            options.maxPerAddress = count
        }
        options.handshakeTimeout = try parsed.seconds("handshake-timeout", default: options.handshakeTimeout)
        if let text = parsed.value("keep-partials") {
            guard let seconds = Arguments.duration(text) else {
                throw UsageError(
                    message: "'--keep-partials' takes a duration such as 90s, 30m, 12h or 7d, not '\(text)'"
                )
            }
            options.partialRetention = seconds
        }
        if let text = parsed.value("umask") {
            guard let mask = UInt16(text, radix: 8), mask <= 0o777 else {
                throw UsageError(message: "'--umask' takes octal permission bits such as 022 or 077, not '\(text)'")
            }
            options.umask = .init(mask)
        }
        self.listen = listen
        self.activation = activation
        directory = parsed.value("dir") ?? "."
        once = parsed.flag("once")
        quiet = parsed.flag("quiet")
        logJSON = parsed.flag("log-json")
        self.options = options
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
            // The default tries IPv6 and IPv4 on one socket first, then IPv4 alone.
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
                        ("time", String(format: "%.3f", ready.time)), ("event", jsonString("listening")),
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
    return String(
        format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
        Int(parts.tm_year) + 1900,
        Int(parts.tm_mon) + 1,
        Int(parts.tm_mday),
        Int(parts.tm_hour),
        Int(parts.tm_min),
        Int(parts.tm_sec),
        milliseconds
    )
}

extension ReceiverEvent {
    /// The event as one JSON object.
    var json: String {
        var pairs: [(String, String)] = [
            ("time", String(format: "%.3f", time)), ("event", jsonString(kind.rawValue)),
        ]
        if let peer { pairs.append(("peer", jsonString(peer))) }
        if let name { pairs.append(("name", jsonString(name))) }
        if let bytes { pairs.append(("bytes", "\(bytes)")) }
        if let resumedFrom { pairs.append(("resumed_from", "\(resumedFrom)")) }
        if !detail.isEmpty { pairs.append(("detail", jsonString(detail))) }
        return jsonObject(pairs)
    }
}
