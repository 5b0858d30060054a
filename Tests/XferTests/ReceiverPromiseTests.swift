import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// What the receiver promises beyond framing: names are judged as the bytes the kernel
    /// will see, "already committed" is bound to the file it produced, ACKs keep offer order,
    /// what cannot be committed is refused at OFFER time, and one directory has one receiver.
    @Suite struct ReceiverPromises {
        // MARK: Names are bytes

        /// One name sent by a raw client, and what a receiver that splits names as bytes on
        /// 0x2F must do with it.
        struct NameCase: Sendable {
            enum Outcome: Sendable {
                /// ANSWER refuse, code badName; nothing written anywhere.
                case refused
                /// Accepted, ACKed, and the file is at exactly the name's bytes in the target.
                case accepted
                /// Either of the two (SPEC.md does not say).
                case refusedOrAccepted
            }

            var name: String
            var outcome: Outcome
            var why: String
        }

        static let nameCases: [NameCase] = [
            NameCase(name: "../\u{301}x", outcome: .refused, why: "'..', then a combining mark after '/'"),
            NameCase(name: "../\u{200D}x", outcome: .refused, why: "'..', then a ZWJ after '/'"),
            NameCase(name: "./\u{301}x", outcome: .refused, why: "'.', then a combining mark after '/'"),
            NameCase(name: "lnk/\u{301}x", outcome: .refused, why: "through the planted link, combining mark"),
            NameCase(name: "lnk/\u{200D}/authorized_keys", outcome: .refused, why: "through the planted link, ZWJ"),
            NameCase(name: ".xfer/\u{301}x", outcome: .refused, why: "into the state directory"),
            NameCase(name: ".XFER/x", outcome: .refused, why: "reserved component, upper case"),
            NameCase(name: ".Xfer/x", outcome: .refused, why: "reserved component, mixed case"),
            NameCase(name: "x\u{202E}txt.exe", outcome: .refused, why: "bidi override U+202E"),
            NameCase(name: "\u{202A}embedding", outcome: .refused, why: "bidi embedding U+202A"),
            NameCase(name: "iso\u{2066}late", outcome: .refused, why: "bidi isolate U+2066"),
            NameCase(name: "pop\u{2069}", outcome: .refused, why: "bidi pop isolate U+2069"),
            NameCase(name: "c1\u{85}next-line", outcome: .refused, why: "C1 control U+0085"),
            NameCase(name: "c1\u{9B}csi", outcome: .refused, why: "C1 control U+009B"),
            NameCase(name: "caf\u{E9}", outcome: .accepted, why: "NFC twin"),
            NameCase(name: "cafe\u{301}", outcome: .accepted, why: "NFD twin"),
            NameCase(name: "dir/\u{301}file", outcome: .accepted, why: "combining mark starting a component"),
            NameCase(name: "..\u{301}/x", outcome: .refusedOrAccepted, why: "'..' with a combining mark is not '..'"),
        ]

        @Test("Hostile names are judged as bytes split on '/': refused badName, twins land at their bytes")
        func namesAreBytes() {
            let planted = PlantedTarget()
            let receiver = ReceiverProcess(directory: planted.target)
            let targetBefore = planted.targetEntries()
            let besideBefore = planted.besideTarget()
            var conversation = greeting()
            for (index, entry) in Self.nameCases.enumerated() {
                conversation += stream(nameID(index), name: entry.name, bytes: payload(index))
            }
            conversation += encoded(.goodbye)
            let client = RawClient(port: receiver.port)
            client.send(conversation)
            let records = client.records()
            #expect(records.last == .goodbye, "the conversation should end normally: \(describe(records))")
            var allowed = targetBefore
            for (index, entry) in Self.nameCases.enumerated() {
                let id = nameID(index)
                let label = "\(shown(Array(entry.name.utf8))) (\(entry.why))"
                guard let answer = findAnswer(in: records, for: id) else {
                    Issue.record("no ANSWER for \(label)")
                    continue
                }
                let mayAccept = entry.outcome != .refused
                let mayRefuse = entry.outcome != .accepted
                if answer.decision == .refuse && mayRefuse {
                    #expect(answer.code == .badName, "\(label): refused with \(answer.code): \(answer.message)")
                } else if answer.decision == .accept && mayAccept {
                    let bytes = Array(entry.name.utf8)
                    #expect(
                        findAck(in: records, for: id) != nil,
                        "\(label) was accepted but not ACKed: \(describe(records))"
                    )
                    #expect(
                        fileContents(Array(planted.target.utf8) + [0x2F] + bytes) == payload(index),
                        "\(label) should be at exactly its bytes inside the target"
                    )
                    allowed.formUnion(prefixes(bytes))
                } else {
                    Issue.record("\(label): answered \(answer.decision) \(answer.code) '\(answer.message)'")
                }
            }
            let appearedInTarget = planted.targetEntries().subtracting(allowed).map(shown).sorted()
            #expect(appearedInTarget == [])
            let changedOutsideTarget = planted.besideTarget().symmetricDifference(besideBefore).map(shown).sorted()
            #expect(changedOutsideTarget == [])
            let strangersInStateDirectory = planted.stateStrangers().map(shown).sorted()
            #expect(strangersInStateDirectory == [])
            expectServing(receiver, into: planted.target)
        }

        @Test("Overlong and invalid UTF-8 in a name end the connection with a fatal ERROR; nothing is written")
        func namesThatAreNotUTF8() {
            let planted = PlantedTarget()
            let receiver = ReceiverProcess(directory: planted.target)
            let targetBefore = planted.targetEntries()
            let besideBefore = planted.besideTarget()
            // The hand-built OFFER is byte for byte what the encoder makes of a valid name.
            let plain = TransferID(high: 0x0FF, low: 0)
            #expect(
                rawOffer(plain, size: 4, name: Array("plain/name".utf8), awaitAnswer: true)
                    == encoded(.offer(Offer(transferID: plain, size: 4, name: "plain/name", awaitAnswer: true)))
            )
            let names: [(bytes: [UInt8], why: String)] = [
                (Array("..".utf8) + [0xC0, 0xAF] + Array("x".utf8), "overlong '/' (C0 AF)"),
                (Array("lnk".utf8) + [0xC0, 0xAF] + Array("x".utf8), "overlong '/' after the planted link"),
                (Array("bad".utf8) + [0xFF] + Array("name".utf8), "byte FF"),
            ]
            for (index, name) in names.enumerated() {
                let id = TransferID(high: 0x0FF, low: UInt64(index + 1))
                let client = RawClient(port: receiver.port)
                client.send(greeting() + rawOffer(id, size: 4, name: name.bytes, awaitAnswer: true) + encoded(.goodbye))
                let records = client.records()
                #expect(findAnswer(in: records, for: id) == nil, "\(name.why): answered: \(describe(records))")
                guard case .error(let error)? = records.last else {
                    Issue.record("\(name.why): expected a fatal ERROR, got \(describe(records))")
                    continue
                }
                #expect(error.fatal, "\(name.why): \(error)")
                #expect(error.code != .none, "\(name.why): \(error)")
            }
            let appearedInTarget = planted.targetEntries().symmetricDifference(targetBefore).map(shown).sorted()
            #expect(appearedInTarget == [])
            let changedOutsideTarget = planted.besideTarget().symmetricDifference(besideBefore).map(shown).sorted()
            #expect(changedOutsideTarget == [])
            let strangersInStateDirectory = planted.stateStrangers().map(shown).sorted()
            #expect(strangersInStateDirectory == [])
            expectServing(receiver, into: planted.target)
        }

        // MARK: Already committed means this file

        @Test("v1, v2, v1 again under one name: the receiver ends with v1's bytes")
        func committedBoundToTheFile() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let v1 = source.makeFile("v1/x.bin", count: 64 << 10)
            let v2 = source.makeFile("v2/x.bin", count: 64 << 10)
            let receiver = ReceiverProcess(directory: target.path)
            func held() -> String {
                switch target.contents("x.bin") {
                case v1: return "v1"
                case v2: return "v2"
                case let other?: return "neither v1 nor v2 (\(other.count) bytes)"
                case nil: return "no x.bin"
                }
            }
            for (step, version) in ["v1", "v2", "v1"].enumerated() {
                let result = xfer(["send", source.file("\(version)/x.bin"), receiver.address])
                #expect(result.status == 0, "send \(step + 1), \(version): \(result.stderr)")
                #expect(held() == version, "after send \(step + 1), of \(version)")
            }
        }

        @Test("A committed copy edited in place, same length: sending the source again restores it")
        func committedCopyEdited() throws {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("edited.bin", count: 64 << 10)
            let receiver = ReceiverProcess(directory: target.path)
            let first = xfer(["send", source.file("edited.bin"), receiver.address])
            #expect(first.status == 0, "\(first.stderr)")
            let handle = try #require(FileHandle(forUpdatingAtPath: target.file("edited.bin")))
            try handle.seek(toOffset: 1000)
            try handle.write(contentsOf: Data(bytes[1000..<1016].map { ~$0 }))
            try handle.close()
            let edited = target.contents("edited.bin")
            let editedInPlace = edited != bytes && edited?.count == bytes.count
            #expect(editedInPlace, "the edit keeps the length and changes bytes")
            let second = xfer(["send", source.file("edited.bin"), receiver.address])
            #expect(second.status == 0, "\(second.stderr)")
            let restored = target.contents("edited.bin") == bytes
            #expect(restored, "the receiver still holds the edited copy")
        }

        // MARK: ACK order

        @Test("ACKs keep offer order, an already-committed ACK included")
        func acksInOfferOrder() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let a = TransferID(high: 0xAC0, low: 0xA)
            let b = TransferID(high: 0xAC0, low: 0xB)
            let aBytes = Array("first offered, new\n".utf8)
            let bBytes = Array("committed on an earlier connection\n".utf8)
            let earlier = RawClient(port: receiver.port)
            earlier.send(greeting() + stream(b, name: "b.txt", bytes: bBytes) + encoded(.goodbye))
            #expect(findAck(in: earlier.records(), for: b) != nil, "B is committed first")
            expectSameBytes(target.contents("b.txt"), bBytes)
            // One send(): A (new) then B (already committed), both pipelined.
            let client = RawClient(port: receiver.port)
            client.send(
                greeting() + stream(a, name: "a.txt", bytes: aBytes) + stream(b, name: "b.txt", bytes: bBytes)
                    + encoded(.goodbye)
            )
            let records = client.records()
            #expect(records.last == .goodbye, "\(describe(records))")
            #expect(findAnswer(in: records, for: a)?.decision == .accept)
            #expect(findAnswer(in: records, for: b)?.decision == .alreadyCommitted)
            let ackA = records.firstIndex { if case .ack(let ack) = $0 { ack.transferID == a } else { false } }
            let ackB = records.firstIndex { if case .ack(let ack) = $0 { ack.transferID == b } else { false } }
            #expect(ackA != nil && ackB != nil, "both ACKed: \(describe(records))")
            if let ackA, let ackB {
                #expect(ackA < ackB, "B's ACK (record \(ackB)) came before A's (record \(ackA)): \(describe(records))")
            }
            expectSameBytes(target.contents("a.txt"), aBytes)
            expectSameBytes(target.contents("b.txt"), bBytes)
        }

        // MARK: Refused at OFFER time

        @Test("A name that is an existing directory is refused at OFFER time, naming it")
        func existingDirectoryRefusedAtOffer() throws {
            let target = TemporaryDirectory()
            try FileManager.default.createDirectory(
                atPath: target.file("existing-dir"),
                withIntermediateDirectories: false
            )
            let receiver = ReceiverProcess(directory: target.path)
            expectRefusedAtOffer("existing-dir", receiver)
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: target.file("existing-dir"), isDirectory: &isDirectory))
            #expect(isDirectory.boolValue)
            HostilePeers.expectStillServing(receiver, target)
        }

        @Test(
            "A parent directory on another mount is refused at OFFER time (rename would fail EXDEV)",
            .enabled(if: tmpfsMounts, "needs root and tmpfs mounts")
        )
        func otherMountRefusedAtOffer() throws {
            let target = TemporaryDirectory()
            let mountPoint = target.file("mnt")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
            let mounted = shell("mount -t tmpfs -o size=1m tmpfs '\(mountPoint)'")
            try #require(mounted.status == 0, "mount failed: \(mounted.stderr)")
            defer {
                shell("umount -l '\(mountPoint)'")
                withExtendedLifetime(target) {}
            }
            let receiver = ReceiverProcess(directory: target.path)
            expectRefusedAtOffer("mnt/file.bin", receiver)
            #expect(!target.exists("mnt/file.bin"))
            HostilePeers.expectStillServing(receiver, target)
        }

        @Test(
            "A read-only parent directory is refused at OFFER time",
            .enabled(if: tmpfsMounts, "needs root and tmpfs mounts")
        )
        func readOnlyParentRefusedAtOffer() throws {
            let target = TemporaryDirectory()
            let mountPoint = target.file("ro")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
            let mounted = shell("mount -t tmpfs -o ro,size=1m tmpfs '\(mountPoint)'")
            try #require(mounted.status == 0, "mount failed: \(mounted.stderr)")
            defer {
                shell("umount -l '\(mountPoint)'")
                withExtendedLifetime(target) {}
            }
            let receiver = ReceiverProcess(directory: target.path)
            expectRefusedAtOffer("ro/file.bin", receiver)
            #expect(!target.exists("ro/file.bin"))
            HostilePeers.expectStillServing(receiver, target)
        }

        @Test(
            "A bind mount inside the target (same file system, another mount) is refused at OFFER time",
            .enabled(if: tmpfsMounts, "needs root and mounts")
        )
        func bindMountRefusedAtOffer() throws {
            let target = TemporaryDirectory()
            let mountPoint = target.file("bound")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
            // Same st_dev as the target: only the mount ID tells that rename would fail EXDEV.
            let mounted = shell("mount --bind '\(mountPoint)' '\(mountPoint)'")
            try #require(mounted.status == 0, "mount failed: \(mounted.stderr)")
            defer {
                shell("umount -l '\(mountPoint)'")
                withExtendedLifetime(target) {}
            }
            let receiver = ReceiverProcess(directory: target.path)
            expectRefusedAtOffer("bound/file.bin", receiver)
            #expect(!target.exists("bound/file.bin"))
            HostilePeers.expectStillServing(receiver, target)
        }

        @Test(
            "An immutable parent directory (unwritable even for root) is refused at OFFER time",
            .enabled(if: getuid() == 0 && commandExists("chattr"), "needs root and chattr")
        )
        func immutableParentRefusedAtOffer() throws {
            let target = TemporaryDirectory()
            let locked = target.file("frozen")
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
            let frozen = shell("chattr +i '\(locked)'")
            try #require(frozen.status == 0, "chattr failed: \(frozen.stderr)")
            defer {
                shell("chattr -i '\(locked)'")
                withExtendedLifetime(target) {}
            }
            let receiver = ReceiverProcess(directory: target.path)
            expectRefusedAtOffer("frozen/file.bin", receiver)
            expectRefusedAtOffer("frozen/new/file.bin", receiver)
            #expect(!target.exists("frozen/file.bin"))
            HostilePeers.expectStillServing(receiver, target)
        }

        // MARK: One receiver per directory

        @Test("A second receiver on the same directory exits 74, naming the first one's process ID")
        func secondReceiverRefused() {
            let target = TemporaryDirectory()
            let first = ReceiverProcess(directory: target.path)
            let pid = first.xfer.process.processIdentifier
            let second = XferProcess(["receive", "--dir", target.path, "--listen", "127.0.0.1:0"])
            // Its exit is the signal to wait for, with a deadline.
            let process = second.process
            let exited = DispatchSemaphore(value: 0)
            Thread {
                process.waitUntilExit()
                exited.signal()
            }.start()
            if exited.wait(timeout: .now() + 5) == .timedOut {
                second.kill()
                exited.wait()
                Issue.record("a second receiver on \(target.path) still ran after 5 s: \(second.stderr.waitForEnd())")
            } else {
                let message = second.stderr.waitForEnd()
                #expect(process.terminationStatus == 74, "\(message)")
                let numbers = message.split { !$0.isNumber }
                #expect(numbers.contains(Substring(String(pid))), "stderr does not name process \(pid): \(message)")
            }
            #expect(first.xfer.process.isRunning)
            HostilePeers.expectStillServing(first, target)
        }

        @Test(
            "A .part file locked by another process is not written: the offer is refused busy",
            .enabled(if: commandExists("flock"))
        )
        func lockedPartialRefusedBusy() throws {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let id = TransferID(high: 0xF10C, low: 1)
            let part = target.file(".xfer/\(id).part")
            let kept = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            try Data(kept).write(to: URL(fileURLWithPath: part))
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            holder.arguments = ["flock", "-x", part, "-c", "echo locked; read line"]
            let out = Pipe()
            let input = Pipe()
            holder.standardOutput = out
            holder.standardInput = input
            holder.standardError = FileHandle.nullDevice
            let said = PipeCollector(out)
            try holder.run()
            defer {
                // End of input ends its shell, which releases the lock; the kill is for flock itself.
                try? input.fileHandleForWriting.close()
                if holder.isRunning { kill(holder.processIdentifier, SIGTERM) }
                holder.waitUntilExit()
            }
            try #require(said.wait(for: "locked", seconds: 10), "flock did not take the lock: \(said.text)")
            let client = HostilePeers.greeted(receiver.port)
            client.send(.offer(Offer(transferID: id, size: 4, name: "locked.bin", awaitAnswer: true)))
            client.send(.goodbye)
            let records = client.records()
            let answer = findAnswer(in: records, for: id)
            #expect(answer?.decision == .refuse && answer?.code == .busy, "\(describe(records))")
            let now = target.contents(".xfer/\(id).part")
            let untouched = now == kept
            #expect(untouched, "the locked .part file was changed: now \(now?.count ?? 0) bytes, was \(kept.count)")
            #expect(!target.exists("locked.bin"))
            HostilePeers.expectStillServing(receiver, target)
        }

        /// Offers `name` with `awaitAnswer` and no DATA: the ANSWER must be a refusal that
        /// names the file, for a reason other than an internal error.
        private func expectRefusedAtOffer(
            _ name: String,
            _ receiver: ReceiverProcess,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let id = TransferID(high: 0x1A7E, low: UInt64(name.utf8.count))
            let client = HostilePeers.greeted(receiver.port)
            client.send(.offer(Offer(transferID: id, size: 4, name: name, awaitAnswer: true)))
            client.send(.goodbye)
            let records = client.records()
            guard let answer = findAnswer(in: records, for: id) else {
                Issue.record("no ANSWER for '\(name)': \(describe(records))", sourceLocation: sourceLocation)
                return
            }
            #expect(answer.decision == .refuse, "'\(name)': \(describe(records))", sourceLocation: sourceLocation)
            guard answer.decision == .refuse else { return }
            #expect(
                answer.code != .internalError && answer.code != .none,
                "'\(name)': \(answer)",
                sourceLocation: sourceLocation
            )
            #expect(answer.message.contains(name), "message: \(answer.message)", sourceLocation: sourceLocation)
            #expect(records.last == .goodbye, "\(describe(records))", sourceLocation: sourceLocation)
        }
    }
}

