import Foundation
import Framing
import Testing

/// The authenticated handshake of SPEC.md §13 against Tests/Vectors/auth.json, which an
/// independent Python encoding (scripts/make-auth-vectors.py) computed.
@Suite struct AuthenticationVectorTests {
    nonisolated(unsafe) static let vectors: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors/auth.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static func bytes(_ field: String) -> [UInt8] { decodeHex(vectors[field] as! String) }

    static func decodeHex(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8)
        return stride(from: 0, to: digits.count, by: 2).map {
            UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
        }
    }

    static func record(_ hex: [UInt8]) throws -> Record {
        var decoder = RecordDecoder(expectingPreamble: false)
        var records: [Record] = []
        try decoder.feed(hex[...]) { message in
            if case .record(let record) = message { records.append(record) }
        }
        guard records.count == 1 else { throw FramingError.truncatedInput(buffered: hex.count) }
        return records[0]
    }

    @Test func keyText() {
        let key = AuthenticationKey(text: Self.vectors["key_text"] as! String)
        #expect(key?.bytes == Self.bytes("key"))
        #expect(key?.text == Self.vectors["key_text"] as? String)
        #expect(AuthenticationKey(text: "xfer-key-1 00") == nil)
        #expect(AuthenticationKey(text: "other " + String(repeating: "0", count: 64)) == nil)
    }

    @Test func handshake() throws {
        let key = AuthenticationKey(bytes: Self.bytes("key"))!
        guard case .hello(let hello) = try Self.record(Self.bytes("hello")),
            case .welcome(let welcome) = try Self.record(Self.bytes("welcome"))
        else {
            Issue.record("HELLO or WELCOME did not decode")
            return
        }
        #expect(hello.parameters.nonce == Self.bytes("client_nonce"))
        #expect(welcome.parameters.nonce == Self.bytes("server_nonce"))
        var transcript = AuthenticationTranscript()
        transcript.append(Self.bytes("client_preamble"))
        transcript.append(.hello(hello))  // re-encoded: encodings are canonical
        transcript.append(Self.bytes("server_preamble"))
        transcript.append(.welcome(welcome))
        let serverProof = transcript.proof(.server, key: key)
        #expect(serverProof.code == Self.bytes("server_proof"))
        #expect(try Self.record(Self.bytes("server_auth")) == .auth(serverProof))
        var encoded: [UInt8] = []
        try RecordEncoder.append(.auth(serverProof), to: &encoded)
        #expect(encoded == Self.bytes("server_auth"))
        #expect(transcript.verify(serverProof, .server, key: key))
        #expect(!transcript.verify(serverProof, .client, key: key), "a server proof passed for the client")
        transcript.append(.auth(serverProof))
        let clientProof = transcript.proof(.client, key: key)
        #expect(clientProof.code == Self.bytes("client_proof"))
        transcript.append(.auth(clientProof))
        let session = transcript.sessionKey(
            key: key,
            clientNonce: Self.bytes("client_nonce"),
            serverNonce: Self.bytes("server_nonce")
        )
        #expect(session == Self.bytes("session_key"))
        var sealer = RecordSealer(sessionKey: session)
        var checker = RecordSealer(sessionKey: session)
        for vector in Self.vectors["seals"] as! [[String: Any]] {
            let sealed = try Self.record(Self.decodeHex(vector["sealed"] as! String))
            let seal = sealer.seal(sealed)
            #expect(seal.sequence == UInt64(vector["sequence"] as! Int))
            #expect(seal.code == Self.decodeHex(vector["code"] as! String))
            #expect(try Self.record(Self.decodeHex(vector["seal"] as! String)) == .seal(seal))
            // A seal checks once, in order, and only for its own record.
            var replay = checker
            let forOther = replay.verify(seal, of: .keepAlive)
            let first = checker.verify(seal, of: sealed)
            let again = checker.verify(seal, of: sealed)
            #expect(!forOther, "a seal held for another record")
            #expect(first)
            #expect(!again, "a seal was accepted twice")
        }
    }

    @Test func aProofDependsOnEveryTranscriptByte() {
        let key = AuthenticationKey(bytes: Self.bytes("key"))!
        var base = AuthenticationTranscript()
        base.append(Self.bytes("client_preamble"))
        let reference = base.proof(.server, key: key)
        var other = AuthenticationTranscript()
        var changed = Self.bytes("client_preamble")
        changed[7] ^= 1
        other.append(changed)
        #expect(other.proof(.server, key: key) != reference)
        #expect(base.proof(.server, key: AuthenticationKey(bytes: [UInt8](repeating: 9, count: 32))!) != reference)
    }
}
