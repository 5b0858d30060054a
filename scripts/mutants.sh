#!/usr/bin/env bash
# Breaks xfer's promises on purpose, one at a time, and checks that the test suite notices.
#
#   scripts/mutants.sh [NAME ...]      # all mutants, or only those named
#   MUTANTS_FULL=1 scripts/mutants.sh  # run the whole suite for each, not its named suites
#
# Each mutant is a named set of exact text replacements in one source file. The script
# copies the repository once to a scratch directory (so the work tree is never touched, and
# edits made there while it runs do not mix in), and for each mutant restores the pristine
# sources, applies the replacements (failing loudly if a text is not found: a mutant that
# no longer applies is a bug of this script), builds incrementally and runs the tests. Killed = some test failed (or the build broke, which
# counts as "not run" and fails the script). Survived = every test passed: a promise that
# no test checks. Exit status 0 only when every mutant was killed.
#
# By default each mutant runs the suites that should catch it (the `filter` column), to
# keep a full run near 15 minutes on 2 cores; MUTANTS_FULL=1 runs everything every time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scratch=${MUTANTS_DIR:-/tmp/xfer-mutants}

python3 - "$root" "$scratch" "$@" <<'PY'
import os, shutil, subprocess, sys

root, scratch, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
R = "Sources/Transfer/"
F = "Sources/Framing/"

