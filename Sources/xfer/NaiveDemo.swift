import Dispatch
import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// `xfer demo --naive`: the failure xfer exists for, on loopback, next to what raw mode and
/// xfer's protocol can honestly claim about the same bytes (README "Raw mode").
///
/// The receiver greets first ("220 Welcome") and starts reading a moment later, like a busy
/// SMTP or FTP server. A naive sender writes everything, never reads the greeting, and
/// closes: with unread data in its receive queue, Linux sends RST instead of FIN (RFC 1122
/// §4.2.2.13), and the receiver loses what it had not read yet, while `write()` told the
/// sender every byte was taken.
struct NaiveDemo {
    /// Bytes per run (the famous write-up's 1,000,000).
    let size: Int
    /// Runs of the naive sender (the loss depends on timing; several runs show how often).
    let runs = 5
    /// What the receiver that quits early reads before it closes.
    static let earlyQuitRead = 128 << 10

    func run() -> ExitCode {
        let root: String
        do throws(SystemError) {
            root = try DemoFiles.scratchDirectory("xfer-naive")
        } catch {
            printError("xfer: demo cannot prepare a temporary directory: \(error)")
            return .localIO
        }
        let inbox = root + "/received"
        let payloadPath = root + "/payload.bin"
        defer { DemoFiles.removeTree(root) }
        let payload = [UInt8]((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) })
        do throws(SystemError) {
            try DemoFiles.makeDirectory(inbox)
            try DemoFiles.write(payload, to: payloadPath)
        } catch {
            printError("xfer: demo cannot prepare \(root): \(error)")
            return .localIO
        }
        var honest = true
        print(
            """
            xfer demo --naive: \(size) bytes over loopback to a receiver that greets first ("220 Welcome")
            and starts reading 50 ms later (a busy server), then reads until end of stream.

            1. A naive sender: write() everything, close(); the greeting is never read.
            """
        )
        var losses = 0
        for run in 1...runs {
            let receiver = DemoReceiver(readLimit: nil)
            let written = naiveSend(payload, port: receiver.port)
            let got = receiver.join()
            if got.received < size { losses += 1 }
            print("   run \(run): write() returned \(written); the receiver got \(got)")
        }
        if losses > 0 {
            print(
                """
                   The naive sender believed all \(size) bytes were sent every time; the receiver lost data
                   in \(losses) of \(runs) runs. Its close() found the greeting unread, so Linux reset the
                   connection and the receiver's kernel threw away what its application had not read yet.
                """
            )
        } else {
            print(
                """
                   This time the loss did not reproduce on this kernel (it depends on timing and buffer
                   sizes): every run got all \(size) bytes. The naive sender's belief was still unfounded:
                   write() only says the local kernel took the bytes.
                """
            )
        }

        print("\n2. xfer send --raw, the same bytes to the same kind of receiver:")
        var rawCodes: [ExitCode] = []
        /// One raw send to a receiver that reads `readLimit` bytes (nil: all) and closes;
        /// a claim of delivery it did not make true makes the demo dishonest.
        func rawAttempt(readLimit: Int?, missing: String) -> RawSendReport {
            let receiver = DemoReceiver(readLimit: readLimit)
            let report = rawSend(payloadPath, port: receiver.port)
            let got = receiver.join()
            rawCodes.append(ExitCode(report.verdict))
            print("   exit \(ExitCode(report.verdict).rawValue): \(report.verdict)")
            print("   the receiver got \(got)")
            if report.verdict.isDelivered && got.received != size {
                print("   WRONG: raw mode claimed delivery, but the receiver did not \(missing) every byte")
                honest = false
            }
            return report
        }
        let report = rawAttempt(readLimit: nil, missing: "get")
        if report.progress.replyBytes > 0 {
            print(
                "   It read and discarded the \(report.progress.replyBytes)-byte greeting, so its close caused no reset."
            )
        }
        print("\n   The same to a receiver whose application reads \(Self.earlyQuitRead) bytes and quits:")
        _ = rawAttempt(readLimit: Self.earlyQuitRead, missing: "read")

        print("\n3. xfer send (xfer's protocol), the same bytes to `xfer receive`:")
        let framed = framedSend(payloadPath, inbox: inbox)
        let same = DemoFiles.sameContents(payloadPath, inbox + "/payload.bin")
        print("   exit \(framed.code.rawValue): \(framed.summary)")
        print("   the file on the receiver is \(same ? "byte-for-byte identical" : "NOT identical")")
        if framed.code == .confirmed && !same {
            print("   WRONG: xfer send claimed confirmation, but the file differs")
            honest = false
        }

