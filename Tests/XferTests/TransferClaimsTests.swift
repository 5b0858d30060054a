import Framing
import Testing

@testable import Transfer

/// The receiver's claims on transfer IDs, apart from the journal: no files.
@Suite struct TransferClaimsTests {
    static let first = TransferID(high: 1, low: 1)
    static let second = TransferID(high: 1, low: 2)

    @Test func anIDIsClaimedOnceUntilReleased() {
        let claims = TransferClaims()
        #expect(claims.claim(Self.first))
        #expect(!claims.claim(Self.first))
        // Another ID is free all the while.
        #expect(claims.claim(Self.second))
        claims.release(Self.first)
        #expect(claims.claim(Self.first))
    }

    @Test func releasingAnUnclaimedIDChangesNothing() {
        let claims = TransferClaims()
        claims.release(Self.first)
        #expect(claims.claim(Self.first))
        #expect(!claims.claim(Self.first))
    }
}
