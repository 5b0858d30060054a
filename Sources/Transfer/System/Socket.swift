import CXferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP socket. Thread-safe in the way the kernel is: one thread may read while
/// another writes. `close()` once, after both are done.
final class TCPSocket: Sendable {
    let fd: CInt

    init(fd: CInt) { self.fd = fd }

    /// Connects to the first address of `endpoint` that answers within `timeout` seconds.
    /// - Throws: ``TransferError/cannotConnect(_:)``; ``TransferError/connectionLost(_:)``
    ///   when a peer accepted and reset the connection at once (it was reached).
    static func connect(to endpoint: Endpoint, timeout: Double) throws(TransferError) -> TCPSocket {
        var lastError = "no address"
        for address in try endpoint.resolve() {
            let (fd, failure) = attempt(address, timeout: timeout)
            if failure == ECONNRESET {
                Glibc.close(fd)
                throw .connectionLost("\(address) accepted the connection and reset it at once")
            }
            guard failure == 0 else {
                lastError = "\(address): \(String(cString: strerror(failure)))"
                if fd >= 0 { Glibc.close(fd) }
                continue
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            let socket = TCPSocket(fd: fd)
            socket.setOption(CInt(IPPROTO_TCP), TCP_NODELAY, 1)
            return socket
        }
        throw .cannotConnect(lastError)
    }

    /// One non-blocking connection attempt, polled for at most `timeout` seconds (so a
    /// black-holed address fails in time). Returns the descriptor (non-blocking, -1 when
    /// none could be made) and the `errno` of the attempt (0: connected).
    static func attempt(_ address: SocketAddress, timeout: Double) -> (fd: CInt, failure: CInt) {
        let fd = socket(address.family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (-1, errno) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var failure: CInt = 0
        if address.withSockaddr({ Glibc.connect(fd, $0, $1) }) != 0 {
            if errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&pfd, 1, CInt(timeout * 1000)) == 0 {
                    failure = ETIMEDOUT
                } else {
                    var length = socklen_t(MemoryLayout<CInt>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
                }
            } else {
                failure = errno
            }
        }
        return (fd, failure)
    }

    /// A socket listening on `endpoint` (port 0: the kernel picks one).
    static func listen(on endpoint: Endpoint, backlog: CInt = 128) throws(TransferError) -> TCPSocket {
        var lastError = "no address"
        let addresses: [SocketAddress]
        do {
            addresses = try endpoint.resolve(passive: true)
        } catch {
            throw .localIO("cannot resolve listen address \(endpoint.host)")
        }
        for address in addresses {
            let fd = socket(address.family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            let socket = TCPSocket(fd: fd)
            socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
            // One IPv6 socket serves IPv4 too (as ::ffff:a.b.c.d) where the system allows.
            if address.family == AF_INET6 { socket.setOption(CInt(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
            if address.withSockaddr({ bind(fd, $0, $1) }) == 0, Glibc.listen(fd, backlog) == 0 {
                return socket
            }
            lastError = "\(address): \(SystemError("bind").reason)"
            socket.close()
        }
        throw .localIO("cannot listen on \(endpoint): \(lastError)")
    }

    /// Waits for the next connection.
    func accept() throws(SystemError) -> (TCPSocket, SocketAddress) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = try retryingInterrupts("accept") {
            withUnsafeMutablePointer(to: &storage) {
                // Close-on-exec from the start: a program the receiver runs (`--exec`) must not
                // inherit any sender's connection.
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { xfer_accept_cloexec(fd, $0, &length) }
            }
        }
        let socket = TCPSocket(fd: client)
        socket.setOption(CInt(IPPROTO_TCP), TCP_NODELAY, 1)
        return (socket, SocketAddress(storage: storage, length: length))
    }

    /// The address this socket is bound to.
    var localAddress: SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return SocketAddress(storage: storage, length: length)
    }

    func setOption(_ level: CInt, _ name: CInt, _ value: CInt) {
        var value = value
        setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<CInt>.size))
    }

    /// Makes a blocking read return `EAGAIN` after `seconds` without data (and a blocking
    /// write after `seconds` without progress).
    func setTimeouts(receive: Double, send: Double) {
        func set(_ option: CInt, _ seconds: Double) {
            var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
        }
        set(SO_RCVTIMEO, receive)
        set(SO_SNDTIMEO, send)
    }

    /// Reads what is available, at most `buffer.count` bytes; 0 means end of stream.
    /// - Throws: ``SystemError`` with `EAGAIN` when the receive timeout expired.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retryingInterrupts("recv") { recv(fd, buffer.baseAddress, buffer.count, 0) }
    }

    /// Writes all of `bytes`.
    /// - Parameter keepWaiting: Asked each time the send timeout passes without progress:
    ///   true goes on waiting (the peer is busy but alive), false gives up.
    /// - Throws: ``SystemError`` (`EAGAIN` when the send timeout expired and `keepWaiting`
    ///   said no, `EPIPE` or `ECONNRESET` when the peer is gone).
    func writeAll(_ bytes: UnsafeRawBufferPointer, keepWaiting: () -> Bool = { false }) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            do throws(SystemError) {
                offset += try retryingInterrupts("send") {
                    send(fd, bytes.baseAddress! + offset, bytes.count - offset, CInt(MSG_NOSIGNAL))
                }
            } catch  where (error.errno == EAGAIN || error.errno == EWOULDBLOCK) && keepWaiting() {
                continue
            }
        }
    }

    /// Writes all of `bytes`; see ``writeAll(_:)``.
    func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, $0.count - offset, CInt(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                throw SystemError("send")
            }
            offset += sent
        }
    }

    /// Whether a read would not block right now (data or end of stream is waiting).
    var isReadable: Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0
    }

    /// Sends FIN: the peer reads end of stream once it has read everything sent before.
    func shutdownWrite() { shutdown(fd, CInt(SHUT_WR)) }

    /// Ends both directions: a thread blocked reading it sees the end of the stream.
    func shutdownBoth() { shutdown(fd, CInt(SHUT_RDWR)) }

    /// Reads and discards until end of stream or `seconds` pass, so that closing never
    /// finds unread data (which would make the kernel send RST, SPEC.md §7.5).
    func drain(seconds: Double) {
        setTimeouts(receive: min(seconds, 1), send: 1)
        let deadline = monotonicSeconds() + seconds
        // MSG_TRUNC on TCP discards what arrived without copying it (Linux): a peer being
        // drained costs no buffer of ours, however much it sends. No buffer is passed at
        // all, so a kernel that did copy would fail with EFAULT, never write anywhere.
        while monotonicSeconds() < deadline {
            let count = recv(fd, nil, 65536, CInt(MSG_TRUNC))
            if count == 0 { return }
            if count < 0 && errno != EINTR && errno != EAGAIN { return }
        }
    }

    /// Ends the connection from our side without an RST: FIN, then reads to the peer's end
    /// of stream (at most `seconds`), then closes (SPEC.md §7.5).
    func closeAfterDraining(seconds: Double) {
        shutdownWrite()
        drain(seconds: seconds)
        close()
    }

    /// Closes abortively (RST): only for dropping a misbehaving peer.
    func abort() {
        var value = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    func close() { Glibc.close(fd) }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
