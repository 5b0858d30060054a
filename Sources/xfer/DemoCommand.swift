import Transfer

#if canImport(Glibc)
    import Glibc
#endif

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
        let root: String
        do throws(SystemError) {
            root = try DemoFiles.scratchDirectory("xfer-demo")
        } catch {
            printError("xfer: demo cannot prepare a temporary directory: \(error)")
            return .localIO
        }
        let inbox = root + "/received"
        let original = root + "/demo.bin"
        defer { DemoFiles.removeTree(root) }
        do throws(SystemError) {
            try DemoFiles.makeDirectory(inbox)
            var bytes = [UInt8](repeating: 0, count: size)
            var generator = SystemRandomNumberGenerator()
            bytes.withUnsafeMutableBytes { raw in
                var index = 0
                while index + 8 <= raw.count {
                    raw.storeBytes(of: generator.next() as UInt64, toByteOffset: index, as: UInt64.self)
                    index += 8
                }
            }
            try DemoFiles.write(bytes, to: original)
        } catch {
            printError("xfer: demo cannot prepare \(root): \(error)")
            return .localIO
        }
        // The receiver is a separate process, as in real use: this same executable.
        let receiver: ChildReceiver
        do {
            receiver = try ChildReceiver(inbox: inbox)
        } catch {
            printError("xfer: demo: \(error.message)")
            return .localIO
        }
        let endpoint = receiver.endpoint
        printError("xfer demo: receiver (pid \(receiver.pid)) listening on \(endpoint), writing to \(inbox)")
        printError("xfer demo: sending demo.bin, \(formatBytes(UInt64(size))) of random bytes")
        let source = SendSource.file(path: original, name: "demo.bin")
        let reporter = SendReporter(json: false, quiet: false)
        let report = Sender(endpoint: endpoint).send([source]) { reporter.handle($0) }
        let code = ExitCode.verdict(report, lostSources: 0, allowNondurable: false)
        reporter.finish(report, exitCode: code)
        let receiverLog = receiver.finish()
        for line in receiverLog.split(separator: "\n") { printError("  receiver> \(line)") }
        let same = DemoFiles.sameContents(original, inbox + "/demo.bin")
        printError(
            "xfer demo: received file is \(same ? "byte-for-byte identical" : "DIFFERENT"); send exit status \(code.rawValue)"
        )
        return same ? code : .integrity
    }
}
