// Records compare by what they put on the wire: kind, flags and payload bytes. Written by
// hand because an AUTH proof is deliberately not Equatable; the payloads are compared in
// constant time, since they may hold one.

extension Record: Hashable {
    /// Whether both records encode to the same kind, flags and payload.
    public static func == (lhs: Record, rhs: Record) -> Bool {
        guard lhs.kind == rhs.kind, lhs.flags == rhs.flags else { return false }
        var left: [UInt8] = []
        var right: [UInt8] = []
        lhs.appendPayload(to: &left)
        rhs.appendPayload(to: &right)
        return constantTimeEqual(left, right)
    }

    /// Hashes kind, flags and payload bytes.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind.rawValue)
        hasher.combine(flags)
        var payload: [UInt8] = []
        appendPayload(to: &payload)
        hasher.combine(payload)
    }
}
