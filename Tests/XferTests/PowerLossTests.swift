import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Power losses (issue 16): scripts/powerloss/lazyfs.py is a FUSE file system that keeps,
// at a simulated power loss, only what fsync (files, their extended attributes too) and
// fsyncdir (directory entries) made durable; scripts/powerloss/drive.py runs the real
// receiver on it and real senders against it, loses power at random moments and before
// every operation of chosen scenarios, and checks the durable image against what the
// senders were told.

extension Integration {
    @Suite(.enabled(if: powerLossRunnable, "power-loss simulator unavailable (and CI is not set)"))
    struct PowerLoss {
        @Test(
            "The simulator itself: unsynced data lost, a new entry lost without a sync of its directory, both synced survive, extended attributes durable at fsync only; 7 broken simulators caught"
        )
        func simulatorSemantics() {
            guard requirePowerLoss() else { return }
            let result = powerLossDriver(["validate", "--mutants"])
            print(result.stdout)
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            // 19 cases, each named: a run that checked nothing must not pass.
            #expect(result.stdout.contains("validation: 19 of 19 cases hold"), "\(result.stdout)")
            #expect(!result.stdout.contains("DOES NOT HOLD"))
            // And the checks can fail: a simulator broken in any one rule fails them.
            #expect(result.stdout.contains("mutants: 7 of 7 caught"), "\(result.stdout)")
        }

        // Strict on purpose: every file confirmed to a sender must survive every power
        // loss. Against the receiver of issue 16's time this fails, and is meant to until
        // that issue's receiver fixes land: 20-file batches are synced with syncfs, which
        // reaches no FUSE daemon (confirmed files come back empty, item 2); a directory
        // made by another connection, or by a receiver killed before it synced it, is taken
        // as durable (confirmed files vanish with it, items 1(a) and 1(b)), and so is one
        // whose parent's sync failed once (item 1(c)). The checks can all hold: a receiver
        // changed only to fsync file by file and to sync every directory on each committed
        // path had 0 violations here, in this run and in scripts/powerloss/long-run.sh.
        // The blocks scenarios (protocol 1.3): a ~6 MiB file in 64 KiB blocks over 4
        // connections, and the same cut mid-way then sent again, which must reuse the blocks
        // the receiver kept (recorded in the partial's user.xfer.blocks). Their crash points
        // add about 20 s, hence a budget of 175 s (150 before them).
        @Test(
            "Short run: every crash point of the 1-file, nested and blocks-resume scenarios, every 3rd/4th of the 5- and 20-file ones, a receiver killed at each step of the nested one, each step failing once (EIO), two senders racing into a new directory, random power losses (blocks scenarios included); 0 violations"
        )
        func shortRun() {
            guard requirePowerLoss() else { return }
            let started = Date()
            let result = powerLossDriver([
                "run", "--seed", "16", "--rounds", "36", "--jitter", "0.05",
                "--enumerate", "one,nested,five,twenty,blocks-resume", "--enumerate-kills", "nested",
                "--enumerate-errors", "nested", "--races", "3",
                "--stride-for", "five=3,twenty=4", "--budget", "175",
            ])
            let seconds = Date().timeIntervalSince(started)
            let summary = result.stdout.components(separatedBy: "\npower-loss simulator:").last ?? ""
            print("PowerLoss short run, \(String(format: "%.0f", seconds)) s:\npower-loss simulator:\(summary)")
            let violations = result.stdout.split(separator: "\n").filter { $0.hasPrefix("VIOLATION") }
            #expect(
                result.status == 0 && violations.isEmpty,
                "exit \(result.status); \(violations.count) violations, first ones:\n\(violations.prefix(20).joined(separator: "\n"))\n\(result.stderr.suffix(2000))"
            )
            // The run did what it says: rounds ran and power was lost mid-send.
            let rounds = Int(summary.split(separator: " ").first ?? "") ?? 0
            #expect(rounds >= 60, "only \(rounds) rounds ran")
            let midSend =
                Int(
                    summary.components(separatedBy: " power losses during a send").first?.split(separator: " ").last
                        ?? ""
                ) ?? 0
            #expect(midSend >= 50, "power was lost during a send only \(midSend) times")
            let clean = summary.contains("violations: 0\n")
            #expect(clean, "the summary does not say 0 violations")
        }
    }
}

/// Runs scripts/powerloss/drive.py with the system python3 (where Debian puts pyfuse3)
/// against the xfer binary of this build.
private func powerLossDriver(_ arguments: [String]) -> Finished {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [powerLossScript] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["XFER_BINARY"] = xferBinary
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let stdout = PipeCollector(out)
    let stderr = PipeCollector(err)
    try! process.run()
    // A watchdog, not a synchronisation: a driver stuck past 10 minutes is stopped (SIGTERM
    // unmounts its simulators) and the test fails on its status.
    let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + 600, execute: watchdog)
    process.waitUntilExit()
    watchdog.cancel()
    return Finished(status: process.terminationStatus, stdout: stdout.waitForEnd(), stderr: stderr.waitForEnd())
}

private let powerLossScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("scripts/powerloss/drive.py").path

/// What the simulator needs that is missing here, if anything.
private let powerLossMissing: String? = {
    if getuid() != 0 { return "root (to mount a FUSE file system)" }
    if !FileManager.default.fileExists(atPath: "/dev/fuse") { return "/dev/fuse" }
    if shell("/usr/bin/python3 -c 'import pyfuse3, trio'").status != 0 { return "python3-pyfuse3 (Debian)" }
    if !commandExists("fusermount3") && !FileManager.default.isExecutableFile(atPath: "/usr/bin/fusermount3") {
        return "fuse3 (fusermount3)"
    }
    return nil
}()

/// Without what the simulator needs the tests are skipped, except in CI, where they run to fail.
private let powerLossRunnable: Bool = {
    guard let missing = powerLossMissing else { return true }
    if ProcessInfo.processInfo.environment["CI"] != nil { return true }
    print("PowerLoss tests skipped: they need \(missing) (and CI is not set)")
    return false
}()

private func requirePowerLoss() -> Bool {
    if let missing = powerLossMissing {
        Issue.record("the power-loss simulator needs \(missing) when CI is set, and it is missing")
        return false
    }
    return true
}
