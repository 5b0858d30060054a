#if canImport(Glibc)
    import Glibc
#endif

extension TCPSocket {
    /// How a raw-mode connection attempt ended.
    enum RawConnection {
        /// Connected; the socket is non-blocking.
        case connected(TCPSocket)
        /// The handshake completed and the peer reset the connection before the attempt
        /// returned (`SO_ERROR` `ECONNRESET`): a peer that accepts and resets at once.
        /// That is a reset with nothing delivered, not a failure to connect (which would be
        /// `ECONNREFUSED`: a reset answering the SYN).
        case resetAtOnce
    }

    /// Connects like ``connect(to:timeout:)``, but tells a connection that was accepted
    /// and reset at once from one that was never made, and leaves the socket non-blocking.
    static func connectRaw(to endpoint: Endpoint, timeout: Double) throws(TransferError) -> RawConnection {
        var lastError = "no address"
        for address in try endpoint.resolve() {
            let fd = socket(address.family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                lastError = SystemError("socket").reason
                continue
            }
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
            if failure == ECONNRESET {
                Glibc.close(fd)
                return .resetAtOnce
            }
            if failure != 0 {
                lastError = "\(address): \(String(cString: strerror(failure)))"
                Glibc.close(fd)
                continue
            }
            return .connected(TCPSocket(fd: fd))
        }
        throw .cannotConnect(lastError)
    }
}
