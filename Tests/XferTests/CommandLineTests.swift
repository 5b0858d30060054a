import Foundation
import Testing

extension Integration {
    /// The CLI as a new user meets it: help, version, wrong arguments, missing files.
    @Suite struct CommandLine {
        @Test func helpListsCommandsAndExitCodes() {
            let result = xfer(["--help"])
            #expect(result.status == 0)
            for needle in [
                "USAGE:", "send", "receive", "demo", "EXIT STATUS", "70", "connection lost before confirmation",
            ] {
                #expect(result.stdout.contains(needle), "\(needle)")
            }
            #expect(xfer(["send", "--help"]).stdout.contains("HOST[:PORT]"))
            #expect(xfer(["receive", "--help"]).stdout.contains("--listen HOST:PORT"))
        }

        @Test func version() {
            let result = xfer(["--version"])
            #expect(result.status == 0)
            #expect(result.stdout.hasPrefix("xfer 1."))
        }

        @Test(
            "Wrong arguments exit 64 with one sentence and the usage line",
            arguments: [
                ([], "USAGE"),
                (["frobnicate"], "unknown command 'frobnicate'"),
                (["send"], "missing PATH and HOST"),
                (["send", "/etc/hostname"], "missing HOST"),
                (["send", "--bogus", "/etc/hostname", "localhost"], "unknown option '--bogus'"),
                (["send", "/etc/hostname", "host:notaport"], "is not HOST or HOST:PORT"),
                (["send", "--timeout", "-1", "/etc/hostname", "localhost"], "--timeout"),
                (["receive", "--listen"], "needs a value"),
                (["receive", "extra"], "unexpected argument"),
            ]
        )
        func usageErrors(arguments: [String], message: String) {
            let result = xfer(arguments)
            #expect(result.status == 64)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stderr.contains("USAGE"))
        }

        @Test("A missing file fails before connecting, naming the file (74)")
        func missingFile() {
            let result = xfer(["send", "/no/such/file", "127.0.0.1:9"])
            #expect(result.status == 74)
            #expect(result.stderr.contains("'/no/such/file'"))
            #expect(result.stderr.contains("No such file or directory"))
        }

        @Test("The demo runs a real transfer and confirms it")
        func demo() {
            let result = xfer(["demo", "--size", "3000000"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("byte-for-byte identical"))
            #expect(result.stderr.contains("confirmed 1 file(s)"))
        }
    }
}
