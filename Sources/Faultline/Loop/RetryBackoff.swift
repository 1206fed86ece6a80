/// A wait that doubles after each failure up to a cap and starts over after a success: how
/// long to pause accepting when descriptors run out, or between attempts to listen again.
struct RetryBackoff {
    /// The first wait after a success.
    let initial: Duration
    /// The longest wait.
    let cap: Duration
    /// The wait the next failure gets.
    private(set) var next: Duration
    /// Failures since the last success.
    private(set) var failures = 0

    init(initial: Duration, cap: Duration) {
        self.initial = initial
        self.cap = cap
        next = initial
    }

    /// Counts a failure and returns how long to wait before trying again.
    mutating func failed() -> Duration {
        let wait = next
        failures += 1
        next = min(next * 2, cap)
        return wait
    }

    /// A success (or a fresh start): the next failure waits `initial` again.
    mutating func reset() {
        next = initial
        failures = 0
    }
}
