import Foundation
import Framing
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Pre-shared-key authentication (SPEC.md §13), tried with the real binaries, raw
    /// clients that guess, replay or skip, and fake receivers with and without the key.
    @Suite struct Authentication {
        /// A key file made by `xfer keygen`, and the key in it.
        static func keyFile(_ folder: TemporaryDirectory, _ name: String = "key") -> (String, AuthenticationKey) {
            let path = folder.file(name)
            let made = xfer(["keygen", path])
            precondition(made.status == 0, made.stderr)
            let text = try! String(contentsOfFile: path, encoding: .utf8)
            return (path, AuthenticationKey(text: text)!)
        }

        /// Everything in the target but the receiver's own state files.
        static func written(_ target: TemporaryDirectory) -> [String] {
            let names = (try? FileManager.default.subpathsOfDirectory(atPath: target.path)) ?? []
            return names.filter { !["lock", "commits", ".xfer", ".xfer/lock", ".xfer/commits"].contains($0) }
                .filter { !$0.hasPrefix(".xfer/commits/") }
        }

        @Test("The same key on both sides: delivered; keygen writes mode 0600 and never overwrites")
        func success() throws {
            let keys = TemporaryDirectory()
            let (path, _) = Self.keyFile(keys)
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(xfer(["keygen", path]).status != 0, "an existing key was overwritten")
            let source = TemporaryDirectory()
            let target = TemporaryDirectory()
            let bytes = source.makeFile("secret.bin", count: 3 << 20)
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", path])
            let result = xfer(["send", "--key", path, source.file("secret.bin"), receiver.address])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(target.contents("secret.bin") == bytes)
            // The key may come from XFER_KEY_FILE instead of the command line.
            setenv("XFER_KEY_FILE", path, 1)
            defer { unsetenv("XFER_KEY_FILE") }
            let byEnvironment = xfer(["send", "--name", "env.txt", "-", receiver.address], input: Data("e".utf8))
            #expect(byEnvironment.status == 0, "\(byEnvironment.stderr)")
        }

        @Test("Another key, or none, on either side: exit 77, nothing written, no partial")
        func mismatches() throws {
            let keys = TemporaryDirectory()
            let (right, _) = Self.keyFile(keys, "right")
            let (wrong, _) = Self.keyFile(keys, "wrong")
            let source = TemporaryDirectory()
            source.makeFile("f.bin", count: 1 << 20)
            let target = TemporaryDirectory()
            let guarded = ReceiverProcess(directory: target.path, extra: ["--key", right])
            let withWrong = xfer(["send", "--key", wrong, source.file("f.bin"), guarded.address])
            #expect(withWrong.status == 77, "\(withWrong.stderr)")
            #expect(withWrong.stderr.contains("proof does not match"), "\(withWrong.stderr)")
            let withNone = xfer(["send", source.file("f.bin"), guarded.address])
            #expect(withNone.status == 77, "\(withNone.stderr)")
            #expect(withNone.stderr.contains("requires a pre-shared key"), "\(withNone.stderr)")
            #expect(Self.written(target).isEmpty, "\(Self.written(target))")
            let open = TemporaryDirectory()
            let unguarded = ReceiverProcess(directory: open.path)
            let toNone = xfer(["send", "--key", right, source.file("f.bin"), unguarded.address])
            #expect(toNone.status == 77, "\(toNone.stderr)")
            #expect(toNone.stderr.contains("does not authenticate"), "\(toNone.stderr)")
            #expect(Self.written(open).isEmpty, "a sender with a key sent to a receiver without one")
        }

        /// A raw client that knows the key (or not): preamble, HELLO with a nonce, then
        /// reads WELCOME and the server's AUTH, returning the transcript so far.
        static func handshake(
            _ client: RawClient,
            nonce: [UInt8]
        ) -> (AuthenticationTranscript, serverNonce: [UInt8], serverProof: AuthProof)? {
            var transcript = AuthenticationTranscript()
            let hello = Record.hello(Hello(parameters: [.nonce(nonce)]))
            client.send(Preamble().bytes)
            client.send(hello)
            transcript.append(Preamble().bytes)
            transcript.append(hello)
            transcript.append(Preamble().bytes)
            let records = client.records(seconds: 5, until: 2)
            guard records.count == 2, case .welcome(let welcome) = records[0], case .auth(let proof) = records[1],
                let serverNonce = welcome.parameters.nonce
            else {
                Issue.record("no WELCOME and AUTH: \(records)")
                return nil
            }
            transcript.append(.welcome(welcome))
            return (transcript, serverNonce, proof)
        }

        @Test("A wrong client proof: fatal ERROR unauthenticated after a fixed delay, a log line, nothing written")
        func wrongProof() throws {
            let keys = TemporaryDirectory()
            let (path, key) = Self.keyFile(keys)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", path])
            let client = RawClient(port: receiver.port)
            guard let (transcript, _, serverProof) = Self.handshake(client, nonce: randomNonce()) else { return }
            #expect(transcript.verify(serverProof, .server, key: key), "the receiver's own proof is wrong")
            let started = Date()
            client.send(.auth(AuthProof(code: [UInt8](repeating: 7, count: 32))!))
            // Offers after a failed proof must change nothing either.
            client.send(.offer(Offer(transferID: TransferID(high: 1, low: 1), size: 1, name: "x")))
            let records = client.records(seconds: 5, preambleRead: true)
            guard case .error(let error)? = records.last else {
                Issue.record("no ERROR: \(records)")
                return
            }
            #expect(error.code == .unauthenticated && error.fatal)
            #expect(Date().timeIntervalSince(started) >= 0.9, "the refusal was not delayed")
            #expect(receiver.xfer.stderr.wait(for: "authentication failed"))
            #expect(receiver.log.contains("127.0.0.1:"), "the log line names the address")
            #expect(Self.written(target).isEmpty)
        }

        @Test(
            "Before its proof a client gets nothing: an OFFER first is fatal, and no file, directory or partial appears"
        )
        func nothingBeforeProof() {
            let keys = TemporaryDirectory()
            let (path, _) = Self.keyFile(keys)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", path])
            let client = RawClient(port: receiver.port)
            guard Self.handshake(client, nonce: randomNonce()) != nil else { return }
            client.send(.offer(Offer(transferID: TransferID(high: 2, low: 2), size: 3, name: "dir/new/x.bin")))
            client.send(.data(ArraySlice("abc".utf8)))
            let records = client.records(seconds: 5, preambleRead: true)
            guard case .error(let error)? = records.last else {
                Issue.record("no ERROR: \(records)")
                return
            }
            #expect(error.code == .unauthenticated && error.fatal, "\(error)")
            #expect(!records.contains { if case .answer = $0 { true } else { false } }, "an offer was answered")
            #expect(Self.written(target).isEmpty, "\(Self.written(target))")
        }

        @Test("A proof replayed from an earlier connection is refused: the server's nonce differs")
        func replay() throws {
            let keys = TemporaryDirectory()
            let (path, key) = Self.keyFile(keys)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", path])
            let nonce = randomNonce()
            // Connection 1: a legitimate client, whose proof an eavesdropper records.
            let first = RawClient(port: receiver.port)
            guard let (handshake, _, serverProof) = Self.handshake(first, nonce: nonce) else { return }
            var transcript = handshake
            transcript.append(.auth(serverProof))
            let recorded = transcript.proof(.client, key: key)
            first.send(.auth(recorded))
            first.send(.goodbye)
            // GOODBYE and its SEAL: the real proof held.
            #expect(first.records(seconds: 5, until: 2, preambleRead: true).first == .goodbye, "the real proof failed")
            // Connection 2: the eavesdropper replays HELLO (same nonce) and the recorded proof.
            let second = RawClient(port: receiver.port)
            guard Self.handshake(second, nonce: nonce) != nil else { return }
            second.send(.auth(recorded))
            let records = second.records(seconds: 5, preambleRead: true)
            guard case .error(let error)? = records.last else {
                Issue.record("the replayed proof got \(records)")
                return
            }
            #expect(error.code == .unauthenticated)
        }

        /// A fake receiver that may hold the key: it answers HELLO as `welcome` says, then
        /// (with the key) seals or not as `seal` says, accepting and ACKing the one stream.
        static func fake(
            key: AuthenticationKey?,
            nonceInWelcome: Bool = true,
            proveWrongly: Bool = false,
            seal: Bool = true,
            corruptSeal: Bool = false
        ) -> FakeReceiver {
            final class State: @unchecked Sendable {
                var transcript = AuthenticationTranscript()
                var clientNonce: [UInt8] = []
                let serverNonce = randomNonce()
                var sealer: RecordSealer?
            }
            let state = State()
            func send(_ peer: FakePeer, _ record: Record) {
                peer.send(record)
                guard var sealer = state.sealer else { return }
                var sealed = sealer.seal(record)
                if corruptSeal { sealed.code[0] ^= 1 }
                state.sealer = sealer
                if seal { peer.send(.seal(sealed)) }
            }
            return FakeReceiver { peer, record in
                switch record {
                case .hello(let hello):
                    state.clientNonce = hello.parameters.nonce ?? []
                    let welcome = Record.welcome(
                        Welcome(parameters: nonceInWelcome ? [.nonce(state.serverNonce)] : [])
                    )
                    state.transcript.append(Preamble().bytes)
                    state.transcript.append(record)
                    state.transcript.append(Preamble().bytes)
                    state.transcript.append(welcome)
                    peer.send(raw: Preamble().bytes)
                    peer.send(welcome)
                    if let key, nonceInWelcome {
                        let proof =
                            proveWrongly
                            ? AuthProof(code: randomNonce())! : state.transcript.proof(.server, key: key)
                        state.transcript.append(.auth(proof))
                        peer.send(.auth(proof))
                    } else {
                        // No key: go straight on as a v1 receiver would, and lie.
                        break
                    }
                case .auth(let proof):
                    if let key {
                        state.transcript.append(.auth(proof))
                        let session = state.transcript.sessionKey(
                            key: key,
                            clientNonce: state.clientNonce,
                            serverNonce: state.serverNonce
                        )
                        state.sealer = RecordSealer(sessionKey: session)
                    }
                case .offer(let offer):
                    send(peer, .answer(Answer(transferID: offer.transferID, decision: .accept, offset: 0)))
                case .end(let end):
                    if let offer = peer.currentOffer {
                        let ack = Ack(
                            transferID: offer.transferID,
                            committedLength: end.totalLength,
                            digest: end.digest,
                            durable: true
                        )
                        send(peer, .ack(ack))
                    }
                case .goodbye:
                    send(peer, .goodbye)
                default:
                    break
                }
            }
        }

        static func sendToFake(_ fake: FakeReceiver, key: String) -> Finished {
            let source = TemporaryDirectory()
            source.makeFile("f.bin", count: 100_000)
            return xfer(["send", "--key", key, "--timeout", "5", source.file("f.bin"), fake.address])
        }

        @Test("A fake receiver can never make a sender with a key exit 0 unless it holds the key and seals")
        func fakeReceivers() throws {
            let keys = TemporaryDirectory()
            let (path, key) = Self.keyFile(keys)
            let noNonce = Self.sendToFake(Self.fake(key: nil, nonceInWelcome: false), key: path)
            #expect(noNonce.status == 77, "a receiver without a key: \(noNonce.stderr)")
            let guessing = Self.sendToFake(Self.fake(key: key, proveWrongly: true), key: path)
            #expect(guessing.status == 77, "a receiver guessing the proof: \(guessing.stderr)")
            let unsealed = Self.sendToFake(Self.fake(key: key, seal: false), key: path)
            #expect(unsealed.status == 76, "a receiver that does not seal: \(unsealed.stderr)")
            #expect(unsealed.stderr.contains("without its SEAL"), "\(unsealed.stderr)")
            let forged = Self.sendToFake(Self.fake(key: key, corruptSeal: true), key: path)
            #expect(forged.status == 76, "a receiver with a bad seal: \(forged.stderr)")
            // The same fake, holding the key and sealing: it is a receiver, and exit 0 is right.
            let honest = Self.sendToFake(Self.fake(key: key), key: path)
            #expect(honest.status == 0, "the honest fake: \(honest.stderr)")
        }

        @Test("Key files others may read are refused; a key lets the receiver listen beyond loopback")
        func keyFilesAndProtectedMode() throws {
            let keys = TemporaryDirectory()
            let (path, _) = Self.keyFile(keys)
            chmod(path, 0o640)
            let loose = xfer(["send", "--key", path, "-", "127.0.0.1:1"], input: Data())
            #expect(loose.status == 64)
            #expect(loose.stderr.contains("chmod 600"), "\(loose.stderr)")
            chmod(path, 0o600)
            let garbage = keys.file("garbage")
            #expect(FileManager.default.createFile(atPath: garbage, contents: Data("hello".utf8)))
            chmod(garbage, 0o600)
            #expect(
                xfer(["send", "--key", garbage, "-", "127.0.0.1:1"], input: Data()).stderr.contains("not an xfer key")
            )
            let target = TemporaryDirectory()
            let open = XferProcess(["receive", "--dir", target.path, "--listen", "0.0.0.0:0", "--key", path])
            #expect(open.stderr.wait(for: "listening on"), "\(open.stderr.text)")
            open.kill(SIGTERM)
            _ = open.finish()
        }
    }
}

/// 32 random bytes.
private func randomNonce() -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<32).map { _ in generator.next() }
}

extension RawClient {
    /// The next `count` records the server sends (after its preamble, unless `preambleRead`),
    /// within `seconds`.
    func records(seconds: Double, until count: Int, preambleRead: Bool = false) -> [Record] {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var decoder = RecordDecoder(expectingPreamble: !preambleRead)
        var records: [Record] = []
        var byte: UInt8 = 0
        // One byte at a time, so nothing after the wanted records is consumed.
        while records.count < count, recv(fd, &byte, 1, 0) == 1 {
            try? decoder.feed([byte]) { message in
                if case .record(let record) = message { records.append(record) }
            }
        }
        return records
    }
}
