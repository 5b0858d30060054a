import Foundation
import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// Turns ``SenderEvent``s into what the user sees: a progress line redrawn in place on a
/// terminal (stderr), JSON lines on stdout with `--json`, or nothing with `--quiet`.
/// Errors always reach stderr, one sentence each.
final class SendReporter: @unchecked Sendable {
    enum Style {
        case json, terminal, plain, quiet
    }

    private let style: Style
    private let lock = NSLock()
    private let started = monotonic()
    private var lineShown = false
    private var reportedFailures: Set<String> = []

    init(json: Bool, quiet: Bool) {
        if json {
            style = .json
        } else if quiet {
            style = .quiet
        } else {
            style = isatty(STDERR_FILENO) != 0 ? .terminal : .plain
        }
    }

    func handle(_ event: SenderEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch (style, event) {
        case (.json, .connected(let endpoint)):
            printLine(jsonObject([("event", jsonString("connected")), ("receiver", jsonString(endpoint.description))]))
        case (.json, .started(let name, let size)):
            printLine(
                jsonObject([
                    ("event", jsonString("started")), ("name", jsonString(name)),
                    ("size", size.map { "\($0)" } ?? "null"),
                ])
            )
        case (.json, .progress(let progress)):
            printLine(
                jsonObject([
                    ("event", jsonString("progress")), ("sent", "\(progress.sent)"),
                    ("received", "\(progress.received)"),
                    ("confirmed", "\(progress.confirmed)"), ("total", progress.total.map { "\($0)" } ?? "null"),
                ])
            )
        case (.json, .confirmed(let name, let bytes, let durable)):
            printLine(
                jsonObject([
                    ("event", jsonString("confirmed")), ("name", jsonString(name)), ("bytes", "\(bytes)"),
                    ("durable", "\(durable)"),
                ])
            )
        case (_, .failed(let name, let error)):
            reportFailure(name: name, error: error)
        case (.terminal, .progress(let progress)):
            drawProgress(progress)
        default:
            break
        }
    }

    /// The closing lines, once the report is in.
    func finish(_ report: SendReport, exitCode: ExitCode) {
        lock.lock()
        defer { lock.unlock() }
        clearLine()
        // Streams the connection took down with it were never reported one by one.
        for failure in report.failures where !reportedFailures.contains(failure.name) {
            reportFailure(name: failure.name, error: failure.error)
        }
        let bytes = report.confirmed.reduce(UInt64(0)) { $0 + $1.bytes }
        let seconds = monotonic() - started
        if style == .json {
            var pairs: [(String, String)] = [
                ("event", jsonString("done")), ("exit", "\(exitCode.rawValue)"),
                ("confirmed", "\(report.confirmed.count)"),
                ("failed", "\(report.failures.count)"), ("bytes", "\(bytes)"),
                ("seconds", String(format: "%.3f", seconds)),
            ]
            if let error = report.connectionError { pairs.append(("error", jsonString(error.description))) }
            printLine(jsonObject(pairs))
        }
        if let error = report.connectionError, report.failures.isEmpty {
            printError("xfer: \(error)")
        }
        guard style == .terminal || style == .plain else { return }
        let durable = report.confirmed.allSatisfy(\.durable) ? "durable" : "NOT all durable"
        if !report.confirmed.isEmpty {
            let rate =
                seconds > 0
                ? " in \(String(format: "%.2f", seconds)) s, \(formatBytes(UInt64(Double(bytes) / seconds)))/s" : ""
            printError("xfer: confirmed \(report.confirmed.count) file(s), \(formatBytes(bytes)), \(durable)\(rate)")
        }
        if !report.failures.isEmpty { printError("xfer: \(report.failures.count) file(s) not confirmed") }
    }

    /// One failed stream: a sentence on stderr, and a JSON event with `--json`.
    private func reportFailure(name: String, error: TransferError) {
        reportedFailures.insert(name)
        clearLine()
        if style == .json {
            printLine(
                jsonObject([
                    ("event", jsonString("failed")), ("name", jsonString(name)),
                    ("exit", "\(ExitCode(error).rawValue)"),
                    ("error", jsonString(error.description)),
                ])
            )
        }
        printError("xfer: '\(name)' failed: \(error)")
    }

    private func drawProgress(_ progress: SendProgress) {
        let seconds = max(monotonic() - started, 0.001)
        let rate = Double(progress.sent) / seconds
        var line = "xfer: \(formatBytes(progress.sent))"
        if let total = progress.total { line += " / \(formatBytes(total))" }
        line +=
            " sent, \(formatBytes(progress.received)) received, \(formatBytes(progress.confirmed)) confirmed, \(formatBytes(UInt64(rate)))/s"
        if let total = progress.total, rate > 0, total > progress.sent {
            line += ", ETA \(Int((Double(total - progress.sent) / rate).rounded(.up))) s"
        }
        writeAll(STDERR_FILENO, "\r\u{1B}[K\(line)")
        lineShown = true
    }

    private func clearLine() {
        if lineShown {
            writeAll(STDERR_FILENO, "\r\u{1B}[K")
            lineShown = false
        }
    }
}

/// Seconds on a monotonic clock (Foundation's uptime reads CLOCK_MONOTONIC).
func monotonic() -> Double { ProcessInfo.processInfo.systemUptime }
