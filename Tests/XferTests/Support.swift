import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// All integration tests run one at a time: they start real processes on real sockets,
/// and some measure what the kernel does, which parallel load would blur.
@Suite(.serialized) struct Integration {}

/// The xfer executable built next to this test bundle.
let xferBinary: String = {
    // Another build's binary (e.g. the code a fix started from, to see a new test fail).
    if let path = ProcessInfo.processInfo.environment["XFER_TEST_BINARY"] { return path }
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [
        beside.appendingPathComponent("xfer"), beside.deletingLastPathComponent().appendingPathComponent("xfer"),
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent(".build/debug/xfer"),
    ] where FileManager.default.isExecutableFile(atPath: candidate.path) {
        return candidate.path
    }
    fatalError("xfer binary not found beside \(beside.path); run `swift build` first")
}()

/// What a finished process left.
struct Finished {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A fresh directory under /tmp, removed at deinit.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/xfer-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `count` random bytes (from the kernel, fast even in a debug build) to
    /// `name`, making directories as needed, and returns them.
    @discardableResult
    func makeFile(_ name: String, count: Int) -> [UInt8] {
        let random = FileHandle(forReadingAtPath: "/dev/urandom")!
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count { bytes += random.readData(ofLength: min(count - bytes.count, 1 << 24)) }
        let url = URL(fileURLWithPath: file(name))
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! Data(bytes).write(to: url)
        return bytes
    }

    func contents(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: file(name)).map { [UInt8]($0) }
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }
}

/// Collects a pipe's bytes on a background thread and lets tests wait for text in it.
final class PipeCollector: @unchecked Sendable {
    private let condition = NSCondition()
    private var data = Data()
    private var closed = false

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread { [self] in
            while true {
                let chunk = handle.availableData
                condition.lock()
                if chunk.isEmpty {
                    closed = true
                } else {
                    data.append(chunk)
                }
                condition.broadcast()
                condition.unlock()
                if chunk.isEmpty { return }
            }
        }.start()
    }

    var text: String { condition.withLock { String(decoding: data, as: UTF8.self) } }

    /// Waits until the text contains `needle` (true) or the pipe closes or `seconds` pass.
    func wait(for needle: String, seconds: Double = 30) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !String(decoding: data, as: UTF8.self).contains(needle) {
            if closed || !condition.wait(until: deadline) {
                return String(decoding: data, as: UTF8.self).contains(needle)
            }
        }
        return true
    }

    /// Waits until `predicate` holds for the text (true), or the pipe closes or `seconds` pass.
    func wait(seconds: Double = 60, until predicate: (String) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(String(decoding: data, as: UTF8.self)) {
            if closed || !condition.wait(until: deadline) { return predicate(String(decoding: data, as: UTF8.self)) }
        }
        return true
    }

    /// Waits until the pipe closes; returns everything.
    func waitForEnd(seconds: Double = 120) -> String {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !closed && condition.wait(until: deadline) {}
        return String(decoding: data, as: UTF8.self)
    }
}

/// A running xfer process.
final class XferProcess {
    let process = Process()
    let stdout: PipeCollector
    let stderr: PipeCollector
    let stdin = Pipe()

    init(_ arguments: [String], directory: String? = nil) {
        // Writing to a child that died must be an error for the test, not kill it.
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: xferBinary)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        (stdout, stderr) = collectOutput(of: process, input: stdin)
        try! process.run()
    }

    /// Waits for exit and returns status and output.
    func finish(closingInput: Bool = true) -> Finished {
        if closingInput { try? stdin.fileHandleForWriting.close() }
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, stdout: stdout.waitForEnd(), stderr: stderr.waitForEnd())
    }

    func kill(_ signal: Int32 = SIGKILL) {
        Glibc.kill(process.processIdentifier, signal)
    }
}

/// `xfer receive` on 127.0.0.1 with a kernel-chosen port, ready once it has said where.
final class ReceiverProcess {
    let xfer: XferProcess
    let port: UInt16

    init(directory: String, extra: [String] = []) {
        xfer = XferProcess(["receive", "--listen", "127.0.0.1:0", "--dir", directory] + extra)
        // The "listening on" line is the readiness signal (no sleeping); with --log-json it
        // is the `listening` event, whose port is a field of its own.
        func isReady(_ line: Substring) -> Bool { line.contains("listening on") || line.contains("\"listening\"") }
        precondition(
            xfer.stderr.wait { $0.split(separator: "\n").contains(where: isReady) },
            "receiver did not start: \(xfer.stderr.text)"
        )
        let line = xfer.stderr.text.split(separator: "\n").first(where: isReady)!
        if line.hasPrefix("{"), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        {
            port = UInt16(object["port"] as! Int)
        } else {
            port = UInt16(line.split(separator: ":").last!)!
        }
    }

    var address: String { "127.0.0.1:\(port)" }
    var log: String { xfer.stderr.text }

    deinit {
        if xfer.process.isRunning {
            xfer.kill()
            xfer.process.waitUntilExit()
        }
    }
}