# name, file, old text, new text, suites that should kill it (a swift test --filter regex),
# or COMPILE: the mutant must not build (the type system is what keeps the promise).
COMPILE = "(must not compile)"
MUTANTS = [
    ("no-file-fsync", R + "Receiver/Commit/Committer+DataSync.swift",
     "try system.syncFile(stream.partial.file)", "if false { try system.syncFile(stream.partial.file) }",
     "Durability|CommitterTests"),
    ("no-directory-fsync", R + "Receiver/Commit/DirectorySyncs.swift",
     "try system.syncDirectory(entry.handle)", "if false { try system.syncDirectory(entry.handle) }",
     "Durability|CommitterTests"),
    ("no-syncfs", R + "Receiver/Commit/Committer+DataSync.swift",
     "try system.syncFileSystem(syncHandle)", "if false { try system.syncFileSystem(syncHandle) }",
     "Durability"),
    ("sync-errors-ignored", R + "System/FileDescriptor.swift",
     'try retryingInterrupts("fsync") { fsync(unixDescriptor) }', "_ = fsync(unixDescriptor)",
     "Durability"),
    ("syncfs-errors-ignored", R + "System/FileDescriptor.swift",
     'try retryingInterrupts("syncfs") { xfer_sync_filesystem(unixDescriptor) }',
     "_ = xfer_sync_filesystem(unixDescriptor)",
     "Durability"),
    ("writeback-errors-ignored", R + "System/FileDescriptor.swift",
     'try retryingInterrupts("sync_file_range") { xfer_wait_writeback(unixDescriptor, Int64(offset), Int64(length)) }',
     "_ = xfer_wait_writeback(unixDescriptor, Int64(offset), Int64(length))",
     "Durability"),
    ("end-digest-check-skipped", R + "Receiver/Connection/ReceiverStateMachine.swift",
     "if end.digest != digest.value {", "if false {",
     "ReceiverStateMachine|Failures|HostilePeers|ReceiverConformance"),
    ("end-length-check-skipped", R + "Receiver/Connection/ReceiverStateMachine.swift",
     "if end.totalLength != received || (declaredSize.map { $0 != received } ?? false) {",
     "if false {",
     "ReceiverStateMachine|Failures|HostilePeers|ReceiverConformance|ReceiverPromises|ReceiverIntegrity"),
    ("data-past-size-check-skipped", R + "Receiver/Connection/ReceiverStateMachine.swift",
     "if let size = declaredSize, UInt64(bytes.count) > size - received {",
     "if let size = declaredSize, false {",
     "ReceiverStateMachine|Failures|HostilePeers|ReceiverPromises|ReceiverIntegrity"),
    ("already-committed-identity-skipped", R + "Receiver/Connection/OfferDecision.swift",
     "offer.size == nil || offer.size == entry.length, existing == entry.identity",
     "offer.size == nil || offer.size == entry.length, existing.size == entry.length",
     "OfferDecision|ReceiverPromises|Transfers"),
    ("ack-before-commit", R + "Receiver/Connection/ReceiverConnection+Commit.swift",
     "var outcomes = committer.commit(batch)",
     "for early in batch { writer.enqueue(.ack(Ack(transferID: early.offer.transferID, "
     "committedLength: early.partial.length, digest: early.digest, durable: true))) }\n"
     "        try? writer.flush()\n        var outcomes = committer.commit(batch)",
     "Durability"),
    ("names-split-by-character", R + "Wire/WireName.swift",
     "let parts = bytes.split(separator: WireName.slash, omittingEmptySubsequences: false)",
     'let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { ArraySlice(Array($0.utf8)) }',
     "WireNameTests|ReceiverPromises"),
    ("no-part-lock", R + "Receiver/Storage/PartialFile.swift",
     "guard try file.tryLockExclusive() else { return .locked }", "",
     "ReceiverPromises"),
    ("no-destination-mount-check", R + "Receiver/Storage/TargetDirectory+DestinationChecks.swift",
     "if UInt64(try where_.status().st_dev) != device || TargetDirectory.mountID(of: where_) != mount {",
     "if false {",
     "ReceiverPromises"),
    ("no-writable-check", R + "Receiver/Storage/TargetDirectory+DestinationChecks.swift",
     "try where_.checkWritable()", "",
     "ReceiverPromises"),
    ("already-committed-ack-out-of-order", R + "Receiver/Connection/ReceiverConnection+Offers.swift",
     "            try commitPending(committer)\n            answer(offer, .alreadyCommitted",
     "            answer(offer, .alreadyCommitted",
     "ReceiverPromises"),
    ("idle-clock-counts-records", R + "Wire/RecordReader.swift",
     [("                lastInput = now\n                try onIdle(wait(now))", "                try onIdle(wait(now))"),
      ("if let message = try buffered() { return message }",
       "if let message = try buffered() {\n                lastInput = monotonicSeconds()\n                return message\n            }")],
     None,
     "ReceiverConformance"),
    ("silent-prefix-hash", R + "Receiver/Connection/ReceiverConnection+Offers.swift",
     "                try? writer.send(.keepAlive)", "                _ = writer",
     "ReceiverConformance"),
    # The sender: it must believe only ACKs that are true.
    ("sender-accepts-any-ack", R + "Sender/SenderLedger.swift",
     "if ack.committedLength == expected.length && ack.digest == expected.digest {", "if true {",
     "SenderTrust|SenderLedgerTests"),
    ("sender-ignores-digest", R + "Sender/SenderLedger.swift",
     "if ack.committedLength == expected.length && ack.digest == expected.digest {",
     "if ack.committedLength == expected.length {",
     "SenderTrust|SenderLedgerTests"),
    ("sender-ignores-length", R + "Sender/SenderLedger.swift",
     "if ack.committedLength == expected.length && ack.digest == expected.digest {",
     "if ack.digest == expected.digest {",
     "SenderTrust|SenderLedgerTests"),
    ("sender-ignores-durable-flag", "Sources/xfer/ExitCode.swift",
     "if !allowNondurable && report.confirmed.contains(where: { !$0.delivery.durable }) { return .notDurable }", "",
     "SenderTrust"),
    ("sender-accepts-ack-before-end", R + "Sender/SenderLedger.swift",
     "if answer.decision == .accept && stream.expected == nil {", "if false {",
     "SenderTrust|SenderLedgerTests"),
    # Authentication and admission (issue 8).
    ("receiver-accepts-any-proof", R + "Receiver/Connection/ReceiverHandshake.swift",
     "guard transcript.verify(proof, .client, key: key) else {", "guard true else {",
     "Authentication"),
    ("sender-trusts-any-server-proof", R + "Sender/SenderSession+Authentication.swift",
     "guard transcript.verify(proof, .server, key: key) else {", "guard true else {",
     "Authentication"),
    # The sealed record layer (issue 14): what an attacker on the path can change must fail.
    ("aead-tag-unchecked", "Sources/CXferCrypto/aead.c",
     "evp.cipher_final(aead->ctx, end, &written) == 1 && written == 0;",
     "(evp.cipher_final(aead->ctx, end, &written), 1);",
     "SealedRecordTests|ManInTheMiddle|AEADTests"),
    ("failed-open-ignored", F + "Records/RecordDecoder.swift",
     "        guard opened else {\n            throw .sealBroken(",
     "        guard opened || true else {\n            throw .sealBroken(",
     "SealedRecordTests|ManInTheMiddle"),
    ("record-after-failed-open", F + "Records/RecordDecoder.swift",
     "            state = .failed(failure)\n            throw failure",
     "            if case .sealBroken = failure { state = .awaitingHeader } else { state = .failed(failure) }\n"
     "            throw failure",
     "SealedRecordTests|ManInTheMiddle"),
    ("unsealed-records-accepted", F + "Records/RecordDecoder.swift",
     'throw .sealBroken("an unsealed \\(kind) record where only SEALED records may come")',
     "return try Record.decode(kind: kind, flags: flags, payload: payload)",
     "SealedRecordTests|ManInTheMiddle"),
    ("nonce-reused", F + "Crypto/Authentication.swift",
     "for index in 0..<8 { nonce[4 + index] ^= UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(index))) }",
     "",
     "SealedRecordTests|AuthenticationVectorTests|ManInTheMiddle"),
    ("direction-not-in-keys", F + "Crypto/Authentication.swift",
     'info: Array("xfer-1.2 \\(role.rawValue) \\(what)".utf8) + h,', 'info: Array("xfer-1.2 \\(what)".utf8) + h,',
     "SealedRecordTests|AuthenticationVectorTests"),
    ("ack-binding-without-name", F + "Crypto/AckBinding+Offer.swift",
     "Record.offer(offer).appendPayload(to: &payload)",
     'var unnamed = offer\n        unnamed.name = ""\n        Record.offer(unnamed).appendPayload(to: &payload)',
     "SealedRecordTests|AuthenticationVectorTests|Authentication"),
    ("sender-ignores-ack-binding", R + "Sender/SenderLedger.swift",
     "if requiresBinding, let offer = stream.offer,", "if false, let offer = stream.offer,",
     "Authentication"),
    ("sender-ignores-missing-goodbye", R + "Sender/SenderSession+Report.swift",
     "} else if !goodbyeReceived && options.key != nil {", "} else if false {",
     "ManInTheMiddle"),
    # Text from the wire never reaches a terminal or a log raw (issue 15).
    ("receiver-log-unescaped", R + "Receiver/ReceiverEvent.swift",
     "public var text: String { TerminalText.escaped(rawText) }", "public var text: String { rawText }",
     "TerminalText|WireTextOnTerminals"),
    ("sender-terminal-unescaped", "Sources/xfer/Output.swift",
     "    printError(TerminalText.escaped(line))", "    printError(line)",
     "TerminalText|WireTextOnTerminals"),
    # The type system is the test here: a proof must not be comparable with `==` (which stops
    # at the first differing byte), so this mutant must not even build.
    ("proof-compared-with-equals", F + "Crypto/Authentication.swift",
     "constantTimeEqual(proof.code, self.proof(role, key: key).code)", "proof == self.proof(role, key: key)",
     COMPILE),
    ("no-handshake-deadline", R + "Receiver/Connection/ReceiverConnection+Input.swift",
     "if monotonicSeconds() > deadline {", "if false {",
     "ReceiverLimits"),
    ("no-per-address-limit", R + "Receiver/Admission/AdmissionTable.swift",
     "if counts.total >= limits.perSource {", "if false {",
     "ReceiverLimits|AdmissionTable|ExposedReceiver"),
    ("no-handshake-eviction", R + "Receiver/Admission/AdmissionTable.swift",
     "let victim = handshakeVictim(newcomer: counts.handshaking)",
     "let victim = Optional<Ticket>.none",
     "ReceiverLimits|AdmissionTable"),
    ("no-source-penalty", R + "Receiver/Admission/AdmissionTable.swift",
     "if let failure, !entry.evicted { penalties.penalise(entry.source, for: failure, now: now) }",
     "_ = failure",
     "AdmissionTable|Authentication|ExposedReceiver"),
    ("penalised-source-admitted", R + "Receiver/Admission/AdmissionTable.swift",
     "if let left = penalties.remaining(for: source, now: now) {",
     "if let left = Optional<Double>.none {",
     "AdmissionTable|Authentication|ExposedReceiver"),
    ("eviction-ignores-heaviest-source", R + "Receiver/Admission/AdmissionTable.swift",
     "guard let heaviest = heaviestSource(in: live.values.map(\\.source)), heaviest.count > newcomer + 1 else {",
     "guard let heaviest = heaviestSource(in: live.values.map(\\.source)), heaviest.count < 0 else {",
     "AdmissionTable|ExposedReceiver"),
    ("no-served-share", R + "Receiver/Admission/AdmissionTable.swift",
     "let heaviest = heaviestSource(in: live.values.map(\\.source)), heaviest.count > own + 1,",
     "let heaviest = heaviestSource(in: live.values.map(\\.source)), heaviest.count < 0,",
     "ReceiverLimits|AdmissionTable"),
    ("no-record-rate-floor", R + "Receiver/Connection/ReceiverConnection+Input.swift",
     "if wait.insideRecord > timeout + size / floor {", "if false {",
     "ReceiverLimits"),
    ("handshake-records-unbounded", R + "Receiver/Connection/ReceiverConnection.swift",
     "reader.limitPayload(to: ProtocolLimits.maxHandshakePayload)", "",
     "ExposedReceiver"),
    ("log-not-rate-limited", R + "Receiver/Receiver.swift",
     "let log: @Sendable (ReceiverEvent) -> Void = { event in limiter.log(event, from: source, to: log) }",
     "let log = log",
     "WireTextOnTerminals|AdmissionTable"),
    ("partials-cap-at-expiry-only", R + "Receiver/Connection/ReceiverConnection+Ending.swift",
     "for removed in partials.enforce() {", "for removed in [KeptPartial]() {",
     "ExposedReceiver"),
    ("no-directory-lock", R + "Receiver/Storage/TargetDirectory.swift",
     "locked = try lock.tryLockExclusive()", "locked = true",
     "ReceiverPromises"),
    ("no-descriptor-budget", R + "Receiver/Commit/DescriptorBudget.swift",
     "guard count > 0 else { return false }", "guard count > 0 || true else { return false }",
     "ReceiverLimits"),
    # (files-held-through-commit is gone: a commit now holds at most DirectorySyncs.limit
    # directories whatever the batch, so files held to the end no longer run out of
    # descriptors and no test can see it; descriptor-unbounded-walk guards the bound.)
    # A thread that cannot start is a clear failure, never a hang (issue 16 item 5): a
    # heartbeat whose thread did not start would leave stop() waiting forever.
    ("heartbeat-thread-unchecked", R + "Wire/RecordWriter.swift",
     'try DetachedThread.start("keep-alives") { [self] in', 'try? DetachedThread.start("keep-alives") { [self] in',
     "ThreadStart"),
    ("reader-thread-unchecked", R + "Sender/Sender.swift",
     'try DetachedThread.start("the reply reader") { session.readReplies(from: socket) }',
     'try? DetachedThread.start("the reply reader") { session.readReplies(from: socket) }',
     "ThreadStart"),
    # The commit journal's buckets split as they fill: no commit may be forgotten by it.
    # The commit path against a power loss (issue 16) and a moving target (issue 15).
    ("existing-path-directories-taken-as-durable", R + "Receiver/Storage/TargetDirectory+Walking.swift",
     [("            let next = try step(into: component, of: name, from: current, create: true)!",
       "            let existed = faccessat(current.unixDescriptor, component, F_OK, AT_SYMLINK_NOFOLLOW) == 0\n"
       "            let next = try step(into: component, of: name, from: current, create: true)!"),
      ("            visit(current, name.components[..<depth].joined(separator: \"/\"), DurableDirectories.Key(info))",
       "            if !existed { visit(current, name.components[..<depth].joined(separator: \"/\"), DurableDirectories.Key(info)) }")],
     None, "CommitPath"),
    ("failed-directory-sync-marks-durable", R + "Receiver/Commit/DirectorySyncs.swift",
     "durable.remove(entry.vouches)", "durable.insert(entry.vouches)",
     "CommitPath|CommitterTests"),
    ("no-size-check-at-commit", R + "Receiver/Commit/Committer.swift",
     "guard size == stream.partial.length else {", "guard size == size else {",
     "CommitPath"),
    ("partial-not-append", R + "Receiver/Storage/PartialFile.swift",
     "flags: O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW,", "flags: O_RDWR | O_CREAT | O_NOFOLLOW,",
     "CommitPath"),
    ("kept-partial-not-synced", R + "Receiver/Connection/ReceiverConnection+Ending.swift",
     "let synced = keep && (try? incoming.partial.file.sync()) != nil && (try? directory.syncStateDirectory()) != nil",
     "let synced = keep",
     "CommitPath"),
    ("kept-partial-directory-not-synced", R + "Receiver/Connection/ReceiverConnection+Ending.swift",
     "let synced = keep && (try? incoming.partial.file.sync()) != nil && (try? directory.syncStateDirectory()) != nil",
     "let synced = keep && (try? incoming.partial.file.sync()) != nil",
     "CommitPath"),
    ("journal-not-synced", R + "Receiver/Commit/CommitJournal.swift",
     "try SystemError.naming(name) { () throws(SystemError) in try file.syncData() }", "",
     "CommitPath"),
    ("moved-directory-not-rechecked", R + "Receiver/Commit/Committer.swift",
     "let found = directory.directoryKey(of: stream.name) == parents[index]", "let found = parents[index] != nil",
     "CommitPath"),
    ("descriptor-unbounded-walk", R + "Receiver/Commit/DirectorySyncs.swift",
     "if owed.count >= DirectorySyncs.limit { flush() }", "",
     "CommitPath"),
    ("syncfs-on-any-file-system", R + "Receiver/Commit/Committer+DataSync.swift",
     "|| !directory.syncfsIsBarrier ", "",
     "CommitPath"),
    ("journal-split-drops-lines", R + "Receiver/Commit/CommitJournal+Buckets.swift",
     "try replace(deeper, with: bytes + CommitJournal.lines(try contents(of: deeper)).flatMap { $0 + [0x0A] })",
     "try replace(deeper, with: CommitJournal.lines(try contents(of: deeper)).flatMap { $0 + [0x0A] })",
     "ReceiverStateTests"),
    ("journal-split-older-lines-last", R + "Receiver/Commit/CommitJournal+Buckets.swift",
     "try replace(deeper, with: bytes + CommitJournal.lines(try contents(of: deeper)).flatMap { $0 + [0x0A] })",
     "try replace(deeper, with: CommitJournal.lines(try contents(of: deeper)).flatMap { $0 + [0x0A] } + bytes)",
     "ReceiverStateTests"),
    # xfer send --run (issue 19): a producer's failure is never committed as a whole stream.
    ("run-exit-status-ignored", R + "Sender/SenderWriter+Stream.swift",
     "guard status.succeeded else {", "guard status.succeeded || true else {",
     "ProducerCommand"),
    ("producer-signals-inherited", R + "System/ChildProcess.swift",
     "posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))", "",
     "ProducerCommand"),
    ("producer-left-running", R + "Sender/SenderWriter+Stream.swift",
     "if let producer { producer.stop() }", "if let producer { close(producer.output) }",
     "ProducerCommand"),
    ("rename-failure-drops-partial", R + "Receiver/Commit/Committer.swift",
     "outcomes[index] = .failed(error.code, \"'\\(stream.name.text)': \\(error.message)\", keptPartial: true)",
     "outcomes[index] = .failed(error.code, \"'\\(stream.name.text)': \\(error.message)\", keptPartial: false)",
     "CommitterTests"),
    ("data-sync-nospace-as-io", R + "Receiver/Commit/Committer+DataSync.swift",
     "error.isNoSpace ? .noSpace : .ioError,", ".ioError,",
     "CommitterTests"),
    ("stream-zero-id-accepted", F + "Records/Record+Payload.swift",
     "    guard id != .none else {\n        throw .invalidField(kind: kind, field: \"transfer id\"",
     "    guard true else {\n        throw .invalidField(kind: kind, field: \"transfer id\"",
     "HostilePeers|VectorTests"),
    ("state-open-blocks-on-fifo", R + "System/FileDescriptor.swift",
     "let file = try open(path, in: directory, flags: flags | O_NONBLOCK, mode: mode)",
     "let file = try open(path, in: directory, flags: flags, mode: mode)",
     "StateTampering"),
    ("hard-linked-partial-resumed", R + "Receiver/Storage/TargetDirectory+Partials.swift",
     "guard info.st_nlink == 1 else {", "guard true else {",
     "StateTampering"),
    ("hard-linked-partial-committed", R + "Receiver/Commit/Committer.swift",
     "guard info.st_nlink == 1 else {", "guard true else {",
     "CommitterTests"),
    ("invalid-record-sent-anyway", R + "Wire/RecordWriter.swift",
     "if let invalid = queue.invalid { return SystemError(", "if false, let invalid = queue.invalid { return SystemError(",
     "RecordWriterTests"),
    ("accepted-socket-inherited", R + "System/Socket.swift",
     "xfer_accept_cloexec(fd, $0, &length)", "Glibc.accept(fd, $0, &length)",
     "Consumer"),
    ("exec-shares-plain-journal", R + "Receiver/Receiver.swift",
     'name: options.consumer.map(CommitJournal.journalName(consumer:)) ?? "commits"', 'name: "commits"',
     "Consumer"),
    ("consumer-left-running-at-stop", "Sources/xfer/ReceiveCommand.swift",
     "            StreamConsumer.stopAll()\n", "",
     "Consumer"),
    ("notify-waits-for-manager", R + "Service/ServiceNotifier.swift",
     "CInt(MSG_NOSIGNAL | MSG_DONTWAIT)", "CInt(MSG_NOSIGNAL)",
     "Service"),
    ("state-file-other-names-trusted", R + "System/FileDescriptor.swift",
     "guard !singleName || info.st_nlink == 1 else {", "guard true else {",
     "StateTampering"),
    ("consumer-status-ignored", R + "Receiver/Connection/ReceiverConnection+Commit.swift",
     "guard status.succeeded else {", "guard status.succeeded || true else {",
     "Consumer"),
    ("consumer-never-run", R + "Receiver/Connection/ReceiverConnection+Commit.swift",
     "if let consumer = options.consumer {", "if false, let consumer = options.consumer {",
     "Consumer"),
    ("consumer-without-keepalive", R + "Receiver/Connection/ReceiverConnection+Commit.swift",
     "var outcomes = committer.commit(batch)", "var outcomes = committer.commit(batch); heartbeat?.stop()",
     "Consumer"),
    ("layer-upward", R + "System/Endpoint.swift",
     "public struct Endpoint: Hashable", "typealias UpwardLayer = TargetDirectory\n\npublic struct Endpoint: Hashable",
     "Layering"),
    ("raw-descriptor-outside-system", R + "Receiver/Storage/PartialFile.swift",
     "_ = try? file.setMode(mode_t(offer.mode & 0o777) & ~umask)",
     "_ = fchmod(file.unixDescriptor, mode_t(offer.mode & 0o777) & ~umask)",
     "Layering"),
    ("records-need-crypto", F + "Records/RecordDecoder.swift",
     "public struct RecordDecoder", "typealias DecoderOpener = RecordOpener\n\npublic struct RecordDecoder",
     "Layering"),
    ("passed-socket-unchecked", R + "Service/SocketActivation.swift",
     "if let problem = problem(with: fd) {", "if false, let problem = problem(with: fd) {",
     "Service"),
    ("adopted-listener-shut-down", R + "Receiver/Receiver.swift",
     "if let listener = $0.listener, !$0.adopted {", "if let listener = $0.listener {",
     "Service"),
    ("service-never-ready", "Sources/xfer/ReceiveCommand.swift",
     'notify("READY=1\\nSTATUS=listening on \\(bound!)")', "",
     "Service"),
    # Issue 18: several connections (SPEC.md §16).
    ("block-accepted-twice", R + "Receiver/Session/BlockAssembly.swift",
     [("if let digest = state.digests[Int(index)] { return .duplicate(length: range.length, digest: digest) }", ""),
      ("if let digest = state.digests[Int(index)] { return .held(digest: digest) }", "")],
     None,
     "SessionRules"),
    ("block-outside-the-file", R + "Receiver/Session/BlockAssembly.swift",
     "guard let range = layout.range(of: index, size: size) else { return .outside }",
     "let range = layout.range(of: index, size: size) ?? (UInt64(index) * UInt64(layout.blockSize), 1)",
     "SessionRules"),
    ("missing-block-not-noticed", R + "Receiver/Session/BlockAssembly.swift",
     [("state.withLock { state in state.digests.firstIndex(of: nil).map { UInt32($0) } }", "nil"),
      ("guard state.heldCount == state.digests.count else { return nil }\n            return blockTreeDigest(state.digests.lazy.map { $0! })",
       "return blockTreeDigest(state.digests.compactMap { $0 })")],
     None,
     "SessionRules"),
    ("block-digest-unchecked", R + "Receiver/Connection/ReceiverStateMachine.swift",
     "guard end.digest == open.digest.value else {", "guard true else {",
     "SessionRules"),
    ("blocks-file-confirmed-unsynced", R + "Receiver/Commit/Committer+DataSync.swift",
     "try system.syncFile(stream.partial.file)", "if !stream.offer.blocks { try system.syncFile(stream.partial.file) }",
     "PowerLoss"),
    ("join-without-proof", R + "Receiver/Session/ReceiverSession.swift",
     "return constantTimeEqual(session.grant.token, join.token) ? session : nil", "return session",
     "SessionRules"),
    ("join-limit-ignored", R + "Receiver/Session/ReceiverSession.swift",
     "guard state.joined + 1 < granted else {", "guard true else {",
     "SessionRules"),
    ("lost-blocks-not-resent", R + "Sender/Blocks/BlockScheduler.swift",
     "                queue.append(index)\n", "",
     "MultiConnection"),
    ("blocks-partial-not-kept", R + "Receiver/Connection/ReceiverConnection+Ending.swift",
     "keep =\n                resumable && !held.isEmpty", "keep =\n                false && !held.isEmpty",
     "MultiConnection"),
]

