import Synchronization

/// Bounds the log lines one source can cause: a peer must not be able to fill the
/// receiver's log (or the terminal watching it) by connecting and failing in a loop.
///
/// Each source has a bucket of ``burst`` lines that refills at ``perSecond`` lines a
/// second; a line with an empty bucket is counted instead of written, and the count is
/// written as one summary line ("… 3412 more lines from 10.0.0.7 suppressed") once the
/// bucket has refilled, with the source's next line or at the next ``flush(to:)``.
///
/// Lines that record data actually stored (committed, already committed, kept) are never
/// suppressed: they cost the peer a real transfer and are the receiver's record of it.
final class LogRateLimiter: Sendable {
    /// Lines a source may log at once.
    let burst: Double
    /// Lines a second it regains.
    let perSecond: Double

    private struct Bucket {
        var tokens: Double
        var updated: Double
        var suppressed = 0
    }

    private let buckets = Mutex<[SourceBlock: Bucket]>([:])
    /// Sources remembered at most; full buckets with nothing suppressed are forgotten
    /// first (they are what a new bucket would be).
    private static let maximumSources = 4096

    init(burst: Double = 20, perSecond: Double = 2) {
        self.burst = burst
        self.perSecond = perSecond
    }

    /// Writes `event` through `log` unless `source` is over its rate.
    func log(
        _ event: ReceiverEvent,
        from source: SourceBlock,
        now: Double = monotonicSeconds(),
        to log: @Sendable (ReceiverEvent) -> Void
    ) {
        switch event.kind {
        case .committed, .alreadyCommitted, .kept:
            log(event)
            return
        default: break
        }
        let (allowed, summary): (Bool, Int) = buckets.withLock { buckets in
            if buckets[source] == nil, buckets.count >= LogRateLimiter.maximumSources {
                forgetIdle(&buckets, now: now)
            }
            var bucket = refilled(buckets[source] ?? Bucket(tokens: burst, updated: now), now: now)
            defer { buckets[source] = bucket }
            guard bucket.tokens >= 1 else {
                bucket.suppressed += 1
                return (false, 0)
            }
            bucket.tokens -= 1
            let summary = bucket.suppressed
            bucket.suppressed = 0
            return (true, summary)
        }
        if summary > 0 { log(Self.summary(summary, from: source)) }
        if allowed { log(event) }
    }

    /// Writes the summary of every source whose bucket has refilled since it was over.
    func flush(now: Double = monotonicSeconds(), to log: @Sendable (ReceiverEvent) -> Void) {
        let due: [(SourceBlock, Int)] = buckets.withLock { buckets in
            var due: [(SourceBlock, Int)] = []
            for (source, bucket) in buckets where bucket.suppressed > 0 {
                var current = refilled(bucket, now: now)
                guard current.tokens >= 1 else { continue }
                due.append((source, current.suppressed))
                current.tokens -= 1
                current.suppressed = 0
                buckets[source] = current
            }
            return due
        }
        for (source, count) in due { log(Self.summary(count, from: source)) }
    }

    private func refilled(_ bucket: Bucket, now: Double) -> Bucket {
        var bucket = bucket
        bucket.tokens = min(burst, bucket.tokens + max(0, now - bucket.updated) * perSecond)
        bucket.updated = now
        return bucket
    }

    private func forgetIdle(_ buckets: inout [SourceBlock: Bucket], now: Double) {
        buckets = buckets.filter { $0.value.suppressed > 0 || refilled($0.value, now: now).tokens < burst }
        // Still full: a flood from more sources than the table holds; their counts go.
        if buckets.count >= LogRateLimiter.maximumSources { buckets.removeAll() }
    }

    private static func summary(_ count: Int, from source: SourceBlock) -> ReceiverEvent {
        ReceiverEvent(
            peer: nil,
            kind: .notice,
            detail: "… \(count) more line\(count == 1 ? "" : "s") from \(source) suppressed"
        )
    }
}