        print(
            """

            What each could honestly claim:
              naive write()+close(): nothing; "write returned \(size)" only means the local kernel took the bytes.
              xfer send --raw:       that the receiver's TCP acknowledged every byte and the end of stream and
                                     that it closed without a reset (exit 0), or that it reset, and how much was
                                     acknowledged before (exit 78); never that the application used the bytes.
              xfer send:             that the receiving application has every byte, verified and on disk (exit 0).
            The raw verdicts here: \(rawCodes.map { "\($0.rawValue)" }.joined(separator: ", ")); xfer send: \(framed.code.rawValue).
            """
        )
        return honest ? .confirmed : .integrity
    }

    /// Writes `payload` with a 2 MiB send buffer (so `write` returns at once), then closes
    /// without reading. Returns what `write` returned in total.
    private func naiveSend(_ payload: [UInt8], port: UInt16) -> Int {
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        var buffer: CInt = 2 << 20
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, socklen_t(MemoryLayout<CInt>.size))
        var address = loopback(port)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var offset = 0
        while status == 0 && offset < payload.count {
            let sent = payload.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, CInt(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { break }
            offset += sent
        }
        close(fd)  // the greeting is still unread: this close sends RST
        return offset
    }

    private func rawSend(_ path: String, port: UInt16) -> RawSendReport {
        var options = RawSendOptions()
        options.timeout = 5
        return RawSender(endpoint: Endpoint(host: "127.0.0.1", port: port), options: options)
            .send(.file(path: path)) { _ in }
    }

    /// Sends with xfer's protocol to a child `xfer receive --once`, as in `xfer demo`.
    private func framedSend(_ path: String, inbox: String) -> (code: ExitCode, summary: String) {
        let receiver: ChildReceiver
        do {
            receiver = try ChildReceiver(inbox: inbox)
        } catch {
            return (.localIO, error.message)
        }
        let report = Sender(endpoint: receiver.endpoint).send([.file(path: path, name: "payload.bin")]) { _ in }
        let code = ExitCode.verdict(report, lostSources: 0, allowNondurable: false)
        _ = receiver.finish()
        if let delivery = report.confirmed.first?.delivery, code == .confirmed {
            return (
                code,
                "the receiving application confirmed \(delivery.bytes) bytes, length and digest checked, "
                    + (delivery.durable ? "durable on its disk" : "not durable")
            )
        }
        return (code, report.primaryError?.description ?? "not confirmed")
    }
}

/// The demo's receiving application, on its own thread: accepts one connection on
/// 127.0.0.1, greets, pauses 50 ms (the scenario: a busy server, not synchronisation),
/// then reads until end of stream or an error, or until `readLimit` bytes and then closes
/// with whatever is still unread.
private final class DemoReceiver: @unchecked Sendable {
    /// What the application got.
    struct Result: CustomStringConvertible {
        var received = 0
        var error: CInt = 0
        var description: String {
            switch error {
            case 0: return "\(received) bytes, then end of stream"
            case ECONNRESET: return "\(received) bytes, then connection reset"
            case -1: return "\(received) bytes, then its application closed (unread data left)"
            default: return "\(received) bytes, then \(String(cString: strerror(error)))"
            }
        }
    }

    let port: UInt16
    private let listener: CInt
    private let done = DispatchSemaphore(value: 0)
    private var result = Result()

    init(readLimit: Int?) {
        listener = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        var address = loopback(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = listener
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, length)
                _ = getsockname(fd, $0, &length)
            }
        }
        listen(fd, 1)
        port = UInt16(bigEndian: address.sin_port)
        do {
            try DetachedThread.start("the demo's receiving application") { [self] in
                let client = accept(fd, nil, nil)
                let greeting = Array("220 Welcome\r\n".utf8)
                _ = greeting.withUnsafeBytes { send(client, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
                usleep(50_000)
                var buffer = [UInt8](repeating: 0, count: 65536)
                var outcome = Result()
                while true {
                    let want = readLimit.map { min(buffer.count, $0 - outcome.received) } ?? buffer.count
                    if want == 0 {
                        outcome.error = -1
                        break
                    }
                    let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, want, 0) }
                    if count == 0 { break }
                    if count < 0 {
                        if errno == EINTR { continue }
                        outcome.error = errno
                        break
                    }
                    outcome.received += count
                }
                close(client)
                result = outcome
                done.signal()
            }
        } catch {
            // No application: the demo shows that, instead of waiting for it forever.
            result.error = error.errno
            done.signal()
        }
    }

    /// Waits for the connection to end; what the application got.
    func join() -> Result {
        done.wait()
        close(listener)
        return result
    }
}

/// 127.0.0.1:`port`.
private func loopback(_ port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}
