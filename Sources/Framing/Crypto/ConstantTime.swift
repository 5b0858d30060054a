import CXferChecksums

/// Whether `a` and `b` hold the same bytes, in time that does not depend on where they
/// differ: every byte is compared, with no early exit. Use it for authentication codes
/// (``HMACSHA256``), where `==` would tell an attacker how many leading bytes were right.
///
/// Lengths are not secret: sequences of different lengths compare unequal at once.
public func constantTimeEqual(_ a: some Sequence<UInt8>, _ b: some Sequence<UInt8>) -> Bool {
    withContiguousBytes(of: a) { a in
        withContiguousBytes(of: b) { b in
            a.count == b.count && xfer_constant_time_equal(a.baseAddress, b.baseAddress, a.count) == 1
        }
    }
}
