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

        @Test(
            "Option values out of range are usage errors (64), never a crash",
            arguments: [
                ["send", "--timeout", "1e19", "-", "127.0.0.1:1"], ["send", "--timeout", "1e-7", "-", "127.0.0.1:1"],
                ["send", "--keepalive", "1e10", "-", "127.0.0.1:1"],
                ["send", "--connect-timeout", "3000000", "-", "127.0.0.1:1"],
                ["send", "--timeout", "nan", "-", "127.0.0.1:1"], ["send", "--timeout", "-1", "-", "127.0.0.1:1"],
                ["send", "--name", String(repeating: "n", count: 5000), "-", "127.0.0.1:1"],
                ["send", "--name", "a/../b", "-", "127.0.0.1:1"],
                ["receive", "--timeout", "1e19", "--listen", "127.0.0.1:0"],
                ["receive", "--max-connections", "99999999999999999999", "--listen", "127.0.0.1:0"],
                ["receive", "--keep-partials", "9999999999d", "--listen", "127.0.0.1:0"],
                ["receive", "--umask", "1777", "--listen", "127.0.0.1:0"],
            ]
        )
        func valuesOutOfRange(_ arguments: [String]) {
            let result = xfer(arguments, input: Data())
            #expect(result.status == 64, "\(arguments.prefix(3)): \(result.stderr)")
            #expect(result.stderr.contains("xfer: error:"), "\(result.stderr)")
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
                (["receive", "--listen", "127.0.0.1:0", "--exec", " "], "--exec: no command"),
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