/// Runs xfer to completion.
@discardableResult
func xfer(_ arguments: [String], input: Data? = nil, directory: String? = nil) -> Finished {
    let process = XferProcess(arguments, directory: directory)
    if let input { try? process.stdin.fileHandleForWriting.write(contentsOf: input) }
    return process.finish()
}

/// A raw TCP client for playing a misbehaving peer.
final class RawClient {
    let fd: CInt

    /// Connects to 127.0.0.1:`port`, from `source` when given (any 127/8 address is
    /// loopback on Linux: one machine, many "peers").
    init(port: UInt16, sendBuffer: CInt? = nil, from source: String? = nil) {
        fd = socket(AF_INET, streamSocketType, 0)
        if var size = sendBuffer { setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<CInt>.size)) }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            precondition(bound == 0, "bind to \(source) failed: \(errno)")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(status == 0, "connect failed: \(errno)")
    }

    /// Writes all bytes; returns how many the kernel accepted (stops at the first error).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Int {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, CInt(MSG_NOSIGNAL))
            }
            if sent <= 0 { break }
            offset += sent
        }
        return offset
    }

    func send(_ record: Record) {
        var bytes: [UInt8] = []
        try! RecordEncoder.append(record, to: &bytes)
        send(bytes)
    }

    /// Reads until end of stream, an error, or `seconds` without data.
    func readToEnd(seconds: Double = 10) -> [UInt8] {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return result }
            result += buffer[..<count]
        }
    }

    /// The records the server sends (after its preamble), up to its GOODBYE or the end
    /// of the stream: a client stops reading at GOODBYE, as SPEC.md §7.1 says.
    /// - Parameter preambleRead: Whether the caller already read the server's preamble.
    func records(seconds: Double = 10, preambleRead: Bool = false) -> [Record] {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var decoder = RecordDecoder(expectingPreamble: !preambleRead)
        var records: [Record] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while records.last != .goodbye {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            do {
                try decoder.feed(buffer[..<count]) { message in
                    if case .record(let record) = message { records.append(record) }
                }
            } catch {
                break
            }
        }
        return records
    }

    func close() { Glibc.close(fd) }

    deinit { Glibc.close(fd) }
}

/// Linux's `SOCK_STREAM` and `MSG_DONTWAIT` (bits/socket_type.h, bits/socket.h), as
/// numbers: clean builds with this toolchain (Swift 6.3.1) failed, in varying test files
/// that import Glibc like every other, to find these two self-referencing C macros.
let streamSocketType: CInt = 1
let dontWaitFlag: CInt = 0x40

/// Whether a command can be found on PATH.
func commandExists(_ name: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
    }
}

/// Runs a shell command and returns its output and status.
@discardableResult
func shell(_ command: String) -> Finished {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let stdout = PipeCollector(out)
    let stderr = PipeCollector(err)
    try! process.run()
    process.waitUntilExit()
    return Finished(status: process.terminationStatus, stdout: stdout.waitForEnd(), stderr: stderr.waitForEnd())
}

/// The JSON objects in `--json` output, one per line.
func jsonEvents(_ text: String) -> [[String: Any]] {
    text.split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

/// Checks that `actual` holds exactly `expected`, comparing lengths and SHA-256 digests:
/// `#expect(a == b)` on file contents prints both arrays when they differ (a 400 MiB
/// comparison printed for 40 minutes). On a difference the issue says what differs: the
/// lengths, the first differing offset, and both digests.
func expectSameBytes(
    _ actual: [UInt8]?,
    _ expected: [UInt8],
    _ comment: @autoclosure () -> String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard !sameBytes(actual, expected) else { return }
    let label = comment().isEmpty ? "" : "\(comment()): "
    guard let actual else {
        Issue.record("\(label)no file where \(expected.count) bytes were expected", sourceLocation: sourceLocation)
        return
    }
    let common = min(actual.count, expected.count)
    let firstDifference = (0..<common).first { actual[$0] != expected[$0] } ?? common
    let message =
        "\(label)\(actual.count) bytes (SHA-256 \(shortDigest(actual))) where \(expected.count) were expected "
        + "(SHA-256 \(shortDigest(expected))); first difference at offset \(firstDifference)"
    Issue.record("\(message)", sourceLocation: sourceLocation)
}

/// Whether `actual` holds exactly `expected` (a plain comparison, which never prints them).
func sameBytes(_ actual: [UInt8]?, _ expected: [UInt8]) -> Bool {
    actual == expected
}

/// The first 8 bytes of a SHA-256 digest in hex, enough to tell contents apart in a message.
private func shortDigest(_ bytes: [UInt8]) -> String {
    SHA256.hash(bytes).prefix(8).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// Gives `process` (not yet started) its standard input (`/dev/null` unless given) and
/// collects its standard output and error.
func collectOutput(of process: Process, input: Any = FileHandle.nullDevice) -> (PipeCollector, PipeCollector) {
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    return (PipeCollector(out), PipeCollector(err))
}
