#if canImport(Glibc)
    import Glibc
#endif

/// The one progress line a reporter redraws in place on a terminal (stderr): carriage
/// return and erase-to-end-of-line before each drawing, and once more to clear it before
/// anything else is printed there.
struct ProgressLine {
    /// Whether a line stands on the terminal now.
    private(set) var shown = false

    /// Replaces the line on the terminal with `text` (already fitted to its width).
    mutating func draw(_ text: String) {
        writeAll(STDERR_FILENO, "\r\u{1B}[K\(text)")
        shown = true
    }

    /// Erases the line, if one is shown.
    mutating func clear() {
        guard shown else { return }
        writeAll(STDERR_FILENO, "\r\u{1B}[K")
        shown = false
    }
}
