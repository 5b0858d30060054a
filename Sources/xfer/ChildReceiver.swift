import Foundation
import Transfer

/// A child `xfer receive --listen 127.0.0.1:0 --once` (this same executable), as the demos
/// start one: a separate process, as in real use.
struct ChildReceiver {
    /// Why it could not be started.
    struct Failure: Error {
        let message: String
    }

    let process: Process
    /// Its standard error, past the "listening on" line.
    let log: Pipe
    /// Where it listens.
    let endpoint: Endpoint

    /// Starts it into `inbox` and waits for its first line, "xfer: listening on HOST:PORT"
    /// (the readiness signal: no sleeping).
    init(inbox: String) throws(Failure) {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["receive", "--listen", "127.0.0.1:0", "--dir", inbox, "--once"]
        log = Pipe()
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw Failure(message: "cannot start the receiver: \(error)")
        }
        var firstLine = Data()
        while !firstLine.contains(UInt8(ascii: "\n")) {
            let chunk = log.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            firstLine.append(chunk)
        }
        let text = String(decoding: firstLine, as: UTF8.self)
        guard let range = text.range(of: "listening on "),
            let endpoint = Endpoint(parsing: String(text[range.upperBound...].prefix { $0 != "\n" }))
        else {
            process.terminate()
            throw Failure(message: "the receiver did not start: \(text)")
        }
        self.endpoint = endpoint
    }
}
