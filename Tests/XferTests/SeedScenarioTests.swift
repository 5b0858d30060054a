import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The failure xfer exists for, reproduced on real sockets: a client writes 1,000,000
/// bytes and closes without reading the server's greeting; Linux then sends RST instead of
/// FIN (RFC 1122 §4.2.2.13) and the server loses the tail, while the client believes it
/// sent everything.
extension Integration {
    @Suite struct SeedScenario {
        static let payloadSize = 1_000_000

        /// A server on 127.0.0.1 that runs `serve` on the first connection, on its own
        /// thread; `join()` returns what `serve` returned.
        final class OneShotServer: @unchecked Sendable {
            let port: UInt16
            private let listener: RawListener
            private let done = DispatchSemaphore(value: 0)
            private var result = (received: 0, error: Int32(0))

            init(serve: @escaping @Sendable (CInt) -> (received: Int, error: Int32)) {
                let socket = RawListener()
                listener = socket
                port = socket.port
                Thread { [self] in
                    let client = accept(socket.fd, nil, nil)
                    result = serve(client)
                    close(client)
                    done.signal()
                }.start()
            }

            func join() -> (received: Int, error: Int32) {
                done.wait()
                return result
            }
        }

        /// Reads until end of stream or an error; returns the count and the error (0 for EOF).
        static func readAll(_ fd: CInt) -> (received: Int, error: Int32) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            var total = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count == 0 { return (total, 0) }
                if count < 0 { return (total, errno) }
                total += count
            }
        }

        /// The greeting server is slow to start reading: the 50 ms pause is the scenario
        /// (a busy server), not synchronisation.
        static func greetingServer() -> OneShotServer {
            OneShotServer { client in
                let greeting = Array("220 Welcome\r\n".utf8)
                _ = greeting.withUnsafeBytes { send(client, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
                usleep(50_000)
                return readAll(client)
            }
        }

        @Test("A naive client loses data that it believes it sent")
        func naiveClientLosesData() {
            var losses = 0
            var report: [String] = []
            for _ in 0..<10 {
                let server = Self.greetingServer()
                let client = RawClient(port: server.port, sendBuffer: 2 << 20)
                let written = client.send([UInt8](repeating: 0x61, count: Self.payloadSize))
                client.close()  // never read the greeting: this close sends RST
                let (received, error) = server.join()
                #expect(written == Self.payloadSize, "the naive client believes it sent everything")
                if received < Self.payloadSize { losses += 1 }
                report.append("\(received)\(error == ECONNRESET ? "+RST" : "")")
            }
            print("naive client, bytes the server read per run: \(report)")
            #expect(losses > 0, "expected the naive transfer to lose data at least once; received: \(report)")
        }

        @Test("xfer never reports success when the receiver dropped data the same way")
        func xferDetectsTheLoss() {
            let source = TemporaryDirectory()
            source.makeFile("payload", count: Self.payloadSize)
            for run in 0..<10 {
                // A receiver that greets correctly, then reads a little and closes with
                // unread data, exactly like the server above.
                let server = OneShotServer { client in
                    var hello = Preamble().bytes
                    try! RecordEncoder.append(.welcome(Welcome()), to: &hello)
                    _ = hello.withUnsafeBytes { send(client, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
                    usleep(50_000)
                    var buffer = [UInt8](repeating: 0, count: 128 << 10)
                    let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    return (max(count, 0), 0)
                }
                let result = xfer(["send", source.file("payload"), "127.0.0.1:\(server.port)"])
                _ = server.join()
                #expect(result.status != 0, "run \(run): xfer reported success for data that did not arrive")
                #expect(result.status == 70, "run \(run): \(result.stderr)")
            }
        }

        @Test("xfer delivers the same payload intact to a real receiver")
        func xferDelivers() {
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("payload", count: Self.payloadSize)
            let receiver = ReceiverProcess(directory: target.path)
            for run in 0..<10 {
                let result = xfer(["send", "--quiet", source.file("payload"), receiver.address])
                #expect(result.status == 0, "run \(run): \(result.stderr)")
                expectSameBytes(target.contents("payload"), bytes)
            }
        }
    }
}
