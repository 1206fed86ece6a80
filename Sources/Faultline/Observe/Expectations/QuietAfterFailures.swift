/// `quiet_after_failures: {failures: N, quiet: T}`: once N requests in a row have failed, the
/// client sends nothing for at least T — its circuit breaker opened instead of retrying.
///
/// "In a row" means no success between them (a success resets the count, as breakers do).
/// The quiet is measured from the moment the N-th failure was seen to the next attempt or
/// request, which may fall after the scope's end; a run that ends first fails, since the
/// quiet could not be seen.
enum QuietAfterFailures: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "quiet_after_failures",
        summary: "After `failures` failed requests in a row (no success between) in scope, no attempt or "
            + "request for at least `quiet`, measured from the last of those failures. The quiet may run past "
            + "the scope's end but must be seen before the run ends.",
        parameters: [
            .init("failures", .count, minimum: 1, "failed requests in a row that should open the breaker", example: "5"),
            .init("quiet", .duration, "how long the client then stays silent, at least", example: "10s"),
        ],
        scalarParameter: nil,
        example: "- during: outage\n  proxy: api\n  quiet_after_failures: {failures: 5, quiet: 10s}")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let needed = Int(try context.number("failures").rounded(.up))
        let quiet = try context.duration("quiet")
        let failures = Figures.count(needed, "failure")
        guard let opened = breakerOpened(context.facts, after: needed) else {
            return .fail("quiet_after_failures: at most \(longestStreak(context.facts)) in a row, \(needed) needed")
        }
        let next = context.fromStart.first { $0.isTraffic && $0.time > opened }
        guard let next else {
            let silent = context.endTime - opened
            let figure = "quiet_after_failures: \(failures) then quiet for \(Figures.seconds(silent))"
            return silent >= quiet
                ? .pass("\(figure) ≥ \(Figures.limit(quiet)) (to the end of the run)")
                : .fail("\(figure), then the run ended, before \(Figures.limit(quiet))")
        }
        let silent = next.time - opened
        return silent >= quiet
            ? .pass("quiet_after_failures: \(failures) then quiet for \(Figures.seconds(silent)) ≥ \(Figures.limit(quiet))")
            : .fail("quiet_after_failures: \(failures) then traffic again after \(Figures.seconds(silent)) < \(Figures.limit(quiet))")
    }

    /// When the `needed`-th failure in a row happened: when a breaker should have opened.
    static func breakerOpened(_ facts: [Fact], after needed: Int) -> Duration? {
        var streak = 0
        for fact in facts {
            if fact.isSuccess { streak = 0 }
            guard fact.isFailure else { continue }
            streak += 1
            if streak >= max(needed, 1) { return fact.time }
        }
        return nil
    }

    private static func longestStreak(_ facts: [Fact]) -> String {
        var streak = 0
        var longest = 0
        for fact in facts {
            if fact.isSuccess { streak = 0 }
            if fact.isFailure { streak += 1; longest = max(longest, streak) }
        }
        return Figures.count(longest, "failure")
    }
}
