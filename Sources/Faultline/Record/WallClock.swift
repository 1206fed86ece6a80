import Glibc

/// Turns the bus's monotonic times into wall-clock times, anchored once: every event of a
/// recording gets both, and a clock step (NTP) during the run cannot reorder them.
struct WallClock: Sendable {
    /// Nanoseconds since 1970 at bus time zero.
    let epochAtZero: Int64

    /// Anchors on the wall clock now, read together with `busNow`.
    init(busNow: Duration) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        epochAtZero = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - Self.nanoseconds(busNow)
    }

    /// A clock whose bus time zero is `epochAtZero` nanoseconds since 1970.
    init(epochAtZero: Int64) {
        self.epochAtZero = epochAtZero
    }

    /// Nanoseconds since 1970 at bus time `time`.
    func nanoseconds(at time: Duration) -> Int64 { epochAtZero + Self.nanoseconds(time) }

    /// RFC 3339 in UTC with microseconds: `2026-12-01T00:45:09.123456Z`.
    func text(at time: Duration) -> String {
        let total = nanoseconds(at: time)
        var seconds = time_t(total / 1_000_000_000)
        let micros = Int((total % 1_000_000_000) / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = String(micros)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec))." + String(repeating: "0", count: 6 - fraction.count) + fraction + "Z"
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, atto) = duration.components
        return seconds * 1_000_000_000 + atto / 1_000_000_000
    }
}
