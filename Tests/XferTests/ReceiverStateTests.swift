import Foundation
import Framing
import Testing

@testable import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's on-disk state on its own: the commit journal and kept partial files.
@Suite struct ReceiverStateTests {
    static func entry(_ n: Int, name: String? = nil) -> CommitJournal.Entry {
        CommitJournal.Entry(
            length: UInt64(n),
            digest: UInt64(n) &* 0x9E37_79B9_7F4A_7C15,
            name: name ?? "dir/file-\(n).bin",
            identity: FileIdentity(
                device: 1,
                inode: UInt64(n),
                size: UInt64(n),
                changeSeconds: n,
                changeNanoseconds: 7,
                modificationSeconds: n,
                modificationNanoseconds: 9
            )
        )
    }

    static func id(_ n: Int) -> TransferID {
        var digest = StreamDigest()
        digest.update(Array("id \(n)".utf8))
        return TransferID(high: digest.value, low: UInt64(n))
    }

    @Test func journalRemembersWithoutLoading() throws {
        let folder = TemporaryDirectory()
        let directory = try TargetDirectory(path: folder.path)
        let journal = try CommitJournal(directory: directory)
        for start in stride(from: 0, to: 20_000, by: 1000) {
            #expect(journal.record((start..<start + 1000).map { (Self.id($0), Self.entry($0)) }) == nil)
        }
        // A second journal on the same directory (a restart) finds them: nothing is loaded.
        let restarted = try CommitJournal(directory: directory)
        for n in [0, 1, 4999, 12_345, 19_999] {
            var expected = Self.entry(n)
            let found = restarted.entry(for: Self.id(n))
            expected.committedAt = found?.committedAt ?? -1
            #expect(found == expected, "entry \(n)")
        }
        #expect(restarted.entry(for: Self.id(20_000)) == nil)
        // The newest line of an ID wins.
        restarted.record([(Self.id(5), Self.entry(6, name: "renamed"))])
        #expect(restarted.entry(for: Self.id(5))?.name == "renamed")
    }

    @Test func bucketsStayBounded() throws {
        let folder = TemporaryDirectory()
        let directory = try TargetDirectory(path: folder.path)
        let journal = try CommitJournal(directory: directory)
        // Long names fill buckets fast: compaction must keep each under its limit.
        let long = String(repeating: "n", count: 3000)
        for start in stride(from: 0, to: 8000, by: 500) {
            journal.record((start..<start + 500).map { (Self.id($0), Self.entry($0, name: long + "\($0)")) })
        }
        let buckets = try FileManager.default.contentsOfDirectory(atPath: folder.file(".xfer/commits"))
        for bucket in buckets {
            let size = try FileManager.default.attributesOfItem(atPath: folder.file(".xfer/commits/\(bucket)"))[.size]
            #expect(
                (size as? Int ?? .max) <= CommitJournal.bucketLimit + 8 * 3100,
                "\(bucket): \(String(describing: size))"
            )
        }
        // The newest entries survive compaction.
        #expect(journal.entry(for: Self.id(7999))?.length == 7999)
    }

    @Test func tornLinesAreSkippedAndDoNotSpoilTheNext() throws {
        let folder = TemporaryDirectory()
        let directory = try TargetDirectory(path: folder.path)
        let journal = try CommitJournal(directory: directory)
        let id = Self.id(1)
        journal.record([(id, Self.entry(1))])
        // A crash in the middle of the next append of this bucket: a line without its end.
        let bucket = folder.file(".xfer/commits/" + String("\(id)".prefix(3)) + ".log")
        let handle = try #require(FileHandle(forWritingAtPath: bucket))
        handle.seekToEndOfFile()
        handle.write(Data("\(id) 99 ab 1 2 3".utf8))
        try handle.close()
        #expect(journal.entry(for: id)?.length == 1)
        journal.record([(id, Self.entry(2))])
        #expect(journal.entry(for: id)?.length == 2)
    }

    @Test func partialsExpireByAgeAndSizeButNotWhileWritten() throws {
        let folder = TemporaryDirectory()
        let directory = try TargetDirectory(path: folder.path)
        func plant(_ name: String, bytes: Int, age: Double) {
            let path = folder.file(".xfer/\(name)")
            #expect(FileManager.default.createFile(atPath: path, contents: Data(count: bytes)))
            let when = Date(timeIntervalSinceNow: -age)
            try? FileManager.default.setAttributes([.modificationDate: when], ofItemAtPath: path)
        }
        plant("a.part", bytes: 100, age: 10 * 86400)
        plant("b.part", bytes: 100, age: 3600)
        plant("c.part", bytes: 5000, age: 60)
        plant("d.part", bytes: 100, age: 20 * 86400)
        // d is being written: its lock is held.
        let writer = try FileDescriptor.open("d.part", in: directory.state, flags: O_RDWR)
        #expect(try writer.tryLockExclusive())
        let removed = directory.expirePartials(maximumAge: 7 * 86400, maximumBytes: 5100)
        // a is too old; then b (the oldest left) goes to bring the rest (d counts: it takes
        // space) down to 5100 bytes.
        #expect(Set(removed.map(\.name)) == ["a.part", "b.part"])
        #expect(Set(directory.partials().map(\.name)) == ["c.part", "d.part"])
        writer.close()
        #expect(directory.expirePartials(maximumAge: 7 * 86400, maximumBytes: .max).map(\.name) == ["d.part"])
    }
}
