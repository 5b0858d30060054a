import Framing
import Testing

@testable import Transfer

/// The receiver's conversation rules on their own: no sockets, no files.
@Suite struct ReceiverStateMachineTests {
    static let id = TransferID(high: 1, low: 2)
    static let offer = Offer(transferID: id, size: 3, name: "a.txt")
    static let awaiting = Offer(transferID: id, size: 3, name: "a.txt", awaitAnswer: true)
    /// The END of the stream [1, 2, 3].
    static let end = End(totalLength: 3, digest: digest([1, 2, 3]))

    static func digest(_ bytes: [UInt8]) -> UInt64 {
        var digest = StreamDigest()
        digest.update(bytes)
        return digest.value
    }

    static func streamError(_ action: ReceiverStateMachine.Action, _ code: ErrorCode) -> String? {
        if case .streamError(let actual, let message) = action, actual == code { return message }
        return nil
    }

    /// A machine past the preamble and HELLO.
    static func greeted() -> ReceiverStateMachine {
        var machine = ReceiverStateMachine()
        #expect(machine.receive(.preamble(Preamble())) == .greet)
        #expect(machine.receive(.record(.hello(Hello()))) == .welcome(Hello()))
        #expect(machine.state == .idle)
        return machine
    }

    static func isFailure(_ action: ReceiverStateMachine.Action, _ code: ErrorCode = .protocolViolation) -> Bool {
        if case .fail(let actual, _) = action { return actual == code }
        return false
    }

    @Test func acceptedStreamRunsToEnd() {
        var machine = Self.greeted()
        #expect(machine.receive(.record(.offer(Self.offer))) == .offer(Self.offer))
        #expect(machine.state == .receiving(.init(Self.offer)))
        #expect(machine.receive(.record(.data([1, 2]))) == .store([1, 2]))
        #expect(machine.receive(.record(.keepAlive)) == .ignore)
        #expect(machine.receive(.record(.data([3]))) == .store([3]))
        #expect(machine.receive(.record(.end(Self.end))) == .finish(length: 3, digest: Self.end.digest))
        #expect(machine.state == .idle)
        #expect(machine.receive(.record(.goodbye)) == .goodbye)
        #expect(machine.state == .closed)
    }

    @Test("DATA past the declared size is a stream error as it arrives; the rest is discarded")
    func dataPastTheDeclaredSize() {
        var machine = Self.greeted()
        _ = machine.receive(.record(.offer(Self.offer)))
        #expect(machine.receive(.record(.data([1, 2]))) == .store([1, 2]))
        let message = Self.streamError(machine.receive(.record(.data([3, 4]))), .lengthMismatch)
        #expect(message == "more than the declared 3 bytes arrived")
        #expect(machine.state == .discarding(Self.id))
        #expect(machine.receive(.record(.end(Self.end))) == .ignore)
        #expect(machine.state == .idle)
    }

    @Test("An END that does not match what arrived: length (known and unknown size), then digest")
    func endMustMatch() {
        for (offer, data, end, code) in [
            (Self.offer, [1, 2], End(totalLength: 2, digest: Self.digest([1, 2])), ErrorCode.lengthMismatch),
            (Self.offer, [1, 2, 3], End(totalLength: 4, digest: Self.end.digest), .lengthMismatch),
            (
                Offer(transferID: Self.id, size: nil, name: "s"), [1, 2, 3],
                End(totalLength: 2, digest: Self.end.digest), .lengthMismatch
            ),
            (Self.offer, [1, 2, 4], Self.end, .digestMismatch),
        ] as [(Offer, [UInt8], End, ErrorCode)] {
            var machine = Self.greeted()
            _ = machine.receive(.record(.offer(offer)))
            _ = machine.receive(.record(.data(ArraySlice(data))))
            let action = machine.receive(.record(.end(end)))
            #expect(Self.streamError(action, code) != nil, "\(data) then \(end): \(action)")
            #expect(machine.state == .idle)
        }
        var unknown = Self.greeted()
        let stream = Offer(transferID: Self.id, size: nil, name: "s")
        _ = unknown.receive(.record(.offer(stream)))
        _ = unknown.receive(.record(.data([1, 2, 3])))
        #expect(unknown.receive(.record(.end(Self.end))) == .finish(length: 3, digest: Self.end.digest))
    }

