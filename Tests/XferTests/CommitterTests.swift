import Foundation
import Framing
import Synchronization
import Testing

@testable import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// The commit path through its system-call seam (``CommitSystem``): real files in a
/// temporary target, every call recorded in order, chosen calls failed with a chosen
/// errno. The order data sync → size check → rename → directory sync, and the wire code
/// and keep-or-drop of every failure, without strace (the Durability suite proves the same
/// of the real binary).
@Suite struct CommitterTests {
    /// The calls of one commit, as "fsync PATH", "syncfs", "sync_file_range PATH",
    /// "fstat PATH", "rename FROM -> TO", "fsync-dir PATH" (paths relative to the target),
    /// failing those in `failures` with their errno.
    final class Recorder: Sendable {
        let root: String
        let failures: [String: CInt]
        private let log = Mutex<[String]>([])
        var calls: [String] { log.withLock { $0 } }

        init(root: String, failures: [String: CInt] = [:]) {
            self.root = root
            self.failures = failures
        }

        func path(_ file: FileDescriptor) -> String {
            var buffer = [CChar](repeating: 0, count: 4096)
            let count = readlink("/proc/self/fd/\(file.unixDescriptor)", &buffer, buffer.count - 1)
            let path = count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
            if path == root { return "." }
            return path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
        }

        func call(_ description: String) throws(SystemError) {
            log.withLock { $0.append(description) }
            if let error = failures[description] { throw SystemError(description, errno: error) }
        }

        var system: CommitSystem {
            let real = CommitSystem.real
            return CommitSystem(
                syncFile: { file throws(SystemError) in
                    try self.call("fsync \(self.path(file))")
                    try real.syncFile(file)
                },
                syncFileSystem: { handle throws(SystemError) in
                    try self.call("syncfs")
                    try real.syncFileSystem(handle)
                },
                waitWriteback: { file throws(SystemError) in
                    try self.call("sync_file_range \(self.path(file))")
                    try real.waitWriteback(file)
                },
                status: { file throws(SystemError) in
                    try self.call("fstat \(self.path(file))")
                    return try real.status(file)
                },
                rename: { from, name, to, newName throws(SystemError) in
                    let source = self.path(from) == "." ? name : "\(self.path(from))/\(name)"
                    let target = self.path(to) == "." ? newName : "\(self.path(to))/\(newName)"
                    try self.call("rename \(source) -> \(target)")
                    try real.rename(from, name, to, newName)
                },
                syncDirectory: { directory throws(SystemError) in
                    try self.call("fsync-dir \(self.path(directory))")
                    try real.syncDirectory(directory)
                }
            )
        }
    }

    /// A target with verified streams waiting in `.xfer`, one per name, and a committer
    /// with its own record of durable directories (none known).
    struct Fixture {
        let work = TemporaryDirectory()
        let target: TargetDirectory
        let root: String
        var streams: [VerifiedStream] = []

        init(_ names: [String], bytes: Int = 1000) throws {
            root = URL(fileURLWithPath: work.path).resolvingSymlinksInPath().path
            target = try TargetDirectory(path: root)
            for (index, name) in names.enumerated() {
                let id = TransferID(high: 0, low: UInt64(index + 1))
                guard
                    case .opened(let partial) = try PartialFile.open(
                        TargetDirectory.partialName(id),
                        in: target.state,
                        keeping: 0,
                        window: 8 << 20
                    )
                else { throw SystemError("open", name, errno: EBUSY) }
                let content = (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
                var digest = StreamDigest()
                content.withUnsafeBytes { digest.update($0) }
                try content.withUnsafeBytes { try partial.append($0) }
                streams.append(
                    VerifiedStream(
                        offer: Offer(transferID: id, size: UInt64(bytes), name: name),
                        name: try WireName(validating: name),
                        partial: partial,
                        digest: digest.value
                    )
                )
            }
        }

        func partial(_ index: Int) -> String {
            ".xfer/" + TargetDirectory.partialName(TransferID(high: 0, low: UInt64(index + 1)))
        }

        func commit(_ recorder: Recorder) throws -> [CommitOutcome] {
            var committer = Committer(directory: target, syncHandle: try target.openSyncHandle(), umask: 0o022)
            committer.durable = DurableDirectories()
            committer.system = recorder.system
            return committer.commit(streams)
        }
    }

    @Test("One file: its data synced, its size checked, renamed, then its directory synced")
    func orderOfOneFile() throws {
        let fixture = try Fixture(["a.bin"])
        let recorder = Recorder(root: fixture.root)
        let outcomes = try fixture.commit(recorder)
        guard case .committed(let entry) = outcomes[0] else {
            Issue.record("not committed: \(outcomes)")
            return
        }
        #expect(entry.length == 1000)
        #expect(
            recorder.calls == [
                "fsync \(fixture.partial(0))", "fstat \(fixture.partial(0))",
                "rename \(fixture.partial(0)) -> a.bin", "fstat a.bin", "fsync-dir .",
            ]
        )
    }

