import Framing

/// A name from an OFFER, checked and split into path components (SPEC.md §9).
///
/// Everything here works on the name's UTF-8 **bytes**. A Swift `Character` is a grapheme
/// cluster: `"/"` followed by a combining mark (U+0301) or a zero-width joiner is one
/// `Character`, so splitting on `Character("/")` would miss a separator that the kernel
/// sees, and `"..\u{301}"` would pass a component check that `".."` fails. The kernel
/// splits on the byte 0x2F, so we do too.
struct WireName: Equatable, Sendable {
    /// The name as it came.
    let text: String
    /// The components, split on the byte 0x2F; each is non-empty and not `.` or `..`.
    let components: [String]

    /// The file's own name (the last component).
    var leaf: String { components[components.count - 1] }
    /// The directories above the file, outermost first.
    var directories: ArraySlice<String> { components.dropLast() }

    /// Checks `text` against SPEC.md §9.
    /// - Throws: ``TransferError/refused(code:message:)`` with `badName` and the reason.
    init(validating text: String) throws(TransferError) {
        func bad(_ reason: String) -> TransferError { .refused(code: .badName, message: "name \(reason)") }
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw bad("is empty") }
        if bytes.count > ProtocolLimits.maxNameBytes {
            throw bad("is longer than \(ProtocolLimits.maxNameBytes) bytes")
        }
        if bytes[0] == WireName.slash { throw bad("is absolute: '\(text.debugDescription)'") }
        if let reason = WireName.forbiddenSequence(in: bytes) { throw bad("contains \(reason)") }
        let parts = bytes.split(separator: WireName.slash, omittingEmptySubsequences: false)
        for part in parts {
            if part.isEmpty { throw bad("has an empty component: \(text.debugDescription)") }
            if part.elementsEqual([0x2E]) || part.elementsEqual([0x2E, 0x2E]) {
                throw bad("must not have '.' or '..' components: \(text.debugDescription)")
            }
            if part.count > ProtocolLimits.maxNameComponentBytes {
                throw bad("has a component longer than \(ProtocolLimits.maxNameComponentBytes) bytes")
            }
        }
        if WireName.isReserved(parts[0]) {
            throw bad(
                "must not start with '\(WireName.reservedFirstComponent)' (in any case): it holds the receiver's state"
            )
        }
        self.text = text
        // Splitting valid UTF-8 at 0x2F (never part of a multi-byte sequence) leaves valid
        // UTF-8, so each component converts back to exactly its bytes.
        components = parts.map { String(decoding: $0, as: UTF8.self) }
    }

    private static let slash = UInt8(ascii: "/")

    /// The receiver's state directory in its target (SPEC.md §9): no name may start with it.
    static let reservedFirstComponent = ".xfer"

    /// Whether a first component names the state directory, compared ASCII-case-insensitively
    /// so that a case-insensitive file system cannot be led into it either.
    private static func isReserved(_ component: ArraySlice<UInt8>) -> Bool {
        let reserved = Array(WireName.reservedFirstComponent.utf8)
        return component.count == reserved.count
            && zip(component, reserved).allSatisfy { (a, b) in (a | (a >= 0x41 && a <= 0x5A ? 0x20 : 0)) == b }
    }

    /// A byte sequence that no name may hold, described, or `nil`.
    ///
    /// C0 controls and DEL, C1 controls (U+0080–U+009F: `0x9B` is a terminal's CSI), and
    /// the bidirectional embedding, override and isolate controls (U+202A–U+202E,
    /// U+2066–U+2069), which make a name display as another.
    private static func forbiddenSequence(in bytes: [UInt8]) -> String? {
        for index in bytes.indices {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7F { return "a control character (byte 0x\(String(byte, radix: 16)))" }
            guard index + 1 < bytes.count else { continue }
            let next = bytes[index + 1]
            if byte == 0xC2 && (0x80...0x9F).contains(next) {
                return "a C1 control character (U+00\(String(next, radix: 16, uppercase: true)))"
            }
            guard index + 2 < bytes.count, byte == 0xE2 else { continue }
            let last = bytes[index + 2]
            if (next == 0x80 && (0xAA...0xAE).contains(last)) || (next == 0x81 && (0xA6...0xA9).contains(last)) {
                return "a bidirectional control character"
            }
        }
        return nil
    }
}
