#if canImport(Glibc)
    import Glibc
#endif

/// The network block a peer's address belongs to: what the receiver's per-source limits
/// and penalties count (OpenSSH's `PerSourceNetBlockSize`).
///
/// One IPv4 address is usually one host, but a single IPv6 host is routinely given a
/// whole /64 and can pick a new address from it for every connection; counting per
/// address would let it multiply its share by 2⁶⁴. So IPv6 addresses are counted by
/// their first ``ipv6PrefixBits`` bits (default 64), IPv4 ones by their first
/// ``ipv4PrefixBits`` (default 32: the address itself). An IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`, a dual-stack socket) counts as the IPv4 address it carries.
struct SourceBlock: Hashable, Sendable, CustomStringConvertible {
    /// The address with every bit past the prefix cleared; IPv4 in the first four bytes.
    private let bytes: [UInt8]
    /// How many leading bits of `bytes` count.
    let prefixBits: Int
    let isIPv4: Bool

    /// The block of `address` under the given prefix lengths (clamped to 0…32 and 0…128).
    init(_ address: SocketAddress, ipv4PrefixBits: Int = 32, ipv6PrefixBits: Int = 64) {
        var raw: [UInt8]
        var ipv4: Bool
        if address.family == AF_INET6 {
            raw = withUnsafeBytes(of: address.storage) { storage in
                withUnsafeBytes(of: storage.load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
            }
            ipv4 = raw.prefix(10).allSatisfy { $0 == 0 } && raw[10] == 0xFF && raw[11] == 0xFF
            if ipv4 { raw = Array(raw.suffix(4)) }
        } else {
            raw = withUnsafeBytes(of: address.storage) { storage in
                withUnsafeBytes(of: storage.load(as: sockaddr_in.self).sin_addr) { Array($0) }
            }
            ipv4 = true
        }
        self.init(address: raw, isIPv4: ipv4, prefixBits: ipv4 ? ipv4PrefixBits : ipv6PrefixBits)
    }

    /// The block of a 4-byte (IPv4) or 16-byte (IPv6) address in network order.
    init(address: [UInt8], isIPv4: Bool, prefixBits: Int) {
        let bits = max(0, min(prefixBits, address.count * 8))
        var masked = address
        for index in masked.indices {
            let kept = max(0, min(8, bits - index * 8))
            masked[index] &= kept == 8 ? 0xFF : ~(0xFF >> UInt8(kept))
        }
        bytes = masked
        self.prefixBits = bits
        self.isIPv4 = isIPv4
    }

    /// `10.0.0.7` for one IPv4 address, `2001:db8:1:2::/64` for a block.
    var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        bytes.withUnsafeBytes { raw in
            _ = inet_ntop(isIPv4 ? AF_INET : AF_INET6, raw.baseAddress, &text, socklen_t(text.count))
        }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return prefixBits == bytes.count * 8 ? host : "\(host)/\(prefixBits)"
    }
}