// MARK: - Helpers

/// Whether tmpfs can be mounted here (root, and a kernel that lets us).
private let tmpfsMounts: Bool = {
    guard getuid() == 0 else {
        print("ReceiverPromises: not root, so the mount tests are skipped")
        return false
    }
    let probe = TemporaryDirectory()
    let result = shell("mount -t tmpfs -o size=1m tmpfs '\(probe.path)'")
    guard result.status == 0 else {
        print("ReceiverPromises: cannot mount tmpfs (\(result.stderr)), so the mount tests are skipped")
        return false
    }
    shell("umount '\(probe.path)'")
    return true
}()

/// A target directory inside a parent the test owns, with a link `lnk` planted in it that
/// points at a sibling directory outside the target.
private final class PlantedTarget {
    let root = TemporaryDirectory()
    var target: String { root.file("target") }
    var outside: String { root.file("outside") }

    init() {
        mkdir(root.file("target"), 0o755)
        mkdir(root.file("outside"), 0o755)
        _ = FileManager.default.createFile(atPath: root.file("outside/keep.txt"), contents: Data("keep\n".utf8))
        symlink(root.file("outside"), root.file("target/lnk"))
    }

    /// Everything in the target but its state directory.
    func targetEntries() -> Set<[UInt8]> {
        tree(target).filter { firstComponent($0) != Array(".xfer".utf8) }
    }

