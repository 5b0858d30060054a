/// The protocol's fixed sizes and hard limits (SPEC.md §3 and §9). A decoder rejects any
/// length above these before it allocates or buffers anything for it.
public enum ProtocolLimits {
    /// Size of the connection preamble: magic (4) + version (2) + reserved (2).
    public static let preambleSize = 8
    /// Size of a record header: kind (1) + flags (1) + length (4) + CRC-32C (4).
    public static let headerSize = 10
    /// The largest record payload, for any kind: 1 MiB.
    public static let maxPayload = 1 << 20
    /// The largest DATA payload (the whole payload is file bytes).
    public static let maxDataPayload = maxPayload
    /// The largest transfer name, in UTF-8 bytes.
    public static let maxNameBytes = 4096
    /// The largest single path component of a name, in UTF-8 bytes.
    public static let maxNameComponentBytes = 255
    /// The largest human-readable message (ERROR, CANCEL, ANSWER), in UTF-8 bytes.
    public static let maxMessageBytes = 1024
    /// The largest number of parameters in a HELLO or WELCOME.
    public static let maxParameters = 64
    /// The largest value of one HELLO or WELCOME parameter, in bytes.
    public static let maxParameterValueBytes = 4096
    /// The largest record payload a server must accept before the handshake ends (SPEC.md
    /// §9): a HELLO with one parameter of the largest size and a few small ones, an AUTH.
    /// Larger ones may be refused `recordTooLarge`, so an unverified peer costs a few KiB.
    public static let maxHandshakePayload = 8192
}
