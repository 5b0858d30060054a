import Framing

#if canImport(Glibc)
    import Glibc
#endif

/// Many small files on a long path, over several plain connections at once.
///
/// A session (SPEC.md §16) speeds up large files; small ones stay on its first connection,
/// where the receiver commits them in batches: on a long path the connection then idles
/// while each batch is synced, and every refill costs round trips. Spread over several
/// independent connections (each a whole conversation of its own, SPEC.md §7), one
/// connection's commit overlaps the others' transfers. Nothing in the protocol changes:
/// every file still has its one ACK on the connection that offered it.
struct SenderFanOut: Sendable {
    let endpoint: Endpoint
    let options: SenderOptions
    let sources: [SendSource]
    let onEvent: @Sendable (SenderEvent) -> Void

    /// Files this large or larger would go as blocks in a session (two of the default
    /// 8 MiB blocks): a run with one of them keeps its session instead.
    static let largeFile: UInt64 = 16 << 20
    /// Fewer files than this per connection are not worth a connection each.
    static let filesPerConnection = 32

    /// The sources dealt round robin to `connections` groups (indexes), or `nil` when the
    /// run is not many small files: one of them large (or not a file), or too few.
    static func groups(_ sources: [SendSource], connections: Int) -> [[Int]]? {
        guard sources.count >= 2 * filesPerConnection else { return nil }
        for source in sources {
            guard case .file(let path, _) = source else { return nil }
            var info = stat()
            if stat(path, &info) == 0, UInt64(info.st_size) >= largeFile { return nil }
        }
        let count = min(connections, sources.count / filesPerConnection)
        guard count >= 2 else { return nil }
        var groups = [[Int]](repeating: [], count: count)
        for index in sources.indices { groups[index % count].append(index) }
        return groups
    }

    /// Sends group 0 with `first` (over the connection already made) and the others each
    /// over a connection of its own, at once; a group whose connection could not even
    /// start (refused, turned away busy) goes again afterwards over one more. One report.
    func send(
        _ groups: [[Int]],
        first: @escaping @Sendable ([SendSource], @escaping @Sendable (SenderEvent) -> Void) -> SendReport
    ) -> SendReport {
        let events = MergedSenderEvents(connections: groups.count, total: totalBytes(), onEvent: onEvent)
        let finished = Condition()
        let reports = ReportSlots(count: groups.count)
        let single = SenderOptions.withStreams(options, 1)
        for number in groups.indices.dropFirst() {
            let subset = groups[number].map { sources[$0] }
            let handler = events.handler(for: number)
            let endpoint = self.endpoint
            do {
                try DetachedThread.start("sender connection \(number)") {
                    reports.put(Sender(endpoint: endpoint, options: single).send(subset, onEvent: handler), at: number)
                }
            } catch {
                // No thread: this group goes again over one more connection afterwards.
                var report = SendReport()
                report.connectionError = .localIO("\(error)")
                reports.put(report, at: number)
            }
        }
        reports.put(first(groups[0].map { sources[$0] }, events.handler(for: 0)), at: 0)
        let done = reports.all()
        var merged = SendReport()
        for (number, report) in done.enumerated() {
            var report = report
            if report.confirmed.isEmpty && report.sentBytes == 0 && report.connectionError != nil && number > 0 {
                report = Sender(endpoint: endpoint, options: single).send(
                    groups[number].map { sources[$0] },
                    onEvent: events.handler(for: number)
                )
            }
            merged.confirmed += report.confirmed
            merged.failures += report.failures
            merged.warnings += report.warnings
            merged.sentBytes &+= report.sentBytes
            if merged.connectionError == nil { merged.connectionError = report.connectionError }
        }
        return merged
    }

    private func totalBytes() -> UInt64? {
        var total: UInt64 = 0
        for source in sources {
            guard case .file(let path, _) = source else { return nil }
            var info = stat()
            if stat(path, &info) == 0 { total &+= UInt64(info.st_size) }
        }
        return total
    }
}

/// The reports of the connections, as each ends.
final class ReportSlots: @unchecked Sendable {
    private let condition = Condition()
    private var slots: [SendReport?]

    init(count: Int) { slots = [SendReport?](repeating: nil, count: count) }

    func put(_ report: SendReport, at index: Int) {
        condition.lock()
        slots[index] = report
        condition.broadcast()
        condition.unlock()
    }

    /// Every report, once every connection has ended.
    func all() -> [SendReport] {
        condition.lock()
        defer { condition.unlock() }
        while slots.contains(where: { $0 == nil }) { condition.wait() }
        return slots.map { $0! }
    }
}

/// The events of several connections as one run's: one `connected`, progress summed.
final class MergedSenderEvents: @unchecked Sendable {
    private let condition = Condition()
    private var progress: [SendProgress]
    private let total: UInt64?
    private var connected = false
    private let onEvent: @Sendable (SenderEvent) -> Void

    init(connections: Int, total: UInt64?, onEvent: @escaping @Sendable (SenderEvent) -> Void) {
        progress = [SendProgress](repeating: SendProgress(), count: connections)
        self.total = total
        self.onEvent = onEvent
    }

    /// The event handler of connection `number`.
    func handler(for number: Int) -> @Sendable (SenderEvent) -> Void {
        { [self] event in
            condition.lock()
            defer { condition.unlock() }
            switch event {
            case .connected:
                guard !connected else { return }
                connected = true
                onEvent(event)
            case .progress(let update):
                progress[number] = update
                var sum = SendProgress(total: total, current: update.current, phase: update.phase)
                for part in progress {
                    sum.sent &+= part.sent
                    sum.kept &+= part.kept
                    sum.received &+= part.received
                    sum.confirmed &+= part.confirmed
                }
                onEvent(.progress(sum))
            default:
                onEvent(event)
            }
        }
    }
}
