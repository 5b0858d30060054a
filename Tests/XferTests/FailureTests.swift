import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Whether this machine lets us mount a small tmpfs (root in a sandbox that allows it).
let canMountTmpfs: Bool = {
    let probe = TemporaryDirectory()
    guard shell("mount -t tmpfs -o size=1m tmpfs '\(probe.path)'").status == 0 else { return false }
    shell("umount '\(probe.path)'")
    return true
}()

extension Integration {
    /// What happens when a side dies or the disk says no.
    @Suite struct Failures {
        @Test("Receiver killed mid-transfer: the sender fails with 70 and no final file appears")
        func receiverKilled() {
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let sender = XferProcess(["send", "--json", "--name", "stream.bin", "-", receiver.address])
            let chunk = Data(repeating: 0x5A, count: 1 << 20)
            for _ in 0..<8 { try? sender.stdin.fileHandleForWriting.write(contentsOf: chunk) }
            // Readiness: the sender has put all 8 MiB on the wire.
            #expect(sender.stdout.wait { jsonEvents($0).contains { ($0["sent"] as? Int ?? 0) >= 8 << 20 } })
            receiver.xfer.kill(SIGKILL)
            _ = receiver.xfer.finish()
            try? sender.stdin.fileHandleForWriting.write(contentsOf: chunk)
            let result = sender.finish()
            #expect(result.status == 70, "\(result.stderr)")
            #expect(result.stderr.contains("connection lost before confirmation"))
            #expect(!target.exists("stream.bin"))
        }

        @Test("Sender killed mid-transfer: the receiver keeps serving and shows no final file")
        func senderKilled() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path)
            let sender = XferProcess(["send", "--json", "--name", "half.bin", "-", receiver.address])
            try? sender.stdin.fileHandleForWriting.write(contentsOf: Data(repeating: 1, count: 4 << 20))
            #expect(sender.stdout.wait { jsonEvents($0).contains { ($0["sent"] as? Int ?? 0) >= 4 << 20 } })
            sender.kill(SIGKILL)
            _ = sender.finish()
            #expect(receiver.xfer.stderr.wait(for: "ended early"), "\(receiver.log)")
            #expect(!target.exists("half.bin"))
            let bytes = source.makeFile("after.bin", count: 100_000)
            let result = xfer(["send", source.file("after.bin"), receiver.address])
            #expect(result.status == 0, "\(result.stderr)")
            expectSameBytes(target.contents("after.bin"), bytes)
        }

        @Test(
            "Disk full: a declared size that does not fit is refused before writing (71)",
            .enabled(if: canMountTmpfs)
        )
        func declaredSizeDoesNotFit() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            #expect(shell("mount -t tmpfs -o size=2m tmpfs '\(target.path)'").status == 0)
            defer { shell("umount -l '\(target.path)'") }
            source.makeFile("big.bin", count: 4 << 20)
            let small = source.makeFile("small.bin", count: 1000)
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(["send", source.file("big.bin"), source.file("small.bin"), receiver.address])
            #expect(result.status == 71, "\(result.stderr)")
            #expect(result.stderr.contains("big.bin"))
            #expect(result.stderr.contains("no space"))
            #expect(!target.exists("big.bin"))
            expectSameBytes(target.contents("small.bin"), small, "the other file still arrives")
        }

        @Test(
            "Disk full while writing a stream of unknown size: the receiver's error, exit 71",
            .enabled(if: canMountTmpfs)
        )
        func diskFillsWhileWriting() {
            let target = TemporaryDirectory()
            #expect(shell("mount -t tmpfs -o size=2m tmpfs '\(target.path)'").status == 0)
            defer { shell("umount -l '\(target.path)'") }
            let receiver = ReceiverProcess(directory: target.path)
            let result = xfer(
                ["send", "--name", "flood.bin", "-", receiver.address],
                input: Data(repeating: 7, count: 6 << 20)
            )
            #expect(result.status == 71, "\(result.stderr)")
            #expect(result.stderr.contains("No space left on device"))
            #expect(!target.exists("flood.bin"))
            #expect(
                (try? FileManager.default.contentsOfDirectory(atPath: target.file(".xfer")))?.filter {
                    $0.hasSuffix(".part")
                } == []
            )
        }

        @Test("A target directory that cannot be used stops the receiver with 74, naming it")
        func unusableDirectory() {
            let result = xfer(["receive", "--listen", "127.0.0.1:0", "--dir", "/proc/self", "--once"])
            #expect(result.status == 74, "\(result.stderr)")
            #expect(result.stderr.contains("/proc/self"))
            let missing = xfer(["receive", "--listen", "127.0.0.1:0", "--dir", "/nonexistent/dir", "--once"])
            #expect(missing.status == 74)
            #expect(missing.stderr.contains("No such file or directory"))
        }

        @Test("Receiver silent: the sender gives up after its timeout with 75")
        func silentReceiver() {
            let source = TemporaryDirectory()
            source.makeFile("f", count: 10)
            // A listener that never accepts: the kernel completes the handshake, nobody answers.
            let listener = RawListener()
            let result = xfer(["send", "--timeout", "1", source.file("f"), "127.0.0.1:\(listener.port)"])
            #expect(result.status == 75, "\(result.stderr)")
        }

        @Test("Nobody listening: exit 69")
        func deadReceiver() {
            let source = TemporaryDirectory()
            source.makeFile("f", count: 10)
            let port = RawListener().port  // bound, then closed: nothing listens there now
            let result = xfer(["send", source.file("f"), "127.0.0.1:\(port)"])
            #expect(result.status == 69, "\(result.stderr)")
            #expect(result.stderr.contains("cannot connect"))
        }
    }
}

/// A socket listening on 127.0.0.1 that never accepts; closed at deinit.
final class RawListener: Sendable {
    let fd: CInt
    let port: UInt16

    init() {
        fd = socket(AF_INET, streamSocketType, 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let descriptor = fd
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(descriptor, $0, length)
                _ = getsockname(descriptor, $0, &length)
            }
        }
        listen(fd, 8)
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }
}
