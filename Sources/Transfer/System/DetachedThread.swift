#if canImport(Glibc)
    import Glibc
#endif

/// A thread the system would not create (`pthread_create` failed: `EAGAIN` under
/// `RLIMIT_NPROC` or the kernel's thread limit, `ENOMEM`): which thread, and why.
public struct ThreadStartError: Error, Sendable, CustomStringConvertible {
    /// What the thread was for, e.g. `"the reply reader"`.
    public var purpose: String
    /// The error `pthread_create` returned (it does not set `errno`).
    public var errno: CInt

    /// "cannot start a thread for `purpose`: `reason`".
    public var description: String {
        "cannot start a thread for \(purpose): \(String(cString: strerror(errno)))"
    }
}

/// Starting threads, checked: every thread xfer starts goes through ``start(_:stackSize:_:)``.
///
/// Foundation's `Thread.start()` ignores a failed `pthread_create`: the body never runs, and
/// whoever waits for it (a sender waiting for its reply reader, a commit stopping its
/// heartbeat) waits forever. Here a thread that cannot start is an error the caller must
/// handle, at the point where it can still give up cleanly.
public enum DetachedThread {
    /// The default stack: the threads xfer starts keep little on it (buffers are on the heap).
    public static let defaultStackSize = 1 << 20

    /// Starts `body` on a new detached thread.
    /// - Parameters:
    ///   - purpose: What the thread is for, named in the error.
    ///   - stackSize: Bytes of stack.
    ///   - body: Runs once on the new thread; when the thread cannot start it is released
    ///     without running, so whatever it captured goes back to the caller.
    /// - Throws: ``ThreadStartError`` when the system creates no thread.
    public static func start(
        _ purpose: String,
        stackSize: Int = defaultStackSize,
        _ body: @escaping @Sendable () -> Void
    ) throws(ThreadStartError) {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, CInt(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(Box(body))
        var thread = pthread_t()
        let status = pthread_create(
            &thread,
            &attributes,
            { raw in
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            },
            box.toOpaque()
        )
        if status != 0 {
            box.release()
            throw ThreadStartError(purpose: purpose, errno: status)
        }
    }
}
