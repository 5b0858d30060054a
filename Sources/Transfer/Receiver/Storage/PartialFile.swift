import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// One stream being received into `.xfer/<id>.part` (SPEC.md §11): owns the descriptor,
/// holds an exclusive lock on the file for as long as it is open, writes, starts and waits
/// for write-back with every error checked, and keeps the whole-stream digest.
///
/// The lock is advisory: it stops a second receiver process (which takes it too) from
/// writing the same partial file, not a tool that ignores it. Against a tool that truncates
/// the file, the file is written with `O_APPEND` (a truncation mid-stream leaves it short)
/// and the commit compares the file's size with the length it will ACK (SPEC.md §7.3);
/// the digest covers the bytes that arrived, not the bytes on disk.
final class PartialFile {
    /// Write-back starts for every this many bytes and is waited for one window later, so
    /// the final sync has little left to do and write-back errors surface early.
    let window: UInt64
    /// The descriptor (open until the commit closes it).
    let file: FileDescriptor
    /// Bytes of the stream in the file, from offset 0 (a kept prefix included).
    private(set) var length: UInt64
    /// Bytes whose write-back finished without error.
    private(set) var writtenBack: UInt64
    /// Digest of the stream's bytes 0..<length.
    private var windowStart: UInt64
    private var previousWindow: (start: UInt64, length: UInt64)?
    /// The validated name the stream will be committed under, recorded on the file for
    /// `xfer state` only once it is worth a resume (see ``recordDestination()``).
    private let destination: String?
    /// Whether the file may carry ``nameAttribute`` (recorded here, or by an earlier
    /// connection that kept this prefix): the commit removes it then, and only then.
    private var destinationRecorded: Bool

    /// Writes larger than this are split, so one DATA record never holds the disk long.
    private static let writePiece = 256 << 10

    private init(file: FileDescriptor, length: UInt64, window: UInt64, destination: String?) {
        self.file = file
        self.length = length
        self.window = window
        self.destination = destination
        destinationRecorded = length > 0
        writtenBack = length
        windowStart = length
    }

    /// What happened when a partial file was opened.
    enum Opening {
        case opened(PartialFile)
        /// Another open file holds its lock: someone else is writing it.
        case locked
    }

    /// The extended attribute holding the validated name a partial file will be committed
    /// under, for `xfer state`: on the file itself, so it comes and goes with it (expiry,
    /// the cap, `--clean`, a rename) and no second file has to be kept in step.
    static let nameAttribute = "user.xfer.name"

    /// The name `file` will be committed under, as recorded when it was opened; `nil` when
    /// it has none (a file system without user attributes, an older receiver).
    static func recordedName(of file: FileDescriptor) -> String? {
        guard let bytes = try? file.attribute(nameAttribute, maximumSize: ProtocolLimits.maxNameBytes + 1),
            !bytes.isEmpty
        else { return nil }
        // Checked again as a name from the wire would be: the file may have been tampered with.
        guard let text = String(validating: bytes, as: UTF8.self), (try? WireName(validating: text)) != nil
        else { return nil }
        return text
    }

    /// Opens (creating it if needed) the partial file `name` in `directory`, locks it, and
    /// keeps exactly its first `offset` bytes (the caller made sure it has that many). The
    /// lock is taken before the file is touched, so a locked file is never truncated.
    /// - Parameter destination: The validated name the stream is committed under, recorded
    ///   on the file (``nameAttribute``, best effort) for `xfer state` once the partial is
    ///   worth a resume: when it is kept, or when its first write-back window starts.
    /// - Parameter blocks: For a `blocks` offer (SPEC.md §16): written at offsets by
    ///   ``BlockAssembly``, so not `O_APPEND`; the commit's size check and the block tree
    ///   digest stand for what `O_APPEND` guards.
    static func open(
        _ name: String,
        in directory: FileDescriptor,
        keeping offset: UInt64,
        window: UInt64,
        destination: String? = nil,
        blocks: Bool = false
    ) throws(SystemError) -> Opening {
        // O_APPEND: every write goes to the end of the file as it is, so a truncation by
        // anyone else shows in the size the commit checks instead of leaving a hole.
        let file = try FileDescriptor.openRegularFile(
            name,
            in: directory,
            flags: O_RDWR | O_CREAT | (blocks ? 0 : O_APPEND) | O_NOFOLLOW,
            mode: 0o600
        )
        guard try file.tryLockExclusive() else { return .locked }
        try SystemError.naming(name) { () throws(SystemError) in
            try file.truncate(to: offset)
            try file.seek(to: offset)
        }
        return .opened(PartialFile(file: file, length: offset, window: window, destination: destination))
    }

    /// The digest of the kept prefix (bytes 0..<length, read back from the file): the
    /// whole-stream digest covers them too (SPEC.md §11).
    /// - Throws: ``SystemError`` when they cannot all be read.
    func hashKeptPrefix() throws(SystemError) -> StreamDigest {
        var digest = StreamDigest()
        guard digestFile(file, count: length, at: 0, into: &digest) else {
            throw SystemError("read", "kept prefix", errno: errno == 0 ? EIO : errno)
        }
        return digest
    }

    /// Appends `bytes` to the file, and moves write-back along.
    /// - Throws: ``SystemError`` from `write` or from write-back (`sync_file_range`); after
    ///   either the stream must fail: the kernel reports a write-back error only once.
    func append(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let piece = min(PartialFile.writePiece, bytes.count - offset)
            try file.writeAll(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + piece]))
            offset += piece
        }
        length += UInt64(bytes.count)
        guard length - windowStart >= window else { return }
        if !destinationRecorded { recordDestination() }
        let current = (start: windowStart, length: length - windowStart)
        try file.startWriteback(offset: current.start, length: current.length)
        if let previous = previousWindow {
            try file.waitWriteback(offset: previous.start, length: previous.length)
            writtenBack = previous.start + previous.length
        }
        previousWindow = current
        windowStart = length
    }

    /// A `blocks` offer's every block is held: the file is `length` bytes long as far as the
    /// commit is concerned (which checks the file's size against it).
    func blocksComplete(length: UInt64) {
        self.length = length
    }

    /// Records the destination name on the file (best effort) for `xfer state`.
    ///
    /// Not done when the file is opened: a small file is committed within milliseconds, and
    /// setting and removing an attribute for each cost a receiving 10,000 small files two
    /// metadata updates per file (measured: +4 % wall). A stream long enough to start
    /// write-back, or a partial being kept, gets it; the kept partial's `fsync` makes it
    /// durable with the bytes.
    func recordDestination() {
        guard let destination else { return }
        destinationRecorded = true
        _ = try? file.setAttribute(PartialFile.nameAttribute, to: Array(destination.utf8))
    }

    /// Gives the file the sender's permission bits (at most 0o777, less `umask`) and
    /// modification time. Best effort: a file system that keeps neither still holds the
    /// right bytes.
    func applyMetadata(of offer: Offer, umask: mode_t) {
        // The committed file is the user's: it carries no xfer bookkeeping.
        if destinationRecorded { _ = try? file.removeAttribute(PartialFile.nameAttribute) }
        _ = try? file.setMode(mode_t(offer.mode & 0o777) & ~umask)
        let mtime = offer.modificationTime
        _ = try? file.setTimes(
            access: timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2),  // UTIME_OMIT
            modification: timespec(tv_sec: Int(mtime.seconds), tv_nsec: Int(mtime.nanoseconds))
        )
    }
}
