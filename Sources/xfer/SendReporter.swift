import Synchronization
import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// Turns ``SenderEvent``s into what the user sees: a progress line redrawn in place on a
/// terminal (stderr), JSON lines on stdout with `--json` (schema in the README), or nothing
/// with `--quiet`. Errors always reach stderr, one sentence each.
final class SendReporter: Sendable {
    enum Style {
        case json, terminal, plain, quiet
    }

    private struct State {
        var line = ProgressLine()
        var reportedFailures: Set<String> = []
        var skipped = 0
        var lost = 0
        /// The stream being worked on, and its last figures (for an interruption).
        var current: String?
        var currentResumable = true
        var last = SendProgress()
        var started: [String: UInt64?] = [:]
        /// Confirmed streams so far (for the `done` event of an interrupted run).
        var confirmed = 0
        var confirmedBytes: UInt64 = 0
        var resumed = 0
        var alreadyCommitted = 0
    }

    private let style: Style
    private let begun = monotonic()
    private let state = Mutex(State())

    init(json: Bool, quiet: Bool) {
        if json {
            style = .json
        } else if quiet {
            style = .quiet
        } else {
            style = isatty(STDERR_FILENO) != 0 ? .terminal : .plain
        }
    }

    /// Sources left out before connecting: links and special files (a warning) or sources
    /// that could not be read or named (a loss: the run is partial).
    func skipped(_ skip: SendSource.Skip) {
        state.withLock { state in
            state.skipped += 1
            if skip.isLoss { state.lost += 1 }
            if style == .json {
                printLine(
                    jsonObject([
                        ("event", jsonString("skipped")), ("path", jsonString(skip.path)),
                        ("reason", jsonString(skip.reason)), ("loss", "\(skip.isLoss)"),
                    ])
                )
            }
            printReport("xfer: skipping '\(skip.path)': \(skip.reason)")
        }
    }

    /// How many sources were lost before connecting (for the exit status).
    var lostSources: Int { state.withLock { $0.lost } }

    func handle(_ event: SenderEvent) {
        state.withLock { state in
            switch event {
            case .connected(let endpoint):
                if style == .json {
                    printLine(
                        jsonObject([("event", jsonString("connected")), ("receiver", jsonString(endpoint.description))])
                    )
                }
            case .started(let name, let size, let resumedFrom):
                state.current = name
                state.currentResumable = size != nil
                state.started[name] = resumedFrom
                if style == .json {
                    var pairs = [
                        ("event", jsonString("started")), ("name", jsonString(name)),
                        ("size", size.map { "\($0)" } ?? "null"),
                    ]
                    if let resumedFrom { pairs.append(("resumed_from", "\(resumedFrom)")) }
                    printLine(jsonObject(pairs))
                }
            case .progress(let progress):
                state.last = progress
                if let current = progress.current { state.current = current }
                if style == .json {
                    printLine(
                        jsonObject([
                            ("event", jsonString("progress")), ("name", progress.current.map(jsonString) ?? "null"),
                            ("phase", jsonString(progress.phase.rawValue)), ("sent", "\(progress.sent)"),
                            ("kept", "\(progress.kept)"), ("received", "\(progress.received)"),
                            ("confirmed", "\(progress.confirmed)"), ("total", progress.total.map { "\($0)" } ?? "null"),
                        ])
                    )
                } else if style == .terminal {
                    drawProgress(progress, &state)
                }
            case .confirmed(let name, let delivery):
                state.confirmed += 1
                state.confirmedBytes += delivery.bytes
                if delivery.alreadyCommitted {
                    state.alreadyCommitted += 1
                } else if delivery.resumedFrom != nil {
                    state.resumed += 1
                }
                if style == .json {
                    var pairs = [
                        ("event", jsonString("confirmed")), ("name", jsonString(name)), ("bytes", "\(delivery.bytes)"),
                        ("durable", "\(delivery.durable)"), ("already_committed", "\(delivery.alreadyCommitted)"),
                    ]
                    if let from = delivery.resumedFrom { pairs.append(("resumed_from", "\(from)")) }
                    printLine(jsonObject(pairs))
                }
            case .failed(let name, let error):
                reportFailure(name: name, error: error, &state)
            case .warning(let message):
                warn(message, &state)
            }
        }
    }

