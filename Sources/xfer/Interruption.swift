import Transfer

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
        let handler = Handler(handler, signals)
        do {
            try DetachedThread.start("Ctrl-C and SIGTERM") {
                var signals = handler.signals
                var received: CInt = 0
                sigwait(&signals, &received)
                let code = handler.run()
                // Sockets and files close with the process.
                _exit(code.rawValue)
            }
        } catch {
            // Blocked with nobody waiting for them, the signals would be ignored: give them
            // back their default action (the process ends at once, without its cleanup).
            pthread_sigmask(SIG_UNBLOCK, &signals, nil)
            printError("xfer: warning: \(error); Ctrl-C ends xfer without cleaning up")
        }
    }

    private final class Handler: Sendable {
        let run: @Sendable () -> ExitCode
        let signals: sigset_t

        init(_ run: @escaping @Sendable () -> ExitCode, _ signals: sigset_t) {
            self.run = run
            self.signals = signals
        }
    }
}
