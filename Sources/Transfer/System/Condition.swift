#if canImport(Glibc)
    import Glibc
#endif

/// A lock with a condition variable: what `Synchronization.Mutex` cannot do (wait until
/// another thread changes the state it guards), without Foundation's `NSCondition`, so the
/// static binary carries no Foundation.
///
/// Timed waits use `CLOCK_MONOTONIC`: a step of the wall clock (NTP, an operator) neither
/// cuts a wait short nor stretches it.
///
/// `@unchecked Sendable`: the pthread objects live at fixed heap addresses (they must not
/// move once initialised) and are only used through the pthread calls, which are
/// thread-safe by definition.
final class Condition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Takes the lock.
    func lock() { pthread_mutex_lock(mutex) }

    /// Releases the lock.
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Releases the lock until another thread calls ``broadcast()`` (or a spurious wake-up),
    /// then takes it again. The caller holds the lock and re-checks its predicate.
    func wait() { pthread_cond_wait(cond, mutex) }

    /// Like ``wait()``, but for at most `seconds`.
    /// - Returns: `false` when the time ran out, `true` when woken before.
    func wait(seconds: Double) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let whole = seconds.rounded(.down)
        var nanoseconds = Int(deadline.tv_nsec) + Int((seconds - whole) * 1e9)
        deadline.tv_sec += Int(whole) + nanoseconds / 1_000_000_000
        nanoseconds %= 1_000_000_000
        deadline.tv_nsec = nanoseconds
        return pthread_cond_timedwait(cond, mutex, &deadline) != ETIMEDOUT
    }

    /// Wakes every thread waiting on the condition.
    func broadcast() { pthread_cond_broadcast(cond) }

    /// Runs `body` with the lock held.
    func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