    /// The closing lines, once the report is in.
    func finish(_ report: SendReport, exitCode: ExitCode) {
        state.withLock { state in
            state.line.clear()
            for warning in report.warnings { warn(warning, &state) }
            // Streams the connection took down with it were never reported one by one.
            for failure in report.failures where !state.reportedFailures.contains(failure.name) {
                reportFailure(name: failure.name, error: failure.error, &state)
            }
            let bytes = report.confirmed.reduce(UInt64(0)) { $0 + $1.delivery.bytes }
            let seconds = monotonic() - begun
            let already = report.confirmed.filter(\.delivery.alreadyCommitted).count
            let resumed = report.confirmed.compactMap(\.delivery.resumedFrom)
            let fresh = report.confirmed.count - already - resumed.count
            if style == .json {
                var pairs: [(String, String)] = [
                    ("event", jsonString("done")), ("exit", "\(exitCode.rawValue)"),
                    ("confirmed", "\(report.confirmed.count)"), ("failed", "\(report.failures.count)"),
                    ("skipped", "\(state.skipped)"), ("sent_files", "\(fresh)"), ("resumed", "\(resumed.count)"),
                    ("already_committed", "\(already)"), ("bytes", "\(bytes)"), ("sent", "\(report.sentBytes)"),
                    ("seconds", fixed(seconds, digits: 3)),
                ]
                if let error = report.connectionError { pairs.append(("error", jsonString(error.description))) }
                printLine(jsonObject(pairs))
            }
            if let error = report.connectionError, report.failures.isEmpty {
                printReport("xfer: \(error)")
            }
            if case .integrity = report.primaryError {
                printReport(
                    "xfer: if the source was rewritten in place with its size and time kept, "
                        + "send it afresh with --no-resume"
                )
            }
            guard style == .terminal || style == .plain else { return }
            if !report.confirmed.isEmpty {
                let notDurable = report.confirmed.filter { !$0.delivery.durable }.count
                let durability = notDurable == 0 ? "durable" : "\(notDurable) NOT durable"
                let rate =
                    seconds > 0 && report.sentBytes > 0
                    ? ", \(formatBytes(UInt64(Double(report.sentBytes) / seconds)))/s sent" : ""
                var how: [String] = []
                if fresh > 0 { how.append("\(fresh) sent") }
                if !resumed.isEmpty {
                    let from = resumed.count == 1 ? " from \(formatBytes(resumed[0]))" : ""
                    how.append("\(resumed.count) resumed\(from)")
                }
                if already > 0 { how.append("\(already) already there") }
                printReport(
                    "xfer: confirmed \(report.confirmed.count) file(s), \(formatBytes(bytes)), \(durability), "
                        + "in \(fixed(seconds, digits: 2)) s\(rate): \(how.joined(separator: ", "))"
                )
            }
            if !report.failures.isEmpty { printReport("xfer: \(report.failures.count) file(s) not confirmed") }
            if exitCode == .partial {
                // The last line must not read like success: something meant to go did not.
                let unread = report.failures.filter { if case .localIO = $0.error { true } else { false } }.count
                printReport(
                    "xfer: PARTIAL: \(state.lost + unread) source(s) could not be read or named and were not "
                        + "delivered (see above); exit \(exitCode.rawValue)"
                )
            }
        }
    }

    /// What to say when the user interrupts: what the receiver keeps, and how to go on.
    func interrupted() {
        state.withLock { state in
            state.line.clear()
            let seconds = monotonic() - begun
            if style == .json {
                // The same fields as any other `done`, counted from the events so far.
                let fresh = state.confirmed - state.resumed - state.alreadyCommitted
                printLine(
                    jsonObject([
                        ("event", jsonString("done")), ("exit", "\(ExitCode.interrupted.rawValue)"),
                        ("confirmed", "\(state.confirmed)"), ("failed", "\(state.reportedFailures.count)"),
                        ("skipped", "\(state.skipped)"), ("sent_files", "\(fresh)"), ("resumed", "\(state.resumed)"),
                        ("already_committed", "\(state.alreadyCommitted)"), ("bytes", "\(state.confirmedBytes)"),
                        ("sent", "\(state.last.sent)"), ("seconds", fixed(seconds, digits: 3)),
                        ("interrupted", "true"),
                    ])
                )
            }
            guard let current = state.current else {
                printReport("xfer: interrupted before anything was sent")
                return
            }
            if state.currentResumable {
                printReport(
                    "xfer: interrupted while sending '\(current)'. The receiver keeps the verified part "
                        + "it received; run the same command again to resume from there (files already "
                        + "confirmed are not sent again)."
                )
            } else {
                printReport(
                    "xfer: interrupted while sending '\(current)' (standard input cannot be resumed; "
                        + "the receiver drops it). Files already confirmed stay confirmed; run the same "
                        + "command again to resume the rest."
                )
            }
        }
    }