    @Test(
        "Twelve files in new directories: one syncfs, every rename after it, every directory synced after its renames"
    )
    func orderOfABatch() throws {
        let names = (0..<12).map { "new/sub\($0 % 3)/f\($0)" }
        let fixture = try Fixture(names)
        let recorder = Recorder(root: fixture.root)
        let outcomes = try fixture.commit(recorder)
        #expect(outcomes.allSatisfy { if case .committed = $0 { true } else { false } }, "\(outcomes)")
        let calls = recorder.calls
        // syncfs may be refused for 50 ms after another's (then each file is fsynced).
        let dataSynced = calls.lastIndex {
            $0 == "syncfs" || $0.hasPrefix("sync_file_range") || $0.hasPrefix("fsync .xfer")
        }
        let firstRename = calls.firstIndex { $0.hasPrefix("rename") }
        #expect(dataSynced != nil && firstRename != nil && dataSynced! < firstRename!, "\(calls)")
        #expect(calls.filter { $0.hasPrefix("rename") }.count == 12)
        for directory in ["new/sub0", "new/sub1", "new/sub2", "new", "."] {
            let synced = calls.lastIndex(of: "fsync-dir \(directory)")
            #expect(synced != nil, "\(directory) not synced: \(calls)")
            // Every entry made in it (a file, or a directory on the way) exists by then.
            let lastEntry = calls.lastIndex {
                $0.hasPrefix("rename") && $0.contains("-> \(directory == "." ? "" : directory + "/")")
            }
            if let synced, let lastEntry { #expect(lastEntry < synced, "\(directory): \(calls)") }
        }
        // Each directory once.
        #expect(
            Set(calls.filter { $0.hasPrefix("fsync-dir") }).count == calls.filter { $0.hasPrefix("fsync-dir") }.count
        )
    }

    /// Which call fails, with which errno → the wire code, whether the partial is kept,
    /// and whether the rename happened.
    static let failures: [(call: String, errno: CInt, code: ErrorCode, kept: Bool, renamed: Bool)] = [
        ("fsync PART", EIO, .ioError, false, false),
        ("fsync PART", ENOSPC, .noSpace, false, false),
        ("fsync PART", EDQUOT, .noSpace, false, false),
        ("fstat PART", EIO, .ioError, true, false),
        ("rename PART -> a.bin", EIO, .ioError, true, false),
        ("rename PART -> a.bin", ENOSPC, .noSpace, true, false),
        ("fsync-dir .", EIO, .ioError, false, true),
        ("fsync-dir .", ENOSPC, .noSpace, false, true),
        ("fstat a.bin", EIO, .ioError, false, true),
    ]

    @Test(
        "Every failing call fails the stream with its wire code; the partial kept only where its bytes are still good",
        arguments: 0..<9
    )
    func failureMapping(case index: Int) throws {
        let expected = Self.failures[index]
        let fixture = try Fixture(["a.bin"])
        let call = expected.call.replacingOccurrences(of: "PART", with: fixture.partial(0))
        let recorder = Recorder(root: fixture.root, failures: [call: expected.errno])
        let outcomes = try fixture.commit(recorder)
        guard case .failed(let code, let message, let kept) = outcomes[0] else {
            Issue.record("\(expected.call) failing was committed anyway: \(recorder.calls)")
            return
        }
        #expect(code == expected.code, "\(expected.call) \(expected.errno): \(message)")
        #expect(kept == expected.kept, "\(expected.call): kept \(kept)")
        #expect(message.contains("a.bin"), "\(message)")
        // A rename is tried only once the data is synced and the size checked; the name
        // exists only if the rename was done (a later failure still withholds the ACK).
        let renameTried = recorder.calls.contains { $0.hasPrefix("rename") }
        #expect(renameTried == (expected.renamed || expected.call.hasPrefix("rename")), "\(recorder.calls)")
        #expect(fixture.work.exists("a.bin") == expected.renamed, "\(recorder.calls)")
    }

    @Test("A failed directory sync is forgotten: the next commit through that directory syncs it again")
    func failedDirectorySyncIsRetried() throws {
        let fixture = try Fixture(["d/a.bin", "d/b.bin"])
        let durable = DurableDirectories()
        var committer = Committer(
            directory: fixture.target,
            syncHandle: try fixture.target.openSyncHandle(),
            umask: 0o022
        )
        committer.durable = durable
        let failing = Recorder(root: fixture.root, failures: ["fsync-dir .": EIO])
        committer.system = failing.system
        let first = committer.commit([fixture.streams[0]])
        guard case .failed(.ioError, _, _) = first[0] else {
            Issue.record("\(first)")
            return
        }
        let again = Recorder(root: fixture.root)
        committer.system = again.system
        let second = committer.commit([fixture.streams[1]])
        guard case .committed = second[0] else {
            Issue.record("\(second)")
            return
        }
        // "d"'s entry in the target was not made durable by the failed sync: synced now.
        #expect(again.calls.contains("fsync-dir ."), "\(again.calls)")
    }

    @Test("A partial with another name (a hard link made in .xfer) is never renamed")
    func hardLinkedPartial() throws {
        let fixture = try Fixture(["a.bin"])
        #expect(link(fixture.root + "/" + fixture.partial(0), fixture.root + "/elsewhere") == 0)
        let recorder = Recorder(root: fixture.root)
        let outcomes = try fixture.commit(recorder)
        guard case .failed(.ioError, let message, false) = outcomes[0] else {
            Issue.record("\(outcomes)")
            return
        }
        #expect(message.contains("2 names"), "\(message)")
        #expect(!recorder.calls.contains { $0.hasPrefix("rename") })
    }

    @Test("A partial shorter than the stream (truncated by another process) is never renamed")
    func truncatedPartial() throws {
        let fixture = try Fixture(["a.bin"])
        #expect(ftruncate(fixture.streams[0].partial.file.unixDescriptor, 10) == 0)
        let recorder = Recorder(root: fixture.root)
        let outcomes = try fixture.commit(recorder)
        guard case .failed(.ioError, let message, false) = outcomes[0] else {
            Issue.record("\(outcomes)")
            return
        }
        #expect(message.contains("holds 10 bytes"), "\(message)")
        #expect(!recorder.calls.contains { $0.hasPrefix("rename") })
        #expect(!fixture.work.exists("a.bin"))
    }
}
