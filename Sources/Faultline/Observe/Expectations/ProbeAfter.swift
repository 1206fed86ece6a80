/// `probe_after: {quiet: T, within: W}`: after staying quiet for T (its breaker's cooldown),
/// the client sends its next request within W — the breaker went half-open and probed.
///
/// A quiet period starts at any fact in scope (an attempt, request, success or failure: the
/// last thing seen on the proxy) and ends at the next one. The first period of at least T
/// whose end is client traffic is the cooldown, and that traffic is the probe; its delay is
/// the period's length minus T. A period ended by a late reply or failure of an older
/// connection is no probe and is skipped. The probe may come after the scope's end.
enum ProbeAfter: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "probe_after",
        summary: "The first quiet period of at least `quiet` that starts in scope (nothing seen on the proxy) "
            + "ends with a request no later than `within` after `quiet` had passed.",
        parameters: [
            .init("quiet", .duration, "the cooldown: how long the client stays silent first", example: "30s"),
            .init("within", .duration, "how soon after the cooldown the probe must come", example: "5s"),
        ],
        scalarParameter: nil,
        example: "- during: outage\n  proxy: api\n  probe_after: {quiet: 30s, within: 5s}")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let quiet = try context.duration("quiet")
        let within = try context.duration("within")
        let facts = context.fromStart
        var longest: Duration?
        for (index, fact) in facts.enumerated() where context.window.contains(fact.time) {
            let next = facts.index(after: index) < facts.endIndex ? facts[index + 1] : nil
            // Only a period the client ended (or the run did) is a quiet the client kept.
            if next?.isTraffic == false { continue }
            let silent = (next?.time ?? context.endTime) - fact.time
            longest = max(longest ?? silent, silent)
            guard silent >= quiet else { continue }
            guard next != nil else {
                return .fail("probe_after: no probe after \(Figures.limit(quiet)) of quiet;"
                    + " the run ended \(Figures.seconds(silent - quiet)) later")
            }
            let delay = silent - quiet
            let holds = delay <= within
            return .judged(holds, "probe_after: probe \(Figures.seconds(delay)) after \(Figures.limit(quiet)) of quiet"
                + " \(holds ? "≤" : ">") \(Figures.limit(within))")
        }
        guard let longest else { return .fail("probe_after: no traffic in scope") }
        return .fail("probe_after: never quiet for \(Figures.limit(quiet)) (longest quiet \(Figures.seconds(longest)))")
    }
}