    @Test("A resumed stream counts and hashes from its kept prefix")
    func resumedStream() {
        var machine = Self.greeted()
        let resumed = Offer(transferID: Self.id, size: 3, offset: 2, name: "a.txt")
        _ = machine.receive(.record(.offer(resumed)))
        var prefix = StreamDigest()
        prefix.update([1, 2] as [UInt8])
        machine.resumed(from: 2, digest: prefix)
        #expect(Self.streamError(machine.receive(.record(.data([3, 4]))), .lengthMismatch) != nil)
        var again = Self.greeted()
        _ = again.receive(.record(.offer(resumed)))
        again.resumed(from: 2, digest: prefix)
        #expect(again.receive(.record(.data([3]))) == .store([3]))
        #expect(again.receive(.record(.end(Self.end))) == .finish(length: 3, digest: Self.end.digest))
    }

    @Test func declinedStreamIsDiscardedToItsEnd() {
        var machine = Self.greeted()
        _ = machine.receive(.record(.offer(Self.offer)))
        machine.declined(Self.offer)
        #expect(machine.state == .discarding(Self.id))
        #expect(machine.receive(.record(.data([1]))) == .ignore)
        #expect(machine.receive(.record(.end(Self.end))) == .ignore)
        #expect(machine.state == .idle)
    }

    @Test func declinedAwaitAnswerOfferSendsNothingMore() {
        var machine = Self.greeted()
        _ = machine.receive(.record(.offer(Self.awaiting)))
        machine.declined(Self.awaiting)
        #expect(machine.state == .idle)
        // Its DATA would be a violation now: the sender promised to wait.
        #expect(Self.isFailure(machine.receive(.record(.data([1])))))
    }

    @Test func failedStreamDropsItsRest() {
        var machine = Self.greeted()
        _ = machine.receive(.record(.offer(Self.offer)))
        machine.streamFailed()
        #expect(machine.state == .discarding(Self.id))
        #expect(machine.receive(.record(.data([1]))) == .ignore)
        #expect(machine.receive(.record(.cancel(Cancel(code: .cancelled, message: "")))) == .ignore)
        #expect(machine.state == .idle)
    }

    @Test func versionMismatchIsAnsweredThenRefused() {
        var machine = ReceiverStateMachine()
        #expect(machine.receive(.preamble(Preamble(version: 2))) == .greetAndRefuse(version: 2))
        #expect(machine.greeted)
        #expect(machine.state == .closed)
    }

    @Test func violationsAreConnectionErrors() {
        var idle = Self.greeted()
        #expect(Self.isFailure(idle.receive(.record(.data([1])))))
        #expect(idle.state == .closed)

        var noHello = ReceiverStateMachine()
        _ = noHello.receive(.preamble(Preamble()))
        #expect(Self.isFailure(noHello.receive(.record(.goodbye))))

        var twoOffers = Self.greeted()
        _ = twoOffers.receive(.record(.offer(Self.offer)))
        #expect(Self.isFailure(twoOffers.receive(.record(.offer(Self.offer)))))

        var goodbyeInside = Self.greeted()
        _ = goodbyeInside.receive(.record(.offer(Self.offer)))
        #expect(Self.isFailure(goodbyeInside.receive(.record(.goodbye))))

        var serverRecord = Self.greeted()
        let ack = Ack(transferID: Self.id, committedLength: 0, digest: 0, durable: true)
        #expect(Self.isFailure(serverRecord.receive(.record(.ack(ack)))))

        var afterGoodbye = Self.greeted()
        _ = afterGoodbye.receive(.record(.goodbye))
        #expect(Self.isFailure(afterGoodbye.receive(.record(.keepAlive))))
    }

    @Test func senderErrors() {
        var machine = Self.greeted()
        let soft = ErrorRecord(code: .sourceUnreadable, transferID: Self.id, fatal: false, message: "x")
        let hard = ErrorRecord(code: .internalError, fatal: true, message: "y")
        #expect(machine.receive(.record(.error(soft))) == .peerError(soft))
        #expect(machine.receive(.record(.error(hard))) == .peerFailed(hard))
    }

