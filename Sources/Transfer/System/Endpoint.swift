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

    /// Parses `text`; `nil` when it is not a host with an optional port from 0 to 65535
    /// (see ``init(validating:defaultPort:)``).
    public init?(parsing text: String, defaultPort: UInt16 = Endpoint.defaultPort) {
        guard let endpoint = try? Endpoint(validating: text, defaultPort: defaultPort) else { return nil }
        self = endpoint
    }

    /// Parses `text` strictly: the host is a dotted-quad IPv4 address (four decimal octets
    /// 0–255 without leading zeros), an IPv6 address (in brackets when a port follows), or
    /// a host name with at least one letter. Anything the resolver would read as an
    /// abbreviated IPv4 address (`7396`, `127.1`, `0x7f.1`, `0177.0.0.1`: inet_aton's
    /// forms) is refused, so that a port typed alone never becomes a host off this machine.
    /// - Throws: ``EndpointError`` naming what was wrong and, where it can tell, the
    ///   likely intent.
    public init(validating text: String, defaultPort: UInt16 = Endpoint.defaultPort) throws(EndpointError) {
        var host = Substring(text)
        var port = defaultPort
        var bracketed = false
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw EndpointError(text: text) }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            bracketed = true
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let parsed = UInt16(rest.dropFirst()) else {
                    throw EndpointError(text: text)
                }
                port = parsed
            }
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let parsed = UInt16(host[host.index(after: colon)...]) else { throw EndpointError(text: text) }
            port = parsed
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { throw EndpointError(text: text) }
        if bracketed || host.contains(":") {
            guard Self.isIPv6(String(host)) else {
                throw EndpointError(text: text, reason: "'\(host)' is not an IPv6 address")
            }
        } else if Self.isNumericIPv4(host) {
            if !Self.isDottedQuad(host) {
                let digitsOnly = host.allSatisfy(\.isNumber)
                let reading = Self.inetAtonReading(host)
                let intent =
                    digitsOnly && UInt16(host) != nil ? "127.0.0.1:\(host)" : reading.map { "\($0):\(port)" }
                let what =
                    digitsOnly
                    ? "a number alone is not a host"
                    : "an IPv4 address is four decimal numbers 0-255 without leading zeros"
                throw EndpointError(text: text, reason: what, suggestion: intent)
            }
        } else if !host.contains(where: \.isLetter) {
            throw EndpointError(text: text, reason: "a host name has at least one letter")
        }
        self.host = String(host)
        self.port = port
    }

    /// Whether every dot-separated part of `host` is a number as inet_aton reads one
    /// (decimal, octal with a leading 0, hexadecimal with 0x): the resolver would take it
    /// for an IPv4 address.
    private static func isNumericIPv4(_ host: Substring) -> Bool {
        host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            if label.hasPrefix("0x") || label.hasPrefix("0X") { return label.dropFirst(2).allSatisfy(\.isHexDigit) }
            return !label.isEmpty && label.allSatisfy { $0.isASCII && $0.isNumber }
        }
    }

    /// Four decimal octets 0-255, none with a leading zero.
    private static func isDottedQuad(_ host: Substring) -> Bool {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count == 4
            && labels.allSatisfy { label in
                guard label.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(label), value <= 255 else {
                    return false
                }
                return label == "0" || !label.hasPrefix("0")
            }
    }

    /// The dotted quad inet_aton makes of `host`, `nil` when it makes none.
    private static func inetAtonReading(_ host: Substring) -> String? {
        var address = in_addr()
        guard inet_aton(String(host), &address) != 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func isIPv6(_ host: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, host, &address) == 1
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

/// Why a command-line address is not one xfer accepts.
public struct EndpointError: Error, Sendable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it, when more can be said than "not HOST:PORT".
    public var reason: String?
    /// The endpoint the user most likely meant (`127.0.0.1:7396` for `7396`).
    public var suggestion: String?

    public init(text: String, reason: String? = nil, suggestion: String? = nil) {
        self.text = text
        self.reason = reason
        self.suggestion = suggestion
    }

    /// `'7396' is not HOST or HOST:PORT (a number alone is not a host); did you mean 127.0.0.1:7396?`
    public var description: String {
        var line = "'\(text)' is not HOST or HOST:PORT"
        if let reason { line += " (\(reason))" }
        if let suggestion { line += "; did you mean \(suggestion)?" }
        return line
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
