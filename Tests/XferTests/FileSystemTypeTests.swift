import Testing

@testable import Transfer

/// Which file systems get one `syncfs` per batch (SPEC.md §7.3).
@Suite struct FileSystemTypeTests {
    @Test(
        "syncfs is trusted on ext2/3/4, xfs, btrfs, tmpfs, f2fs only; FUSE, NFS, CIFS, SMB2, 9p, overlay, unknown: per file"
    )
    func classifier() {
        for magic: UInt64 in [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0xF2F5_2010] {
            #expect(FileSystemType(magic: magic).syncfsIsBarrier, "0x\(String(magic, radix: 16))")
        }
        // FUSE, NFS, CIFS, SMB2, 9p, overlayfs, and a number no file system uses.
        for magic: UInt64 in [0x6573_5546, 0x6969, 0xFF53_4D42, 0xFE53_4D42, 0x0102_1997, 0x794C_7630, 0x1234_5678] {
            #expect(!FileSystemType(magic: magic).syncfsIsBarrier, "0x\(String(magic, radix: 16))")
        }
    }
}
