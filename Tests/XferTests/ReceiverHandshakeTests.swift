import Framing
import Testing

@testable import Transfer

/// The receiver's side of the keyed handshake on its own: no socket, the bytes that would
/// cross the wire built here and handed over.
@Suite struct ReceiverHandshakeTests {
    static let key = AuthenticationKey(bytes: Array(repeating: 7, count: 32))!
    static let otherKey = AuthenticationKey(bytes: Array(repeating: 8, count: 32))!
    static let clientNonce = Array(repeating: UInt8(1), count: AuthProof.byteCount)
    static let serverNonce = Array(repeating: UInt8(2), count: AuthProof.byteCount)

    static func bytes(_ record: Record) -> [UInt8] {
        var bytes: [UInt8] = []
        try! RecordEncoder.append(record, to: &bytes)
        return bytes
    }

    static func hello(_ suites: [CipherSuite]?) -> Hello {
        var parameters: [Parameter] = [.nonce(clientNonce)]
        if let suites { parameters.append(.suites(suites)) }
        return Hello(parameters: parameters)
    }

    /// Runs the handshake up to the server's AUTH; returns the server's side and the
    /// client's transcript (preamble, HELLO, then what the server sent).
    static func welcomed(_ suites: [CipherSuite]) throws -> (ReceiverHandshake, AuthenticationTranscript) {
        var server = ReceiverHandshake(key: key)
        var client = AuthenticationTranscript()
        let hello = hello(suites)
        let helloBytes = bytes(.hello(hello))
        server.receivedPreamble(Preamble().bytes)
        client.append(Preamble().bytes)
        client.append(helloBytes)
        let sent = try server.welcome(hello, helloBytes: helloBytes, serverNonce: serverNonce, agent: "test")
        client.append(Preamble().bytes)
        client.append(sent)
        return (server, client)
    }

    @Test func aRightProofGivesTheSealedSession() throws {
        var (server, client) = try Self.welcomed([.aes256GCM])
        // The server's proof in what it sent checks out for the client's transcript.
        let proof = client.proof(.client, key: Self.key)
        let session = try server.verify(proof, bytes: Self.bytes(.auth(proof)))
        #expect(session != nil)
        #expect(server.clientNonce == Self.clientNonce)
        #expect(server.serverNonce == Self.serverNonce)
    }

    @Test func aProofWithAnotherKeyIsRefusedUnauthenticated() throws {
        var (server, client) = try Self.welcomed([.aes256GCM])
        let proof = client.proof(.client, key: Self.otherKey)
        #expect(throws: ReceiverHandshake.Failure(code: .unauthenticated, message: "authentication failed: wrong key"))
        {
            _ = try server.verify(proof, bytes: Self.bytes(.auth(proof)))
        }
    }

    @Test func aReflectedServerProofIsRefused() throws {
        var (server, client) = try Self.welcomed([.aes256GCM])
        // The role is in the proof: the server's own proof, sent back, does not pass.
        let reflected = client.proof(.server, key: Self.key)
        #expect(throws: ReceiverHandshake.Failure.self) {
            _ = try server.verify(reflected, bytes: Self.bytes(.auth(reflected)))
        }
    }

    @Test func theServerChoosesByItsOwnOrderAmongTheOffered() throws {
        let (server, _) = try Self.welcomed([.chacha20Poly1305])
        #expect(server.suite == .chacha20Poly1305)
        let (both, _) = try Self.welcomed([.chacha20Poly1305, .aes256GCM])
        #expect(both.suite == CipherSuite.choice(from: [2, 1]))
    }

    @Test func aHelloWithoutSuitesIsRefused() {
        var server = ReceiverHandshake(key: Self.key)
        let hello = Self.hello(nil)
        #expect(throws: ReceiverHandshake.Failure.self) {
            _ = try server.welcome(
                hello,
                helloBytes: Self.bytes(.hello(hello)),
                serverNonce: Self.serverNonce,
                agent: "t"
            )
        }
        do {
            _ = try server.welcome(hello, helloBytes: [], serverNonce: Self.serverNonce, agent: "t")
        } catch {
            #expect(error.code == .unauthenticated)
            #expect(error.message.contains("lists no cipher suites"))
        }
    }

    @Test func aHelloWithNoSuiteInCommonIsRefused() {
        var server = ReceiverHandshake(key: Self.key)
        let hello = Hello(parameters: [.nonce(Self.clientNonce), Parameter(id: Parameter.suitesID, value: [0, 99])])
        do {
            _ = try server.welcome(
                hello,
                helloBytes: Self.bytes(.hello(hello)),
                serverNonce: Self.serverNonce,
                agent: "t"
            )
            Issue.record("an unknown suite was accepted")
        } catch {
            #expect(error.code == .unauthenticated)
            #expect(error.message.contains("no cipher suite in common"))
        }
    }

    @Test func withoutAKeyThereIsNothingToVerify() throws {
        var server = ReceiverHandshake(key: nil)
        server.receivedPreamble(Preamble().bytes)
        let proof = AuthProof(code: Array(repeating: 0, count: AuthProof.byteCount))!
        #expect(try server.verify(proof, bytes: []) == nil)
    }
}
