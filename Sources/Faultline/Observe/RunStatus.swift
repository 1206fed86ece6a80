/// Running totals per proxy, kept from events, for the live view and the plain log.
public final class RunStatus {
    /// Counters of one proxy.
    public struct ProxyCounts: Sendable {
        /// Connections open now.
        public var open = 0
        /// Connections accepted so far.
        public var total = 0
        /// Connections a fault was chosen for.
        public var faultsApplied = 0
        /// Times a fault acted on a connection (cut, reset, refused, delayed, …).
        public var faultsFired = 0
        /// Accept times within the last second, for connections per second.
        fileprivate var recent: [Duration] = []
    }

    /// Counters by proxy name.
    public private(set) var proxies: [String: ProxyCounts] = [:]
    /// The phase playing now.
    public private(set) var phase: String?

    /// Starts empty; feed it with `observe`.
    public init() {}

    /// Updates the counters from one event.
    public func observe(_ event: Event) {
        if case .phaseStarted(let name) = event.kind { phase = name }
        if case .phaseEnded = event.kind { phase = nil }
        guard let proxy = event.proxy else { return }
        var counts = proxies[proxy] ?? ProxyCounts()
        switch event.kind {
        case .connectionOpened:
            counts.open += 1
            counts.total += 1
            counts.recent.append(event.time)
        case .connectionClosed:
            counts.open -= 1
        case .faultApplied:
            counts.faultsApplied += 1
        case .faultFired:
            counts.faultsFired += 1
        default:
            break
        }
        counts.recent.removeAll { event.time - $0 > .seconds(1) }
        proxies[proxy] = counts
    }

    /// Connections accepted by `proxy` in the second before `time`: pass the current time, not
    /// the last event's, or a burst would stay on screen until the next connection.
    public func connectionsPerSecond(_ proxy: String, at time: Duration) -> Int {
        proxies[proxy]?.recent.filter { time - $0 <= .seconds(1) }.count ?? 0
    }
}