    /// One failed stream: a sentence on stderr, and a JSON event with `--json`.
    private func reportFailure(name: String, error: TransferError, _ state: inout State) {
        state.reportedFailures.insert(name)
        state.line.clear()
        if style == .json {
            printLine(
                jsonObject([
                    ("event", jsonString("failed")), ("name", jsonString(name)),
                    ("exit", "\(ExitCode(error).rawValue)"), ("error", jsonString(error.description)),
                ])
            )
        }
        printReport("xfer: '\(name)' failed: \(error)")
    }

    private func warn(_ message: String, _ state: inout State) {
        state.line.clear()
        if style == .json {
            printLine(jsonObject([("event", jsonString("warning")), ("message", jsonString(message))]))
        }
        printReport("xfer: warning: \(message)")
    }

    private func drawProgress(_ progress: SendProgress, _ state: inout State) {
        let seconds = max(monotonic() - begun, 0.001)
        let rate = Double(progress.sent) / seconds
        // Short figures first (they matter most), then the name gets what room is left.
        var parts: [String] = []
        let toSend = progress.total.map { $0 &- min($0, progress.kept) }
        if let toSend, toSend > 0 {
            parts.append("\(min(100, progress.sent * 100 / toSend))%")
            parts.append("\(formatBytes(progress.sent))/\(formatBytes(toSend))")
        } else {
            parts.append("\(formatBytes(progress.sent)) sent")
        }
        if progress.kept > 0 { parts.append("\(formatBytes(progress.kept)) kept") }
        if progress.confirmed > 0 { parts.append("\(formatBytes(progress.confirmed)) confirmed") }
        switch progress.phase {
        case .hashing: parts.append("checking")
        case .syncing: parts.append("syncing")
        case .sending:
            parts.append("\(formatBytes(UInt64(rate)))/s")
            if let toSend, rate > 0, toSend > progress.sent {
                parts.append("ETA \(Int((Double(toSend - progress.sent) / rate).rounded(.up))) s")
            }
        }
        let columns = terminalColumns() - 1
        let figuresText = " " + parts.joined(separator: " ")
        // The name gives way first (its middle goes), then the figures.
        let room = columns - "xfer: ".count - figuresText.unicodeScalars.count
        let name = shortened(progress.current ?? "", columns: max(room, 9))
        let line = fitted("xfer: " + name + figuresText, columns: columns)
        state.line.draw(line)
    }
}

/// The width of the terminal on stderr (TIOCGWINSZ), 80 when it cannot be told.
func terminalColumns() -> Int {
    var size = winsize()
    guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
}

/// `line` cut to `columns` characters (counting Unicode scalars: one column each for the
/// names xfer prints, a wide character may take two), marked with "…" when cut.
func fitted(_ line: String, columns: Int) -> String {
    let scalars = Array(line.unicodeScalars)
    guard scalars.count > columns else { return line }
    guard columns > 1 else { return "" }
    var out = String.UnicodeScalarView()
    out.append(contentsOf: scalars[..<(columns - 1)])
    return String(out) + "…"
}

/// `name` cut to `columns` characters in the middle ("photos/20…/a.jpg"): its start says
/// which tree it is in, its end which file.
func shortened(_ name: String, columns: Int) -> String {
    let scalars = Array(name.unicodeScalars)
    guard scalars.count > columns, columns > 1 else { return name }
    let keep = columns - 1
    let head = max(keep / 2, min(8, keep))
    var out = String.UnicodeScalarView()
    out.append(contentsOf: scalars[..<head])
    out.append("…")
    out.append(contentsOf: scalars[(scalars.count - (keep - head))...])
    return String(out)
}
