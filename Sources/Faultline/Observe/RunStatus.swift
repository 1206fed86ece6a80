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
        fileprivate var recentConnections = RecentTimes()
        /// Request (exchange, or a protocol's command) start times within the last second, for requests per second.
        fileprivate var recentRequests = RecentTimes()
    }

    /// Counters by proxy name.
    public private(set) var proxies: [String: ProxyCounts] = [:]
    /// The phase playing now, or `stopping` once a signal is ending the run.
    public private(set) var phase: String?
    private var stopping = false

    /// Starts empty; feed it with `observe`.
    public init() {}

    /// Updates the counters from one event.
    public func observe(_ event: Event) {
        switch event.kind {
        case .phaseStarted(let name) where !stopping: phase = name
        case .phaseEnded where !stopping: phase = nil
        case .stopping:
            stopping = true
            phase = "stopping"
        default: break
        }
        guard let proxy = event.proxy else { return }
        // Mutated in place: a copy taken out of the dictionary and stored back would copy the
        // arrays of recent times on every event (50,000 requests/s made that most of the CPU).
        update(&proxies[proxy, default: ProxyCounts()], with: event)
    }

    private func update(_ counts: inout ProxyCounts, with event: Event) {
        switch event.kind {
        case .connectionOpened:
            counts.open += 1
            counts.total += 1
            counts.recentConnections.add(event.time)
        case .exchangeStarted, .requestStarted:
            counts.recentRequests.add(event.time)
        case .connectionClosed:
            counts.open -= 1
        case .faultApplied:
            counts.faultsApplied += 1
        case .faultFired:
            counts.faultsFired += 1
        default:
            break
        }
    }

    /// Connections accepted by `proxy` in the second before `time`: pass the current time, not
    /// the last event's, or a burst would stay on screen until the next connection.
    public func connectionsPerSecond(_ proxy: String, at time: Duration) -> Int {
        proxies[proxy]?.recentConnections.count(within: .seconds(1), before: time) ?? 0
    }

    /// Requests (exchanges) `proxy` saw start in the second before `time`.
    public func requestsPerSecond(_ proxy: String, at time: Duration) -> Int {
        proxies[proxy]?.recentRequests.count(within: .seconds(1), before: time) ?? 0
    }
}

/// Times of recent events, oldest first, trimmed as they age: adding and counting cost O(1)
/// amortized, so 50,000 requests a second do not make every event scan the whole list.
struct RecentTimes: Sendable {
    private var times: [Duration] = []
    private var head = 0
    /// How far back anything is kept.
    private static let horizon = Duration.seconds(1)

    mutating func add(_ time: Duration) {
        trim(before: time)
        times.append(time)
    }

    /// Events in (time - window, time]; `window` must not exceed one second.
    func count(within window: Duration, before time: Duration) -> Int {
        var first = head
        while first < times.count && time - times[first] > window { first += 1 }
        return times.count - first
    }

    private mutating func trim(before time: Duration) {
        while head < times.count && time - times[head] > Self.horizon { head += 1 }
        if head > 1024 && head * 2 > times.count {
            times.removeFirst(head)
            head = 0
        }
    }
}
