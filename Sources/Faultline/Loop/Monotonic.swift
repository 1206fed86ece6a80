import Glibc

/// Monotonic time as plain nanoseconds, for per-message bookkeeping on the hot path.
/// `ContinuousClock.Instant` is opaque to this module (resilient), so every copy of a struct
/// holding one went through the runtime's generic value witnesses; a UInt64 copies inline.
enum Monotonic {
    /// Nanoseconds since an arbitrary point (CLOCK_MONOTONIC, read through the vDSO).
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// `duration` in nanoseconds (0 for negative durations; saturating at the top).
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? UInt64.max : whole &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// The time from `start` to `end` (zero if `end` is earlier).
    static func duration(from start: UInt64, to end: UInt64) -> Duration {
        end > start ? .nanoseconds(Int64(clamping: end - start)) : .zero
    }
}
