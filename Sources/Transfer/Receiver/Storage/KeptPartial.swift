/// A partial file kept in `<target>/.xfer` for a resume.
public struct KeptPartial: Sendable, Equatable {
    /// The file's name in `.xfer` (`<transfer id>.part`).
    public var name: String
    /// Bytes it holds.
    public var size: UInt64
    /// Seconds since it was last written.
    public var age: Double
    /// The name the file is to be committed under (validated when the partial was made;
    /// recorded on the partial itself), when known.
    public var destination: String?
}
