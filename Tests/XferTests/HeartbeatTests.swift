import Foundation
import Framing
import Synchronization
import Testing

@testable import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's keep-alive while it syncs (SPEC.md §7.3): a heartbeat that writes
/// PROGRESS records through the connection's locked writer until stopped.
@Suite struct HeartbeatTests {
    @Test func beatsUntilStoppedAndNeverAfter() throws {
        let (ours, theirs, _) = connectedSocketPair()
        defer {
            ours.close()
            theirs.close()
        }
        let writer = RecordWriter(socket: ours)
        let beatsWritten = Atomic<Int>(0)
        let heartbeat = try Heartbeat(interval: 0.02) {
            let beat = beatsWritten.add(1, ordering: .sequentiallyConsistent).newValue
            try? writer.send(
                .progress(Progress(transferID: TransferID(high: 0, low: 1), received: UInt64(beat), durable: 0))
            )
        }
        var decoder = RecordDecoder(expectingPreamble: false)
        var received: [UInt64] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        func read(timeout: Double) throws -> Bool {
            theirs.setTimeouts(receive: timeout, send: 1)
            guard let count = try? buffer.withUnsafeMutableBytes({ try theirs.read(into: $0) }), count > 0 else {
                return false
            }
            try decoder.feed(buffer[..<count]) { message in
                if case .record(.progress(let progress)) = message { received.append(progress.received) }
            }
            return true
        }
        // Readiness: three beats have arrived.
        while received.count < 3 { #expect(try read(timeout: 10)) }
        heartbeat.stop()
        let written = beatsWritten.load(ordering: .sequentiallyConsistent)
        // Everything written before stop() returned, and nothing after it.
        while try read(timeout: 0.3) {}
        #expect(received == Array(1...UInt64(written)))
    }
}
