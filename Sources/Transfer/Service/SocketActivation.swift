#if canImport(Glibc)
    import Glibc
#endif

/// systemd's socket activation (`sd_listen_fds(3)`), by hand: the service manager listens,
/// and starts the receiver with the listening socket as descriptor 3 and two variables,
/// `LISTEN_PID` (the process they are meant for) and `LISTEN_FDS` (how many descriptors).
///
/// Written out rather than linked from libsystemd: it is a few lines, and the static binary
/// must run where libsystemd is absent.
public enum SocketActivation {
    /// The first descriptor a service manager passes (`SD_LISTEN_FDS_START`).
    public static let firstDescriptor: CInt = 3

    /// A listening TCP socket passed by the service manager.
    public struct Listener: Sendable {
        /// Its descriptor (``SocketActivation/firstDescriptor``), close-on-exec, blocking.
        public let descriptor: CInt
        /// The address it is bound to (its real port).
        public let endpoint: Endpoint
        /// Whether that address is a loopback one: without a key, only then may a receiver
        /// serve on it (the same rule as `--listen`).
        public let isLoopback: Bool
    }

    /// Takes the listening socket the service manager passed, if it passed one to this
    /// process, and removes `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` from the
    /// environment either way, so that no child takes them for its own.
    ///
    /// - Returns: `nil` when the variables are absent, or meant for another process (a
    ///   parent that was activated and did not unset them).
    /// - Throws: ``TransferError/localIO(_:)`` when the variables are for this process but
    ///   do not describe exactly one listening IPv4 or IPv6 stream socket: a unit with
    ///   several `ListenStream=`, `Accept=yes` (a connected socket), a datagram socket.
    public static func takeListener() throws(TransferError) -> Listener? {
        let pid = environment("LISTEN_PID")
        let count = environment("LISTEN_FDS")
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        guard let pid, let count, pid_t(pid) == getpid() else { return nil }
        guard let descriptors = Int(count), descriptors >= 0 else {
            throw .localIO("socket activation: LISTEN_FDS is '\(count)', not a number of descriptors")
        }
        if descriptors == 0 { return nil }
        guard descriptors == 1 else {
            throw .localIO(
                "socket activation: \(descriptors) descriptors passed (LISTEN_FDS); xfer receive serves one "
                    + "listening socket: give its socket unit one ListenStream="
            )
        }
        let fd = firstDescriptor
        if let problem = problem(with: fd) {
            throw .localIO(
                "socket activation: descriptor \(fd) \(problem); the socket unit needs Accept=no and ListenStream="
            )
        }
        // Not inherited by anything the receiver starts; blocking, as every socket xfer
        // accepts on (a unit may say NonBlocking=yes).
        _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let address = TCPSocket(fd: fd).localAddress
        return Listener(descriptor: fd, endpoint: address.endpoint, isLoopback: address.isLoopback)
    }

    /// What makes `fd` unusable as the receiver's listening socket, or `nil` when it is a
    /// listening IPv4 or IPv6 stream socket.
    private static func problem(with fd: CInt) -> String? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return "is not open (\(SystemError("fstat").reason))" }
        guard info.st_mode & S_IFMT == S_IFSOCK else { return "is not a socket" }
        func option(_ name: CInt) -> CInt? {
            var value: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
        }
        guard option(SO_TYPE) == CInt(SOCK_STREAM.rawValue) else { return "is not a stream socket" }
        guard let domain = option(SO_DOMAIN), domain == AF_INET || domain == AF_INET6 else {
            return "is not an IPv4 or IPv6 socket"
        }
        guard option(SO_ACCEPTCONN) == 1 else { return "is not listening (a connected socket?)" }
        return nil
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
