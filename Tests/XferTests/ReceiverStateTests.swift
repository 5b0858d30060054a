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

    /// The bucket files of a journal, by name.
    static func buckets(_ folder: TemporaryDirectory) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: folder.file(".xfer/commits")))
    }

    @Test func bucketsGrowWithTheJournal() throws {
        let folder = TemporaryDirectory()
        let directory = try TargetDirectory(path: folder.path)
        let journal = try CommitJournal(directory: directory)
        // A first transfer of 10,000 files: one bucket file per first hex digit, no more
        // (each file made is an inode allocated, as dear as the file received).
        for start in stride(from: 0, to: 10_000, by: 250) {
            #expect(journal.record((start..<start + 250).map { (Self.id($0), Self.entry($0)) }) == nil)
        }
        let first = try Self.buckets(folder)
        #expect(first.count <= 16 && first.allSatisfy { $0.count == 5 }, "\(first.sorted())")
        // 60,000 more: the one-digit buckets fill (about 2,600 lines each) and split.
        for start in stride(from: 10_000, to: 70_000, by: 1000) {
            #expect(journal.record((start..<start + 1000).map { (Self.id($0), Self.entry($0)) }) == nil)
        }
        let grown = try Self.buckets(folder)
        #expect(grown.contains { $0.count == 6 } && !grown.contains { $0.count == 5 }, "\(grown.sorted())")
        for bucket in grown {
            let size = try FileManager.default.attributesOfItem(atPath: folder.file(".xfer/commits/\(bucket)"))[.size]
            #expect((size as? Int ?? .max) <= CommitJournal.bucketLimit, "\(bucket)")
        }
        // Every commit is still found, by this journal and after a restart.
        let restarted = try CommitJournal(directory: directory)
        for n in [0, 1, 9_999, 10_000, 33_333, 69_999] {
            #expect(journal.entry(for: Self.id(n))?.length == UInt64(n), "entry \(n)")
            #expect(restarted.entry(for: Self.id(n))?.length == UInt64(n), "entry \(n) after a restart")
        }
        // A restarted journal appends to the split buckets, not to new one-digit ones.
        restarted.record([(Self.id(5), Self.entry(6, name: "again"))])
        #expect(try Self.buckets(folder) == grown)
        #expect(restarted.entry(for: Self.id(5))?.name == "again")
    }

    @Test func aSplitInterruptedByACrashIsFinishedAtStart() throws {
        let folder = TemporaryDirectory()
        let directory = try TargetDirectory(path: folder.path)
        let journal = try CommitJournal(directory: directory)
        // Three IDs with the same first digit.
        let ids = (0..<200).map { ($0, Self.id($0)) }
        let digit = "\(ids[0].1)".prefix(1)
        let same = ids.filter { "\($0.1)".prefix(1) == digit }.prefix(3).map { $0 }
        try #require(same.count == 3)
        journal.record(same.map { ($0.1, Self.entry($0.0)) })
        // The crash: the split wrote one deeper bucket, holding a newer line of the first
        // ID, and a half-written ".new" file, but never removed the one-digit bucket.
        let hex = "\(same[0].1)"
        let deeper = folder.file(".xfer/commits/" + hex.prefix(2) + ".log")
        var newer = Self.entry(same[0].0, name: "newer")
        newer.committedAt = Int(time(nil))
        let line =
            "\(hex) \(newer.length) \(String(newer.digest, radix: 16)) 1 \(newer.identity.inode) "
            + "\(newer.identity.changeSeconds) 7 \(newer.identity.modificationSeconds) 9 \(newer.committedAt) newer\n"
        #expect(FileManager.default.createFile(atPath: deeper, contents: Data(line.utf8)))
        #expect(
            FileManager.default.createFile(
                atPath: folder.file(".xfer/commits/\(digit)0.log.new"),
                contents: Data("x".utf8)
            )
        )
        let restarted = try CommitJournal(directory: directory)
        // The one-digit bucket's lines moved down (the deeper line, newer, still wins), the
        // old bucket and the stray file are gone.
        let names = try Self.buckets(folder)
        #expect(!names.contains("\(digit).log") && !names.contains { $0.hasSuffix(".new") }, "\(names.sorted())")
        #expect(restarted.entry(for: same[0].1)?.name == "newer")
        for (n, id) in same.dropFirst() {
            #expect(restarted.entry(for: id)?.length == UInt64(n))
        }
    }

    @Test func aBucketThatCannotBeReadWholeIsNeverRewritten() throws {
        let folder = TemporaryDirectory()
        let directory = try TargetDirectory(path: folder.path)
        let journal = try CommitJournal(directory: directory)
        let id = Self.id(1)
        // A bucket grown past what is ever read (say, its compactions kept failing).
        let bucket = folder.file(".xfer/commits/" + String("\(id)".prefix(1)) + ".log")
        let filler = Data(repeating: 0x41, count: 1023) + Data([0x0A])
        #expect(FileManager.default.createFile(atPath: bucket, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: bucket))
        for _ in 0...(CommitJournal.readLimit / filler.count) { handle.write(filler) }
        try handle.close()
        let before = try #require(try FileManager.default.attributesOfItem(atPath: bucket)[.size] as? Int)
        // The append takes it past the limit; its compaction cannot read it whole and must
        // say so, not rewrite the bucket from the part it read.
        #expect(journal.record([(id, Self.entry(1))]) != nil)
        let after = try #require(try FileManager.default.attributesOfItem(atPath: bucket)[.size] as? Int)
        #expect(after > before, "the bucket was rewritten: \(before) → \(after) bytes")
    }

    @Test func tornLinesAreSkippedAndDoNotSpoilTheNext() throws {
        let folder = TemporaryDirectory()
        let directory = try TargetDirectory(path: folder.path)
        let journal = try CommitJournal(directory: directory)
        let id = Self.id(1)
        journal.record([(id, Self.entry(1))])
        // A crash in the middle of the next append of this bucket: a line without its end.
        let bucket = folder.file(".xfer/commits/" + String("\(id)".prefix(1)) + ".log")
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
