/// `backoff: true`: the gaps between consecutive connection attempts never shrink, i.e. the
/// client waits at least as long before each retry as before the previous one.
///
/// Real clients jitter their delays and timers fire late, so a gap may come out a little
/// shorter than the one before: it counts as shrinking only when it is shorter by more than
/// the larger of 10% of the previous gap and 50 ms. The 50 ms floor absorbs scheduling noise
/// on short gaps; the 10% absorbs proportional jitter on long ones. A constant interval
/// passes (it does not shrink; `max_rate` judges how fast it is).
enum Backoff: ExpectationCheck {
    /// The share of the previous gap a gap may lose.
    static let relativeTolerance = 0.10
    /// What a gap may lose however short the previous one.
    static let absoluteTolerance = Duration.milliseconds(50)
    /// Gaps shown in a passing verdict before the list is elided.
    static let gapsShown = 6

    static let info = ExpectationKindInfo(
        name: "backoff",
        summary: "Gaps between consecutive connection attempts in scope never shrink: each is at least the "
            + "previous gap minus max(10% of it, 50 ms). Fewer than 3 attempts pass (nothing to compare).",
        parameters: [.init("enabled", .flag, "must be true", example: "true")],
        scalarParameter: "enabled",
        example: "- during: outage\n  proxy: redis\n  backoff: true")

    /// How much shorter than `previous` the next gap may be.
    static func tolerance(after previous: Duration) -> Duration {
        max(previous * relativeTolerance, absoluteTolerance)
    }

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        try context.requireTrue("enabled")
        let attempts = context.facts.filter(\.isAttempt).map(\.time)
        let gaps = zip(attempts.dropFirst(), attempts).map { $0 - $1 }
        guard gaps.count >= 2 else {
            return .pass("backoff: \(Figures.count(attempts.count, "attempt")), nothing to compare")
        }
        for index in 1..<gaps.count {
            let previous = gaps[index - 1]
            let allowed = tolerance(after: previous)
            if gaps[index] < previous - allowed {
                // Attempt numbers count from 1; gap `index` ends at attempt index + 2.
                return .fail("backoff: gap \(index + 1) shrank \(Figures.seconds(previous)) → \(Figures.seconds(gaps[index]))"
                    + " at attempt \(index + 2) (\(Figures.seconds(attempts[index + 1]))), by more than \(Figures.seconds(allowed))")
            }
        }
        return .pass("backoff: \(attempts.count) attempts, gaps \(listed(gaps)) never shrank")
    }

    /// `100ms, 200ms, 400ms`, or the first few, `…` and the last when there are many.
    private static func listed(_ gaps: [Duration]) -> String {
        let shown = gaps.count <= gapsShown ? gaps : Array(gaps.prefix(gapsShown - 1))
        let text = shown.map(Figures.seconds).joined(separator: ", ")
        guard gaps.count > gapsShown, let last = gaps.last else { return text }
        return text + ", …, " + Figures.seconds(last)
    }
}
