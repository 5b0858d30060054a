#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A failed system call: which one, on what, and the `errno` it left.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    /// The call, e.g. `"open"`.
    public var operation: String
    /// What it was called on (a path, an address), if anything.
    public var subject: String?
    /// The `errno` value the call left.
    public var errno: CInt

    /// Captures the current `errno` unless one is given.
    public init(_ operation: String, _ subject: String? = nil, errno: CInt = Glibc.errno) {
        self.operation = operation
        self.subject = subject
        self.errno = errno
    }

    /// The C library's text for `errno`, e.g. "No such file or directory".
    public var reason: String { String(cString: strerror(errno)) }

    /// `operation subject: reason`.
    public var description: String {
        if let subject { return "\(operation) \(subject): \(reason)" }
        return "\(operation): \(reason)"
    }
}

/// Calls `body` until it does not fail with `EINTR`; throws ``SystemError`` on -1.
@discardableResult
func retryingInterrupts<T: FixedWidthInteger>(
    _ operation: String,
    _ subject: String? = nil,
    _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        if errno == EINTR { continue }
        throw SystemError(operation, subject)
    }
}

extension SystemError {
    /// Runs `body`, giving a ``SystemError`` it throws `subject`: the name of the file a
    /// descriptor's call worked on, which the descriptor does not know.
    static func naming<T>(_ subject: String, _ body: () throws(SystemError) -> T) throws(SystemError) -> T {
        do throws(SystemError) {
            return try body()
        } catch {
            var named = error
            named.subject = subject
            throw named
        }
    }
}

/// `count` bytes from the kernel's random source (`getrandom`, retried until filled).
func randomBytes(_ count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    var generator = SystemRandomNumberGenerator()
    for index in bytes.indices { bytes[index] = generator.next() }
    return bytes
}
