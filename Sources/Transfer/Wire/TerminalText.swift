/// Text from the wire made safe for a terminal or a text log: it can neither move the
/// cursor, clear the screen, start a new (forged) log line, nor reorder what a reader sees.
///
/// Escaped: C0 controls (U+0000–U+001F, newline and tab too), DEL, the C1 controls
/// (U+0080–U+009F, whose U+009B is a terminal's CSI), the bidirectional marks, embeddings,
/// overrides and isolates (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), and the
/// backslash itself, so that an escape in the output always means an escaped character:
/// `\x1b`, `\u{202e}`, `\\`. Everything else passes unchanged.
public enum TerminalText {
    /// `text` with every control, bidi control and backslash escaped.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if scalar == "\\" {
                out += "\\\\"
            } else if needsEscape(scalar) {
                let digits = String(scalar.value, radix: 16)
                out +=
                    scalar.value < 0x100
                    ? "\\x" + String(repeating: "0", count: 2 - digits.count) + digits : "\\u{" + digits + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x5C, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
