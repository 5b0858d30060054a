#if canImport(Glibc)
    import Glibc
#endif

/// Tells the service manager how the service is doing (`sd_notify(3)`), by hand: one
/// datagram of `NAME=value` lines to the Unix socket `NOTIFY_SOCKET` names. With
/// `Type=notify`, systemd counts the receiver as started only at `READY=1`, so units
/// ordered after it start once it really accepts; `STOPPING=1` says a stop is under way.
public struct ServiceNotifier: Sendable {
    /// The socket's address as `NOTIFY_SOCKET` gave it: a path, or `@name` for a name in
    /// the abstract namespace.
    public let address: String

    /// The notifier `NOTIFY_SOCKET` asks for, if any; removes the variable from the
    /// environment, so that a child cannot speak for this service.
    public static func fromEnvironment() -> ServiceNotifier? {
        guard let value = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }) else { return nil }
        unsetenv("NOTIFY_SOCKET")
        return ServiceNotifier(address: value)
    }

    /// A notifier for the socket at `address` (a path, or `@name` for an abstract name).
    /// - Returns: `nil` when `address` is empty or does not fit a Unix socket address.
    public init?(address: String) {
        guard let first = address.utf8.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@"),
            address.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        else { return nil }
        self.address = address
    }

    /// Sends `state`, e.g. `"READY=1"` or `"STOPPING=1\nSTATUS=stopping"`.
    /// - Throws: ``SystemError`` when the datagram cannot be sent at once (the manager's
    ///   socket is gone or its queue full, or the sandbox forbids Unix sockets).
    public func notify(_ state: String) throws(SystemError) {
        let fd = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", "AF_UNIX") }
        defer { close(fd) }
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        var path = Array(address.utf8)
        // An abstract name is the bytes after a leading NUL, and exactly as long as the
        // address says (no terminating NUL); a path is terminated (the zeroed tail).
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        withUnsafeMutableBytes(of: &target.sun_path) { $0.copyBytes(from: path) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (abstract ? 0 : 1)
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bytes.withUnsafeBytes {
                    // Never waits: a manager (or anything at that address) that does not read
                    // its queue must not stop the receiver from serving or stopping.
                    sendto(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL | MSG_DONTWAIT), address, socklen_t(length))
                }
            }
        }
        guard sent == bytes.count else { throw SystemError("sendto", self.address) }
    }
}