    /// SPEC.md §4: ignorable records may come before HELLO too.
    @Test func ignorableRecordsBeforeHello() {
        var machine = ReceiverStateMachine()
        #expect(machine.receive(.preamble(Preamble())) == .greet)
        #expect(machine.receive(.record(.keepAlive)) == .ignore)
        let advisory = Record.unknown(kind: RecordKind(rawValue: 0x9C), flags: 0x80, payload: [1])
        #expect(machine.receive(.record(advisory)) == .ignore)
        #expect(machine.state == .awaitingHello)
        #expect(machine.receive(.record(.hello(Hello()))) == .welcome(Hello()))
    }

    @Test func secondHelloIsNamedAsSuch() {
        var machine = Self.greeted()
        guard case .fail(let code, let message) = machine.receive(.record(.hello(Hello()))) else {
            Issue.record("a second HELLO was accepted")
            return
        }
        #expect(code == .protocolViolation)
        #expect(message.contains("second HELLO"), "\(message)")
    }

    /// SPEC.md §11: CANCEL sourceUnreadable drops what is kept, for a declined offer too.
    @Test func sourceUnreadableCancelOfADeclinedOfferDropsThePartial() {
        var machine = Self.greeted()
        _ = machine.receive(.record(.offer(Self.offer)))
        machine.declined(Self.offer)
        let changed = Cancel(code: .sourceUnreadable, message: "changed")
        #expect(machine.receive(.record(.cancel(changed))) == .dropPartial(Self.id))
        #expect(machine.state == .idle)
        _ = machine.receive(.record(.offer(Self.offer)))
        machine.declined(Self.offer)
        #expect(machine.receive(.record(.cancel(Cancel(code: .cancelled, message: "")))) == .ignore)
    }

    /// SPEC.md §6.2, §7.3: after a declined awaitAnswer offer the next OFFER is welcome, a
    /// CANCEL is not.
    @Test func declinedAwaitAnswerOfferLeavesIdle() {
        var machine = Self.greeted()
        _ = machine.receive(.record(.offer(Self.awaiting)))
        machine.declined(Self.awaiting)
        #expect(machine.receive(.record(.offer(Self.offer))) == .offer(Self.offer))
        var other = Self.greeted()
        _ = other.receive(.record(.offer(Self.awaiting)))
        other.declined(Self.awaiting)
        #expect(Self.isFailure(other.receive(.record(.cancel(Cancel(code: .cancelled, message: ""))))))
    }
}

/// Names are checked and split as bytes (SPEC.md §9).
@Suite struct WireNameTests {
    static func refused(_ name: String) -> Bool {
        do {
            _ = try WireName(validating: name)
            return false
        } catch {
            return error.wireCode == .badName
        }
    }

    @Test(arguments: [
        "../\u{301}x", "a/\u{200D}/../b", ".xfer/\u{301}x", ".XFER/x", ".Xfer", "/abs", "a//b", "a/",
        ".", "a/./b", "a\u{85}b", "a\u{9B}b", "a\u{202E}txt.exe", "a\u{2066}b", "tab\there", "del\u{7F}", "",
        String(repeating: "n", count: 256), String(repeating: "a/", count: 2100) + "x",
    ])
    func hostileNamesAreRefused(_ name: String) {
        #expect(Self.refused(name), "\(name.debugDescription) was accepted")
    }

    @Test func separatorsAreBytes() throws {
        // "/" followed by a combining mark is one Character but two path bytes apart.
        let name = try WireName(validating: "lnk/\u{200D}/keys")
        #expect(name.components == ["lnk", "\u{200D}", "keys"])
        let accent = try WireName(validating: "dir/\u{301}x")
        #expect(accent.components.map { Array($0.utf8) } == [Array("dir".utf8), [0xCC, 0x81, 0x78]])
    }

    @Test func ordinaryNamesKeepTheirBytes() throws {
        // "..\u{301}" is not "..": the kernel sees four bytes, an ordinary name.
        for text in [
            "caf\u{E9}", "cafe\u{301}", "..\u{301}/x", "photos/2024/a b.jpg", ".hidden", "..dots", "x.xfer/y",
            "a/.xfer",
        ] {
            let name = try WireName(validating: text)
            #expect(name.components.joined(separator: "/") == text)
            #expect(Array(name.components.joined(separator: "/").utf8) == Array(text.utf8))
        }
    }
}
