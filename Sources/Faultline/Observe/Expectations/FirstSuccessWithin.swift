/// `first_success_within: T`: the client gets its first answer no later than T after the
/// scope starts (the phase's start for `during:`, its end for `after:`, the run's start
/// otherwise). The success may come after a `during:` phase ended: T often outlasts the
/// phase, as when recovery is judged over a longer horizon than the recovery phase itself.
enum FirstSuccessWithin: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "first_success_within",
        summary: "The first success (a reply) comes no later than `within` after the scope starts "
            + "(it may come after a `during:` phase has ended).",
        parameters: [.init("within", .duration, "the longest wait for the first success", example: "35s")],
        scalarParameter: "within",
        example: "- during: recovery\n  proxy: redis\n  first_success_within: 35s")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let within = try context.duration("within")
        guard let success = context.fromStart.first(where: \.isSuccess) else {
            let waited = context.endTime - context.window.start
            return .fail("first_success_within: no success in the \(Figures.seconds(waited)) to the end of the run"
                + " (limit \(Figures.limit(within)))")
        }
        let waited = success.time - context.window.start
        let holds = waited <= within
        return .judged(holds, "first_success_within \(Figures.seconds(waited)) \(holds ? "≤" : ">") \(Figures.limit(within))")
    }
}
