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
            expectSameBytes(target.contents("secret.bin"), bytes)
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

        @Test(
            "A wrong client proof: unsealed fatal ERROR unauthenticated at once, a log line, nothing written; the third costs its address, not the key holders"
        )
        func wrongProof() throws {
            let keys = TemporaryDirectory()
            let (path, key) = Self.keyFile(keys)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", path])
            for attempt in 1...3 {
                let client = SealedClient(port: receiver.port, from: "127.0.0.66")
                guard client.hello(), let serverProof = client.serverProof else {
                    Issue.record("attempt \(attempt): no WELCOME and AUTH")
                    return
                }
                #expect(client.transcript.verify(serverProof, .server, key: key), "the receiver's own proof is wrong")
                let started = Date()
                client.authenticate(key: key, proof: AuthProof(code: [UInt8](repeating: 7, count: 32))!)
                // Offers after a failed proof must change nothing either.
                client.send(.offer(Offer(transferID: TransferID(high: 1, low: 1), size: 1, name: "x")))
                let records = client.records(seconds: 5)
                guard case .error(let error)? = records.last else {
                    Issue.record("no ERROR: \(records) \(String(describing: client.failure))")
                    return
                }
                #expect(error.code == .unauthenticated && error.fatal)
                // Guessing is slowed by the penalty, not by holding a slot for a delay.
                #expect(Date().timeIntervalSince(started) < 0.9, "the refusal held the slot")
            }
            #expect(receiver.xfer.stderr.wait(for: "authentication failed"))
            #expect(receiver.log.contains("127.0.0.66:"), "the log line names the address")
            // Three wrong proofs (5 s each) reach the 15 s threshold: the address is turned
            // away by the accepting thread, before any handshake…
            let fourth = RawClient(port: receiver.port, from: "127.0.0.66").records(seconds: 5)
            guard case .error(let refusal)? = fourth.first else {
                Issue.record("a penalised address was not turned away: \(fourth)")
                return
            }
            #expect(refusal.code == .busy && refusal.message.contains("127.0.0.66 is penalised"), "\(refusal)")
            // …while a key holder from another address is served at once.
            let source = TemporaryDirectory()
            try Data("fine".utf8).write(to: URL(fileURLWithPath: source.file("f.bin")))
            let send = xfer(["send", "--key", path, source.file("f.bin"), receiver.address])
            #expect(send.status == 0, "\(send.stderr)")
            #expect(Self.written(target) == ["f.bin"])
        }

        @Test(
            "Before its proof a client gets nothing: an OFFER first is fatal, and no file, directory or partial appears"
        )
        func nothingBeforeProof() {
            let keys = TemporaryDirectory()
            let (path, _) = Self.keyFile(keys)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", path])
            let client = SealedClient(port: receiver.port)
            guard client.hello() else { return }
            client.send(.offer(Offer(transferID: TransferID(high: 2, low: 2), size: 3, name: "dir/new/x.bin")))
            client.send(.data(ArraySlice("abc".utf8)))
            let records = client.records(seconds: 5)
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
            let nonce = randomBytes(32)
            // Connection 1: a legitimate client, whose proof an eavesdropper records.
            let first = SealedClient(port: receiver.port, nonce: nonce)
            guard first.hello() else { return }
            let recorded = first.clientProof(key: key)
            first.authenticate(key: key)
            first.send(.goodbye)
            // The receiver's sealed GOODBYE: the real proof held.
            #expect(first.records(seconds: 5).first == .goodbye, "the real proof failed")
            // Connection 2: the eavesdropper replays HELLO (same nonce) and the recorded proof.
            let second = SealedClient(port: receiver.port, nonce: nonce)
            guard second.hello() else { return }
            second.authenticate(key: key, proof: recorded)
            let records = second.records(seconds: 5)
            guard case .error(let error)? = records.last else {
                Issue.record("the replayed proof got \(records)")
                return
            }
            #expect(error.code == .unauthenticated)
        }

        @Test(
            "The transcript is the exact bytes: reserved preamble bits and ignorable records before AUTH still authenticate"
        )
        func exactTranscript() {
            let keys = TemporaryDirectory()
            let (path, key) = Self.keyFile(keys)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", path])
            let client = SealedClient(port: receiver.port)
            let advisory = Record.unknown(kind: RecordKind(rawValue: 0xC1), flags: 0, payload: [1, 2, 3])
            guard client.hello(reserved: 0x0005, before: [.keepAlive, advisory]),
                let proof = client.serverProof
            else {
                Issue.record("no WELCOME and AUTH")
                return
            }
            #expect(client.transcript.verify(proof, .server, key: key), "the receiver re-encoded our preamble")
            client.raw.send(.keepAlive)  // ignorable, unsealed, before our AUTH: skipped
            client.authenticate(key: key)
            let content = Array("exact bytes\n".utf8)
            var digest = StreamDigest()
            digest.update(content)
            let offer = Offer(transferID: TransferID(high: 9, low: 9), size: UInt64(content.count), name: "exact.txt")
            client.send(.offer(offer))
            client.send(.data(content[...]))
            client.send(.end(End(totalLength: UInt64(content.count), digest: digest.value)))
            client.send(.goodbye)
            let records = client.records(seconds: 5)
            let acks = records.compactMap { if case .ack(let ack) = $0 { ack } else { nil } }
            #expect(acks.count == 1 && acks.first?.binding != nil, "\(records)")
            #expect(
                acks.first?.binding?.matches(
                    AckBinding(offer: offer, committedLength: UInt64(content.count), digest: digest.value)
                ) == true
            )
            expectSameBytes(target.contents("exact.txt"), content)
        }

        @Test("A keyed HELLO without cipher suites (a 1.1 client) is refused unauthenticated; so is a suite we lack")
        func suites() {
            let keys = TemporaryDirectory()
            let (path, _) = Self.keyFile(keys)
            let target = TemporaryDirectory()
            let receiver = ReceiverProcess(directory: target.path, extra: ["--key", path])
            for suites: [CipherSuite]? in [nil] {
                let client = SealedClient(port: receiver.port)
                #expect(!client.hello(suites: suites))
            }
            let unknown = RawClient(port: receiver.port)
            unknown.send(Preamble().bytes)
            unknown.send(.hello(Hello(parameters: [.nonce(randomBytes(32)), Parameter(id: 3, value: [0x7F, 0x01])])))
            let records = unknown.records(seconds: 5)
            guard case .error(let error)? = records.last else {
                Issue.record("no ERROR: \(records)")
                return
            }
            #expect(error.code == .unauthenticated && error.message.contains("cipher suite"), "\(error)")
        }

        /// A fake receiver that may hold the key: it answers HELLO as told, then (with the
        /// key) speaks the sealed record layer — or breaks it as told — accepting and ACKing
        /// the one stream.
        static func fake(
            key: AuthenticationKey?,
            nonceInWelcome: Bool = true,
            suiteInWelcome: Bool = true,
            proveWrongly: Bool = false,
            noAuth: Bool = false,
            keepAliveInstead: Bool = false,
            seal: Bool = true,
            corruptSeal: Bool = false,
            bindName: String? = nil
        ) -> FakeReceiver {
            final class State: @unchecked Sendable {
                var transcript = AuthenticationTranscript()
                var clientNonce: [UInt8] = []
                let serverNonce = randomBytes(32)
                var sealer: RecordSealer?
                var suite = CipherSuite.aes256GCM
            }
            let state = State()
            func send(_ peer: FakePeer, _ record: Record) {
                guard corruptSeal, var sealer = state.sealer else {
                    peer.send(record)
                    return
                }
                var bytes: [UInt8] = []
                try! sealer.seal(record, appendingTo: &bytes)
                state.sealer = sealer
                bytes[ProtocolLimits.headerSize + 3] ^= 1
                let crc = CRC32C.checksum(
                    bytes[ProtocolLimits.headerSize...],
                    continuing: CRC32C.checksum(bytes[0..<6])
                )
                for index in 0..<4 { bytes[6 + index] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(index))) }
                peer.send(raw: bytes)
            }
            return FakeReceiver { peer, record in
                switch record {
                case .hello(let hello):
                    state.clientNonce = hello.parameters.nonce ?? []
                    if let id = hello.parameters.suites?.first, let suite = CipherSuite(rawValue: id) {
                        state.suite = suite
                    }
                    var parameters: [Parameter] = nonceInWelcome ? [.nonce(state.serverNonce)] : []
                    if suiteInWelcome { parameters.append(.suites([state.suite])) }
                    var welcome: [UInt8] = []
                    var helloBytes: [UInt8] = []
                    try! RecordEncoder.append(.welcome(Welcome(parameters: parameters)), to: &welcome)
                    try! RecordEncoder.append(record, to: &helloBytes)  // xfer encodes canonically
                    state.transcript.append(Preamble().bytes)
                    state.transcript.append(helloBytes)
                    state.transcript.append(Preamble().bytes)
                    state.transcript.append(welcome)
                    peer.send(raw: Preamble().bytes + welcome)
                    if keepAliveInstead {
                        // Neither AUTH nor silence: KEEPALIVEs, which anyone on the path can add.
                        func tick(_ peer: FakePeer) {
                            peer.send(.keepAlive)
                            peer.after(0.3, tick)
                        }
                        tick(peer)
                    } else if let key, nonceInWelcome, !noAuth {
                        let proof =
                            proveWrongly ? AuthProof(code: randomBytes(32))! : state.transcript.proof(.server, key: key)
                        var auth: [UInt8] = []
                        try! RecordEncoder.append(.auth(proof), to: &auth)
                        state.transcript.append(auth)
                        peer.send(raw: auth)
                    }
                case .auth(let proof):
                    if let key {
                        var auth: [UInt8] = []
                        try! RecordEncoder.append(.auth(proof), to: &auth)
                        state.transcript.append(auth)
                        let secrets = state.transcript.trafficSecrets(
                            key: key,
                            clientNonce: state.clientNonce,
                            serverNonce: state.serverNonce
                        )
                        peer.startOpening(try! RecordOpener(suite: state.suite, secret: secrets.client))
                        let sealer = try! RecordSealer(suite: state.suite, secret: secrets.server)
                        if corruptSeal {
                            state.sealer = sealer
                        } else if seal {
                            peer.startSealing(sealer)
                        }
                    }
                case .offer(let offer):
                    send(peer, .answer(Answer(transferID: offer.transferID, decision: .accept, offset: 0)))
                case .end(let end):
                    if let offer = peer.currentOffer {
                        var bound = offer
                        if let bindName { bound.name = bindName }
                        let ack = Ack(
                            transferID: offer.transferID,
                            committedLength: end.totalLength,
                            digest: end.digest,
                            durable: true,
                            binding: key == nil
                                ? nil
                                : AckBinding(offer: bound, committedLength: end.totalLength, digest: end.digest)
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
            let noNonce = Self.sendToFake(Self.fake(key: nil, nonceInWelcome: false, suiteInWelcome: false), key: path)
            #expect(noNonce.status == 77, "a receiver without a key: \(noNonce.stderr)")
            let guessing = Self.sendToFake(Self.fake(key: key, proveWrongly: true), key: path)
            #expect(guessing.status == 77, "a receiver guessing the proof: \(guessing.stderr)")
            let oldReceiver = Self.sendToFake(Self.fake(key: key, suiteInWelcome: false), key: path)
            #expect(oldReceiver.status == 77, "a 1.1 receiver (no suite): \(oldReceiver.stderr)")
            #expect(oldReceiver.stderr.contains("cipher suites"), "\(oldReceiver.stderr)")
            let silent = Self.sendToFake(Self.fake(key: key, noAuth: true), key: path)
            #expect(silent.status == 77, "WELCOME with a nonce, then silence: \(silent.stderr)")
            let stalling = Self.sendToFake(Self.fake(key: key, keepAliveInstead: true), key: path)
            #expect(stalling.status == 77, "WELCOME, then KEEPALIVEs for ever: \(stalling.stderr)")
            let unsealed = Self.sendToFake(Self.fake(key: key, seal: false), key: path)
            #expect(unsealed.status == 76, "a receiver that does not seal: \(unsealed.stderr)")
            #expect(unsealed.stderr.contains("unsealed"), "\(unsealed.stderr)")
            let forged = Self.sendToFake(Self.fake(key: key, corruptSeal: true), key: path)
            #expect(forged.status == 76, "a receiver with a damaged sealed record: \(forged.stderr)")
            #expect(forged.stderr.contains("did not open"), "\(forged.stderr)")
            // Holding the key, but confirming the stream under another name: never confirmed.
            let renamed = Self.sendToFake(Self.fake(key: key, bindName: "g.bin"), key: path)
            #expect(renamed.status != 0, "an ACK bound to another name: \(renamed.stderr)")
            #expect(renamed.stderr.contains("confirms another offer"), "\(renamed.stderr)")
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
            // Key files are read strictly (SPEC.md §13.6): upper-case digits are not a key.
            let shouting = keys.file("shouting")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(FileManager.default.createFile(atPath: shouting, contents: Data(text.uppercased().utf8)))
            chmod(shouting, 0o600)
            let upper = xfer(["send", "--key", shouting, "-", "127.0.0.1:1"], input: Data())
            #expect(upper.status == 64 && upper.stderr.contains("lower-case"), "\(upper.stderr)")
            let target = TemporaryDirectory()
            let open = XferProcess(["receive", "--dir", target.path, "--listen", "0.0.0.0:0", "--key", path])
            #expect(open.stderr.wait(for: "listening on"), "\(open.stderr.text)")
            open.kill(SIGTERM)
            _ = open.finish()
        }
    }
}

extension Integration.Authentication {
    @Test("Without the system's libcrypto, --key is a clear error naming it; without a key nothing changes")
    func missingLibcrypto() throws {
        let library = ["/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/aarch64-linux-gnu/libcrypto.so.3"]
            .first { FileManager.default.fileExists(atPath: $0) }
        guard let library, geteuid() == 0, commandExists("unshare") else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "CI runs as root with libcrypto and unshare")
            return
        }
        let keys = TemporaryDirectory()
        let (path, _) = Self.keyFile(keys)
        // A mount namespace of its own in which the library is an empty file.
        let hidden = shell(
            "unshare -m sh -c 'mount --bind /dev/null \(library) && \(xferBinary) send --key \(path) - 127.0.0.1:1'"
                + " </dev/null"
        )
        #expect(hidden.status == 74, "\(hidden.stdout)\(hidden.stderr)")
        #expect(hidden.stderr.contains("libcrypto.so.3"), "\(hidden.stderr)")
        let plain = shell(
            "unshare -m sh -c 'mount --bind /dev/null \(library) && \(xferBinary) send - 127.0.0.1:1' </dev/null"
        )
        #expect(plain.status == 69, "without a key the library is never needed: \(plain.stderr)")
    }
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
