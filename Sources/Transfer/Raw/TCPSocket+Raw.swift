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
            let (fd, failure) = attempt(address, timeout: timeout)
            if failure == ECONNRESET {
                Glibc.close(fd)
                return .resetAtOnce
            }
            if failure != 0 {
                lastError = "\(address): \(String(cString: strerror(failure)))"
                if fd >= 0 { Glibc.close(fd) }
                continue
            }
            return .connected(TCPSocket(fd: fd))
        }
        throw .cannotConnect(lastError)
    }
}
