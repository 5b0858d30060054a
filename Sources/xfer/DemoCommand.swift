import Foundation
import Transfer

/// `xfer demo`: a real transfer end to end on loopback, for a first look.
struct DemoCommand {
    static let help = """
        OVERVIEW: Start a receiver (a child `xfer receive --once` process) in a temporary
        directory on 127.0.0.1, send it a file of random bytes over TCP, and show the
        receiver's confirmation and a byte-for-byte comparison.

        With --naive: show the failure xfer exists for. A naive sender writes 1,000,000
        bytes and closes without reading the receiver's greeting; Linux resets the
        connection and the receiver loses data the sender believes it sent. Then the same
        bytes with `xfer send --raw` and with `xfer send`, and what each can honestly claim.

        USAGE: xfer demo [--size BYTES] [--naive]

        OPTIONS:
          --size BYTES           Size of the file to send (default 67108864, 64 MiB;
                                 with --naive 1000000).
          --naive                Show plain TCP losing data, next to --raw and xfer's protocol.
          -h, --help             Show this help.
        """

    let size: Int
    let naive: Bool

    init(_ arguments: [String]) throws(UsageError) {
        let parsed = try Arguments(arguments, valueOptions: ["size"], flagOptions: ["naive"])
        if let extra = parsed.positional.first { throw UsageError(message: "unexpected argument '\(extra)'") }
        naive = parsed.flag("naive")
        guard let size = Int(parsed.value("size") ?? (naive ? "1000000" : "67108864")), size >= 0 else {
            throw UsageError(message: "'--size' takes a number of bytes")
        }
        self.size = size
    }

    func run() -> ExitCode {
        if naive { return NaiveDemo(size: size).run() }
        let files = FileManager.default
        let root = files.temporaryDirectory.appendingPathComponent("xfer-demo-\(getpid())")
        let inbox = root.appendingPathComponent("received")
        defer { try? files.removeItem(at: root) }
        do {
            try files.createDirectory(at: inbox, withIntermediateDirectories: true)
            var bytes = [UInt8](repeating: 0, count: size)
            var generator = SystemRandomNumberGenerator()
            bytes.withUnsafeMutableBytes { raw in
                var index = 0
                while index + 8 <= raw.count {
                    raw.storeBytes(of: generator.next() as UInt64, toByteOffset: index, as: UInt64.self)
                    index += 8
                }
            }
            try Data(bytes).write(to: root.appendingPathComponent("demo.bin"))
        } catch {
            printError("xfer: demo cannot prepare \(root.path): \(error)")
            return .localIO
        }
        // The receiver is a separate process, as in real use: this same executable.
        let child: ChildReceiver
        do {
            child = try ChildReceiver(inbox: inbox.path)
        } catch {
            printError("xfer: demo: \(error.message)")
            return .localIO
        }
        let (receiver, log, endpoint) = (child.process, child.log, child.endpoint)
        printError(
            "xfer demo: receiver (pid \(receiver.processIdentifier)) listening on \(endpoint), writing to \(inbox.path)"
        )
        printError("xfer demo: sending demo.bin, \(formatBytes(UInt64(size))) of random bytes")
        let source = SendSource.file(path: root.appendingPathComponent("demo.bin").path, name: "demo.bin")
        let reporter = SendReporter(json: false, quiet: false)
        let report = Sender(endpoint: endpoint).send([source]) { reporter.handle($0) }
        let code = ExitCode.verdict(report, lostSources: 0, allowNondurable: false)
        reporter.finish(report, exitCode: code)
        receiver.waitUntilExit()
        let receiverLog = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        for line in receiverLog.split(separator: "\n") { printError("  receiver> \(line)") }
        let same = files.contentsEqual(
            atPath: root.appendingPathComponent("demo.bin").path,
            andPath: inbox.appendingPathComponent("demo.bin").path
        )
        printError(
            "xfer demo: received file is \(same ? "byte-for-byte identical" : "DIFFERENT"); send exit status \(code.rawValue)"
        )
        return same ? code : .integrity
    }
}