    /// Everything beside the target in its parent, the outside directory included.
    func besideTarget() -> Set<[UInt8]> {
        tree(root.path).filter { firstComponent($0) != Array("target".utf8) }
    }

    /// Entries of the target's .xfer/ that are not the receiver's own files.
    func stateStrangers() -> [[UInt8]] {
        tree(target + "/.xfer").filter { name in
            if name == Array("commits".utf8) || name == Array("lock".utf8) { return false }
            // The commit journal's buckets: commits/P.log, one to three lower-case hex digits.
            let bucket = Array("commits/".utf8)
            if name.count >= bucket.count + 5, name.count <= bucket.count + 7,
                Array(name.prefix(bucket.count)) == bucket,
                Array(name.suffix(4)) == Array(".log".utf8),
                name.dropFirst(bucket.count).dropLast(4).allSatisfy({
                    (0x30...0x39).contains($0) || (0x61...0x66).contains($0)
                })
            {
                return false
            }
            let suffix = Array(".part".utf8)
            guard name.count == 32 + suffix.count, Array(name.suffix(suffix.count)) == suffix else { return true }
            return !name.prefix(32).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
    }
}

/// Every entry beneath `path`, as relative paths of raw bytes (names may not be UTF-8, and
/// Swift's String equality would make NFC and NFD twins one). Links are listed, not followed.
private func tree(_ path: String) -> Set<[UInt8]> {
    var result: Set<[UInt8]> = []
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 { walk(fd, prefix: [], into: &result) }
    return result
}

/// Lists the directory `fd` (which it closes) and those beneath it.
private func walk(_ fd: CInt, prefix: [UInt8], into result: inout Set<[UInt8]>) {
    guard let stream = fdopendir(fd) else {
        close(fd)
        return
    }
    defer { closedir(stream) }
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
        if name == [0x2E] || name == [0x2E, 0x2E] { continue }
        let path = prefix.isEmpty ? name : prefix + [0x2F] + name
        result.insert(path)
        var info = stat()
        guard fstatat(dirfd(stream), cPath(name), &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFDIR
        else { continue }
        let child = openat(dirfd(stream), cPath(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if child >= 0 { walk(child, prefix: path, into: &result) }
    }
}

/// The contents of the file at a path of raw bytes, without following a final link.
private func fileContents(_ path: [UInt8]) -> [UInt8]? {
    let fd = open(cPath(path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    let capacity = buffer.count
    while true {
        let count = read(fd, &buffer, capacity)
        if count <= 0 { return result }
        result += buffer[..<count]
    }
}

/// The bytes of a path up to its first `/`.
private func firstComponent(_ path: [UInt8]) -> [UInt8] { Array(path.prefix { $0 != 0x2F }) }

/// A NUL-terminated C path from raw bytes.
private func cPath(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

/// Every leading part of a `/`-separated byte path: `a`, `a/b`, `a/b/c`.
private func prefixes(_ path: [UInt8]) -> Set<[UInt8]> {
    var result: Set<[UInt8]> = []
    for (index, byte) in path.enumerated() where byte == 0x2F { result.insert(Array(path[..<index])) }
    result.insert(path)
    return result
}

/// Bytes for people: printable ASCII as it is, anything else as \xHH.
private func shown(_ bytes: [UInt8]) -> String {
    "'"
        + bytes.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }
        .joined() + "'"
}

private func nameID(_ index: Int) -> TransferID { TransferID(high: 0x4E4D, low: UInt64(index)) }

private func payload(_ index: Int) -> [UInt8] { Array("contents of name case \(index)\n".utf8) }

private func encoded(_ record: Record) -> [UInt8] {
    var bytes: [UInt8] = []
    try! RecordEncoder.append(record, to: &bytes)
    return bytes
}

/// Preamble and HELLO, as a client starts.
private func greeting() -> [UInt8] { Preamble().bytes + encoded(.hello(Hello())) }

/// A pipelined stream: OFFER without awaitAnswer, its DATA, and its END.
private func stream(_ id: TransferID, name: String, bytes: [UInt8]) -> [UInt8] {
    var digest = StreamDigest()
    digest.update(bytes)
    return encoded(.offer(Offer(transferID: id, size: UInt64(bytes.count), name: name)))
        + encoded(.data(bytes[...]))
        + encoded(.end(End(totalLength: UInt64(bytes.count), digest: digest.value)))
}

/// An OFFER built byte by byte (SPEC.md §4, §6.2), so that its name can be bytes that are
/// not UTF-8, which `Offer.name`, a String, cannot hold. Mode 0o644, mtime 0, offset 0.
private func rawOffer(_ id: TransferID, size: UInt64, name: [UInt8], awaitAnswer: Bool) -> [UInt8] {
    var payload = id.bytes
    payload += bigEndian(size) + bigEndian(UInt64(0)) + bigEndian(UInt32(0o644))
    payload += bigEndian(Int64(0)) + bigEndian(UInt32(0))
    payload += bigEndian(UInt16(name.count)) + name
    let header =
        [RecordKind.offer.rawValue, awaitAnswer ? Offer.Flags.awaitAnswer : 0] + bigEndian(UInt32(payload.count))
    // CRC-32C over header bytes 0–5, then the payload.
    return header + bigEndian(CRC32C.checksum(header + payload)) + payload
}

private func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

private func findAnswer(in records: [Record], for id: TransferID) -> Answer? {
    for case .answer(let answer) in records where answer.transferID == id { return answer }
    return nil
}

private func findAck(in records: [Record], for id: TransferID) -> Ack? {
    for case .ack(let ack) in records where ack.transferID == id { return ack }
    return nil
}

/// The server's records, one short line each, for failure messages.
private func describe(_ records: [Record]) -> String {
    records.map { record -> String in
        switch record {
        case .answer(let answer):
            let why = answer.decision == .refuse ? " \(answer.code) '\(answer.message)'" : ""
            return "ANSWER \(answer.transferID) \(answer.decision)\(why)"
        case .ack(let ack): return "ACK \(ack.transferID) \(ack.committedLength) B"
        case .error(let error):
            return "ERROR\(error.fatal ? " fatal" : "") \(error.transferID) \(error.code) '\(error.message)'"
        default: return "\(record.kind)"
        }
    }.joined(separator: "; ")
}

/// Afterwards, a normal transfer into `target` still works.
private func expectServing(
    _ receiver: ReceiverProcess,
    into target: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let source = TemporaryDirectory()
    let bytes = source.makeFile("normal.bin", count: 300_000)
    let result = xfer(["send", source.file("normal.bin"), receiver.address])
    #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
    let arrived = FileManager.default.contents(atPath: target + "/normal.bin").map { [UInt8]($0) } == bytes
    #expect(arrived, "normal.bin did not arrive intact", sourceLocation: sourceLocation)
}
