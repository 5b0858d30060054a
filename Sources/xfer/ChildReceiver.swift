import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// A child `xfer receive --listen 127.0.0.1:0 --once` (this same executable), as the demos
/// start one: a separate process, as in real use. Started with `posix_spawn`, its standard
/// error on a pipe.
struct ChildReceiver {
    /// Why it could not be started.
    struct Failure: Error {
        let message: String
    }

    /// Its process ID.
    let pid: pid_t
    /// Where it listens.
    let endpoint: Endpoint
    /// The read end of its standard error, past the "listening on" line.
    private let log: CInt

    /// Starts it into `inbox` and waits for its first line, "xfer: listening on HOST:PORT"
    /// (the readiness signal: no sleeping).
    init(inbox: String) throws(Failure) {
        let arguments = ["xfer", "receive", "--listen", "127.0.0.1:0", "--dir", inbox, "--once"]
        let ends: (pid: pid_t, output: CInt)
        do throws(SystemError) {
            // This same executable; default signals, so it handles Ctrl-C itself.
            ends = try ChildProcess.spawn("/proc/self/exe", arguments, piping: STDERR_FILENO)
        } catch {
            throw Failure(message: "cannot start the receiver: \(error)")
        }
        pid = ends.pid
        log = ends.output
        var firstLine: [UInt8] = []
        var byte: UInt8 = 0
        // One byte at a time up to the newline: what follows stays in the pipe for `finish`.
        while read(log, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") { break }
            firstLine.append(byte)
        }
        let text = String(decoding: firstLine, as: UTF8.self)
        guard let range = text.firstRange(of: "listening on "),
            let endpoint = Endpoint(parsing: String(text[range.upperBound...]))
        else {
            kill(pid, SIGTERM)
            close(log)
            throw Failure(message: "the receiver did not start: \(text)")
        }
        self.endpoint = endpoint
    }

    /// Waits for it to exit; returns the rest of what it wrote on standard error.
    func finish() -> String {
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(log, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            output += buffer[..<count]
        }
        close(log)
        _ = ChildProcess.wait(pid)
        return String(decoding: output, as: UTF8.self)
    }
}
