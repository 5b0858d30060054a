#if canImport(Glibc)
    import Glibc
#endif

/// A host and TCP port, as written on the command line: `HOST`, `HOST:PORT`,
/// `[IPv6]:PORT` or `[IPv6]`.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// xfer's default port (SPEC.md §2).
    public static let defaultPort: UInt16 = 7390

    /// A host name or numeric address (IPv6 without brackets).
    public var host: String
    /// The TCP port.
    public var port: UInt16

    /// An endpoint from its parts.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `text`; `nil` when it is not a host with an optional port from 0 to 65535.
    public init?(parsing text: String, defaultPort: UInt16 = Endpoint.defaultPort) {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let parsed = UInt16(rest.dropFirst()) else { return nil }
                port = parsed
            }
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let parsed = UInt16(host[host.index(after: colon)...]) else { return nil }
            port = parsed
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
        self.host = String(host)
        self.port = port
    }

    /// Whether every address the host names is a loopback one (127.0.0.0/8, ::1,
    /// `localhost`): reachable from this machine only.
    public var isLoopback: Bool {
        guard let addresses = try? resolve(passive: true), !addresses.isEmpty else { return false }
        return addresses.allSatisfy(\.isLoopback)
    }

    /// `HOST:PORT`, with brackets around an IPv6 address.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The socket addresses `host` resolves to, in the resolver's order.
    func resolve(passive: Bool = false) throws(TransferError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .cannotConnect("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            if let address = SocketAddress(info.pointee.ai_addr, length: info.pointee.ai_addrlen) {
                addresses.append(address)
            }
            next = info.pointee.ai_next
        }
        return addresses
    }
}

/// An IPv4 or IPv6 socket address.
struct SocketAddress: Sendable, CustomStringConvertible {
    var storage = sockaddr_storage()
    var length: socklen_t

    init?(_ address: UnsafePointer<sockaddr>?, length: socklen_t) {
        guard let address, Int(length) <= MemoryLayout<sockaddr_storage>.size else { return nil }
        self.length = length
        withUnsafeMutableBytes(of: &storage) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length)))
        }
    }

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    var family: CInt { CInt(storage.ss_family) }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafeBytes(of: storage) { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), length) }
    }

    var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            family == AF_INET6
                ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
                : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    var host: String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let status = withSockaddr { getnameinfo($0, $1, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) }
        guard status == 0 else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var endpoint: Endpoint { Endpoint(host: host, port: port) }

    /// Whether this is a loopback address.
    var isLoopback: Bool {
        let text = hostKey
        return text == "::1" || text.hasPrefix("127.")
    }

    /// The host alone, an IPv4-mapped IPv6 address written as IPv4: what per-address
    /// limits count (one peer is one peer on a dual-stack socket).
    var hostKey: String {
        let text = host
        return text.hasPrefix("::ffff:") && text.contains(".") ? String(text.dropFirst(7)) : text
    }

    var description: String { endpoint.description }
}
