import Foundation
import Transfer

/// `xfer demo`: a real transfer end to end on loopback, for a first look.
struct DemoCommand: Command {
    static let name = CommandName.demo
    /// What is sent without --size: large enough to show progress and a rate.
    static let defaultSize = 64 << 20
    /// What the naive sender writes without --size: the famous write-up's 1,000,000.
    static let naiveSize = 1_000_000

    private let arguments: Arguments
    private let size: Int
    private let naive: Bool

    init(_ arguments: Arguments) {
        self.arguments = arguments
        naive = arguments.flag("naive")
        size = arguments.integer("size") ?? (naive ? Self.naiveSize : Self.defaultSize)
    }

    func validate() throws(UsageError) {
        if let extra = arguments.positional.first { throw UsageError(message: "unexpected argument '\(extra)'") }
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
