#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM, handled on a thread of their own: the signals are blocked in every
/// thread (the mask is inherited by threads started later) and one thread waits for them
/// with `sigwait`, so the handler may lock, print and exit like ordinary code.
enum Interruption {
    /// From now on, SIGINT or SIGTERM runs `report` and exits with status 130.
    static func watch(_ report: @escaping @Sendable () -> Void) {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Handler(report, signals)).toOpaque()
        pthread_create(
            &thread,
            nil,
            { raw in
                let handler = Unmanaged<Handler>.fromOpaque(raw!).takeRetainedValue()
                var signals = handler.signals
                var received: CInt = 0
                sigwait(&signals, &received)
                handler.report()
                // The receiver keeps what it verified; our sockets close with the process.
                _exit(ExitCode.interrupted.rawValue)
            },
            box
        )
        pthread_detach(thread)
    }

    private final class Handler {
        let report: @Sendable () -> Void
        let signals: sigset_t

        init(_ report: @escaping @Sendable () -> Void, _ signals: sigset_t) {
            self.report = report
            self.signals = signals
        }
    }
}
