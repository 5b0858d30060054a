import Testing

@testable import Transfer

/// When a commit batch closes: each threshold on its own, with plain numbers for streams.
@Suite struct CommitBatchTests {
    @Test func closesAtItsFileCount() {
        var batch = CommitBatch<Int>(files: 3, bytes: 1 << 30)
        var closed: Bool
        closed = batch.add(1, length: 10, nameBytes: 5, budgeted: true)
        #expect(!closed)
        closed = batch.add(2, length: 10, nameBytes: 5, budgeted: true)
        #expect(!closed)
        closed = batch.add(3, length: 10, nameBytes: 5, budgeted: true)
        #expect(closed)
    }

    @Test func closesAtItsByteCount() {
        var batch = CommitBatch<Int>(files: 1000, bytes: 100)
        var closed: Bool
        closed = batch.add(1, length: 99, nameBytes: 5, budgeted: true)
        #expect(!closed)
        closed = batch.add(2, length: 1, nameBytes: 5, budgeted: true)
        #expect(closed)
    }

    @Test func closesAtAMegabyteOfNames() {
        var batch = CommitBatch<Int>(files: 1000, bytes: 1 << 30)
        var closed: Bool
        #expect(CommitBatch<Int>.nameBytes == 1 << 20)
        for index in 0..<255 {
            closed = batch.add(index, length: 1, nameBytes: 4096, budgeted: true)
            #expect(!closed)
        }
        closed = batch.add(255, length: 1, nameBytes: 4096, budgeted: true)
        #expect(closed)
    }

    @Test func closesWhenTheDescriptorBudgetIsEmpty() {
        var batch = CommitBatch<Int>(files: 1000, bytes: 1 << 30)
        var closed: Bool
        closed = batch.add(1, length: 1, nameBytes: 1, budgeted: true)
        #expect(!closed)
        closed = batch.add(2, length: 1, nameBytes: 1, budgeted: false)
        #expect(closed)
        // Only the descriptor that was taken is given back.
        let taken = batch.take()
        #expect(taken.descriptors == 1)
    }

    @Test func takeEmptiesInOfferOrder() {
        var batch = CommitBatch<Int>(files: 1000, bytes: 1 << 30)
        var closed: Bool
        for index in 1...3 {
            closed = batch.add(index, length: 7, nameBytes: 2, budgeted: true)
            #expect(!closed)
        }
        let taken = batch.take()
        #expect(taken.streams == [1, 2, 3])
        #expect(taken.descriptors == 3)
        #expect(batch.isEmpty)
        #expect(batch.byteCount == 0 && batch.nameByteCount == 0 && batch.descriptors == 0)
        // The counts start again from zero: one more stream does not close it.
        closed = batch.add(4, length: 7, nameBytes: 2, budgeted: true)
        #expect(!closed)
    }
}
