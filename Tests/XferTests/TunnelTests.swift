import Foundation
import Testing

extension Integration {
    /// The README's recipe for a TLS tunnel (socat with OpenSSL), run as written by
    /// scripts/tunnel-check.sh: the key decides who may write and confirm, the tunnel keeps
    /// the bytes secret and intact on the way.
    @Suite struct Tunnel {
        @Test("xfer through a socat TLS tunnel: delivered with the key; without it, 77 and nothing written")
        func socatTLS() {
            guard commandExists("socat") && commandExists("openssl") else {
                #expect(ProcessInfo.processInfo.environment["CI"] == nil, "CI must install socat and openssl")
                print("Tunnel: socat or openssl missing; skipped")
                return
            }
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/tunnel-check.sh").path
            let result = shell("timeout 120 '\(script)' '\(xferBinary)' </dev/null")
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("ok: 4 MiB through socat TLS"), "\(result.stdout)")
            #expect(result.stdout.contains("ok: without the key, exit 77"), "\(result.stdout)")
        }
    }
}
