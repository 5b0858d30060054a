import Synchronization
import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// Turns ``RawSendEvent``s into what the user sees: a progress line of *acknowledged* bytes
/// on a terminal (stderr), JSON lines with `--json` (schema in the README), the peer's
/// bytes on stdout with `--show-reply`, and the verdict in one sentence.
final class RawSendReporter: Sendable {
    private struct State {
        var line = ProgressLine()
        var connected = false
        var last = RawProgress()
    }

    private let style: SendReporter.Style
    private let showReply: Bool
    private let begun = monotonic()
    private let state = Mutex(State())

    init(json: Bool, quiet: Bool, showReply: Bool) {
        if json {
            style = .json
        } else if quiet {
            style = .quiet
        } else {
            style = isatty(STDERR_FILENO) != 0 ? .terminal : .plain
        }
        self.showReply = showReply
    }

    func handle(_ event: RawSendEvent) {
        state.withLock { state in
            switch event {
            case .connected(let endpoint):
                state.connected = true
                if style == .json {
                    printLine(
                        jsonObject([("event", jsonString("connected")), ("peer", jsonString(endpoint.description))])
                    )
                }
            case .progress(let progress):
                state.last = progress
                if style == .json {
                    printLine(jsonObject([("event", jsonString("progress"))] + Self.figures(progress)))
                } else if style == .terminal {
                    drawProgress(progress, &state)
                }
            case .reply(let bytes):
                if showReply { bytes.withUnsafeBytes { writeAll(STDOUT_FILENO, $0) } }
            }
        }
    }

    /// The verdict: a `done` event with `--json`, and one sentence on stderr (for 0 only
    /// when not `--quiet`).
    func finish(_ report: RawSendReport, exitCode: ExitCode) {
        state.withLock { state in
            state.line.clear()
            var sentence = report.verdict.description
            if case .notAcknowledged = report.verdict, let unsent = report.unsent, unsent > 0 {
                sentence += "; \(unsent) bytes were never even sent"
                if report.peerWindowClosed == true {
                    sentence += ": the peer's receive window is closed (its application is not reading)"
                }
            }
            if style == .json {
                var pairs: [(String, String)] = [
                    ("event", jsonString("done")), ("exit", "\(exitCode.rawValue)"),
                    ("verdict", jsonString(report.verdict.name)),
                ]
                pairs += Self.figures(report.progress)
                pairs += [
                    ("unsent", report.unsent.map { "\($0)" } ?? "null"),
                    ("peer_window_closed", report.peerWindowClosed.map { "\($0)" } ?? "null"),
                    ("retransmitted", report.retransmitted.map { "\($0)" } ?? "null"),
                    ("seconds", fixed(report.seconds, digits: 3)), ("message", jsonString(sentence)),
                ]
                printLine(jsonObject(pairs))
            }
            if exitCode != .confirmed || style == .terminal || style == .plain {
                printReport("xfer: \(sentence)")
            }
        }
    }

    /// What to say on Ctrl-C: how far the peer's TCP got, and whether the connection was reset.
    func interrupted(reset: Bool) {
        state.withLock { state in
            state.line.clear()
            let last = state.last
            if style == .json {
                printLine(
                    jsonObject(
                        [
                            ("event", jsonString("done")), ("exit", "\(ExitCode.interrupted.rawValue)"),
                            ("verdict", jsonString("interrupted")),
                        ]
                            + Self.figures(last) + [("seconds", fixed(monotonic() - begun, digits: 3))]
                    )
                )
            }
            guard state.connected else {
                printReport("xfer: interrupted before the connection was up: nothing was sent")
                return
            }
            let acknowledged = last.acknowledged.map { "\($0) bytes acknowledged by the peer's TCP, " } ?? ""
            printReport(
                "xfer: interrupted with \(acknowledged)\(last.written) written; "
                    + (reset
                        ? "the connection was reset, so the peer cannot take the part for the whole"
                        : "every byte was already written and the end of stream sent: the peer may still get them all")
            )
        }
    }

    /// The figures shared by `progress` and `done` events.
    private static func figures(_ progress: RawProgress) -> [(String, String)] {
        [
            ("written", "\(progress.written)"), ("acknowledged", progress.acknowledged.map { "\($0)" } ?? "null"),
            ("total", progress.total.map { "\($0)" } ?? "null"), ("reply_bytes", "\(progress.replyBytes)"),
            ("peer_closed", "\(progress.peerClosed)"),
        ]
    }

    private func drawProgress(_ progress: RawProgress, _ state: inout State) {
        let seconds = max(monotonic() - begun, 0.001)
        var parts: [String] = []
        if let acknowledged = progress.acknowledged {
            if let total = progress.total, total > 0 {
                parts.append("\(min(100, acknowledged * 100 / total))%")
                parts.append("\(formatBytes(acknowledged))/\(formatBytes(total)) acknowledged")
            } else {
                parts.append("\(formatBytes(acknowledged)) acknowledged")
            }
            parts.append("(\(formatBytes(progress.written)) written)")
            parts.append("\(formatBytes(UInt64(Double(acknowledged) / seconds)))/s")
        } else {
            parts.append("\(formatBytes(progress.written)) written (acknowledgements cannot be measured here)")
        }
        if progress.peerClosed { parts.append("peer closed") }
        let line = fitted("xfer: " + parts.joined(separator: " "), columns: terminalColumns() - 1)
        state.line.draw(line)
    }
}

/// Writes all of `bytes` to a file descriptor (the peer's reply to stdout).
func writeAll(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}
