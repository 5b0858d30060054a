#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM, handled on a thread of their own: the signals are blocked in every
/// thread (the mask is inherited by threads started later) and one thread waits for them
/// with `sigwait`, so the handler may lock, print and exit like ordinary code.
enum Interruption {
    /// From now on, SIGINT or SIGTERM runs `handler` and exits with the status it returns.
    static func watch(_ handler: @escaping @Sendable () -> ExitCode) {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Handler(handler, signals)).toOpaque()
        pthread_create(
            &thread,
            nil,
            { raw in
                let handler = Unmanaged<Handler>.fromOpaque(raw!).takeRetainedValue()
                var signals = handler.signals
                var received: CInt = 0
                sigwait(&signals, &received)
                let code = handler.run()
                // Sockets and files close with the process.
                _exit(code.rawValue)
            },
            box
        )
        pthread_detach(thread)
    }

    private final class Handler {
        let run: @Sendable () -> ExitCode
        let signals: sigset_t

        init(_ run: @escaping @Sendable () -> ExitCode, _ signals: sigset_t) {
            self.run = run
            self.signals = signals
        }
    }
}
