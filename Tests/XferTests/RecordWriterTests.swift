import Framing
import Testing

@testable import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// The receiver's writer, shared by a connection's thread and its heartbeat.
@Suite struct RecordWriterTests {
    @Test("A record it cannot build ends that connection (the next flush fails), never the process")
    func invalidRecordFailsTheConnection() throws {
        let (ours, theirs, theirFD) = connectedSocketPair()
        defer {
            ours.close()
            theirs.close()
        }
        let writer = RecordWriter(socket: ours)
        writer.enqueue(.goodbye)
        // A non-fatal ERROR with the connection's all-zero ID: the encoder refuses it.
        writer.enqueue(.error(ErrorRecord(code: .digestMismatch, transferID: .none, fatal: false, message: "x")))
        writer.enqueue(.keepAlive)
        #expect(throws: SystemError.self) { try writer.flush() }
        // Nothing at all was sent: not even the records before the bad one.
        var byte: UInt8 = 0
        #expect(recv(theirFD, &byte, 1, dontWaitFlag) == -1 && errno == EAGAIN)
        #expect(throws: SystemError.self) { try writer.send(.goodbye) }
    }
}

/// Two connected stream sockets (a Unix socket pair) as `TCPSocket`s: one end for the code
/// under test, the other for the test to read.
func connectedSocketPair() -> (ours: TCPSocket, theirs: TCPSocket, theirFD: CInt) {
    var pair: [CInt] = [0, 0]
    precondition(socketpair(AF_UNIX, streamSocketType, 0, &pair) == 0, "socketpair failed")
    return (TCPSocket(fd: pair[0]), TCPSocket(fd: pair[1]), pair[1])
}
