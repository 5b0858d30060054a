import Foundation
import Framing
import Testing

/// The authenticated handshake and the sealed record layer of SPEC.md §13 against
/// Tests/Vectors/auth.json, which an independent Python encoding computed.
@Suite struct AuthenticationVectorTests {
    @Test func keyTextIsStrict() {
        let text = "xfer-key-1 " + String(repeating: "0f", count: 32)
        #expect(AuthenticationKey(text: text)?.bytes == [UInt8](repeating: 0x0F, count: 32))
        #expect(AuthenticationKey(text: text + "\n")?.text == text + "\n")
        for bad in [
            "xfer-key-1 00", "other " + String(repeating: "0", count: 64), text.uppercased(),
            "xfer-key-1 " + String(repeating: "0F", count: 32), text + "\r\n", text + "\n\n", " " + text,
            text.replacingOccurrences(of: " ", with: "  "), text + " ",
        ] {
            #expect(AuthenticationKey(text: bad) == nil, "accepted \(bad.debugDescription)")
        }
    }
}
