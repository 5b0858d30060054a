/// The receiver's state in a target directory, for tools: partial files kept for resumes.
/// Works while a receiver serves the directory: each partial is checked by its own lock.
public enum ReceiverState {
    /// The partial files in `<directory>/.xfer`, oldest first.
    public static func partials(in directory: String) throws(TransferError) -> [KeptPartial] {
        try TargetDirectory(path: directory, locking: false).partials(withNames: true)
    }

    /// Removes every partial file no receiver is writing right now.
    /// - Returns: The partials removed.
    public static func removePartials(in directory: String) throws(TransferError) -> [KeptPartial] {
        try TargetDirectory(path: directory, locking: false).expirePartials(
            maximumAge: -1,
            maximumBytes: 0,
            withNames: true
        )
    }
}