names = [m[0] for m in MUTANTS]
for name in wanted:
    if name not in names:
        sys.exit("unknown mutant %r; known: %s" % (name, ", ".join(names)))
selected = [m for m in MUTANTS if not wanted or m[0] in wanted]

# One scratch copy, built once; each mutant then rebuilds incrementally. The pristine text
# of every mutated file is taken from the copy, so later edits of the work tree do not mix in.
os.makedirs(scratch, exist_ok=True)
shutil.copytree(root, scratch, dirs_exist_ok=True,
                ignore=lambda d, names: [n for n in names if n == ".git" or n.startswith(".build")])
files = sorted({m[1] for m in MUTANTS})
pristine = {f: open(os.path.join(scratch, f)).read() for f in files}
def restore():
    for f in files:
        with open(os.path.join(scratch, f), "w") as out:
            out.write(pristine[f])
def run(args, **kw):
    return subprocess.run(args, cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

print("building the pristine copy in %s ..." % scratch, flush=True)
b = run(["swift", "build", "--build-tests"])
if b.returncode != 0:
    sys.exit("the pristine copy does not build:\n" + b.stdout[-3000:])

full = os.environ.get("MUTANTS_FULL") == "1"
results = []
for name, path, old, new, suites in selected:
    restore()
    pairs = old if isinstance(old, list) else [(old, new)]
    text = pristine[path]
    missing = [o for o, _ in pairs if o not in text]
    if missing:
        results.append((name, "NOT APPLIED (text not found: %r)" % missing[0][:60], ""))
        continue
    for o, n in pairs:
        text = text.replace(o, n)
    open(os.path.join(scratch, path), "w").write(text)
    b = run(["swift", "build", "--build-tests"])
    if suites == COMPILE:
        errors = [l.split("error:", 1)[1].strip() for l in b.stdout.splitlines() if "error:" in l]
        verdict = "killed" if b.returncode != 0 else "SURVIVED"
        results.append((name, verdict, "the compiler: " + (errors[0] if errors else "it built")))
        print("%-36s %s" % (name, verdict), flush=True)
        continue
    if b.returncode != 0:
        errors = [l for l in b.stdout.splitlines() if "error:" in l]
        results.append((name, "BUILD FAILED", " ".join(errors[:2]) or b.stdout[-500:]))
        print("%-36s BUILD FAILED" % name, flush=True)
        continue
    args = ["swift", "test", "--skip-build"] + ([] if full else ["--filter", suites])
    t = run(args, timeout=1800)
    failed = [l for l in t.stdout.splitlines()
              if l.startswith("✘ Test ") and "failed after" in l and not l.startswith("✘ Test run with")]
    verdict = "killed" if t.returncode != 0 else "SURVIVED"
    results.append((name, verdict, "; ".join(l[7:].split(" failed after")[0] for l in failed[:3])))
    print("%-36s %s" % (name, verdict), flush=True)

restore()
print("\n| mutant | result | killed by |\n|---|---|---|")
for name, verdict, detail in results:
    print("| %s | %s | %s |" % (name, verdict, detail.replace("|", "/").replace("\n", " ")[:200]))
sys.exit(0 if all(v == "killed" for _, v, _ in results) else 1)
PY
