import Transfer

#if canImport(Glibc)
    import Glibc
#endif

/// Writes to standard error, unbuffered: messages and progress lines must not wait.
func printError(_ text: String) {
    writeAll(STDERR_FILENO, text + "\n")
}

/// Writes one line that may carry text from the wire or the file system (a receiver's
/// message, a name, a path) to standard error, every control and bidi character escaped:
/// nothing received can draw on the terminal or forge a line.
func printReport(_ line: String, toStandardOutput: Bool = false) {
    if toStandardOutput {
        printLine(TerminalText.escaped(line))
    } else {
        printError(TerminalText.escaped(line))
    }
}

/// Writes all of `text` to a file descriptor, unbuffered.
func writeAll(_ fd: CInt, _ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}

/// Writes one line to standard output and flushes it (JSON events are read live).
func printLine(_ text: String) {
    writeAll(STDOUT_FILENO, text + "\n")
}

/// A JSON string literal for `text`.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let digits = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// One JSON object from ordered key/value pairs whose values are already JSON.
func jsonObject(_ pairs: [(String, String)]) -> String {
    "{" + pairs.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}"
}

/// Bytes for people: 1023 B, 1.5 KiB, 12.0 MiB, …
func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    if unit == 0 { return "\(bytes) B" }
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) \(units[unit])"
}

/// `value` with `digits` digits after the point (`%.3f` without Foundation's `String(format:)`).
func fixed(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return "\(value)" }
    let whole = UInt64(scaled)
    let unit = UInt64(scale)
    let sign = value < 0 && whole != 0 ? "-" : ""
    guard digits > 0 else { return sign + "\(whole)" }
    return sign + "\(whole / unit)." + zeroPadded(Int(whole % unit), digits)
}

/// `number` in decimal, at least `width` digits, zeros in front.
func zeroPadded(_ number: Int, _ width: Int) -> String {
    let digits = String(number)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// Seconds on the monotonic clock (`CLOCK_MONOTONIC`): durations and rates, immune to
/// changes of the wall clock.
func monotonic() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
