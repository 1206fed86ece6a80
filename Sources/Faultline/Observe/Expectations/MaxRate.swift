/// `max_rate: R`: no 1-second stretch of the scope holds more than R requests. A retry storm
/// fails it even when its total stays small.
enum MaxRate: ExpectationCheck {
    /// The sliding window's length.
    static let window = Duration.seconds(1)

    static let info = ExpectationKindInfo(
        name: "max_rate",
        summary: "Requests per second stay ≤ `rate` over every 1 s sliding window [t, t+1s) in scope "
            + "(the peak is the most requests any such window holds).",
        parameters: [.init("rate", .number, "the most requests per second allowed", example: "10")],
        scalarParameter: "rate",
        example: "- during: outage\n  proxy: api\n  max_rate: 10")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let rate = try context.number("rate")
        let times = context.facts.filter(\.isRequest).map(\.time)
        let (peak, from) = busiestWindow(times)
        let holds = Double(peak) <= rate
        let figure = "max_rate \(Figures.oneDecimal(Double(peak)))/s \(holds ? "≤" : ">") \(Figures.number(rate))/s"
        guard !holds, let from else { return .pass(figure) }
        return .fail(figure + " (\(Figures.count(peak, "request")) in the second from \(Figures.seconds(from)))")
    }

    /// The most times inside any window [t, t+1s), and the first such t. The busiest window
    /// always starts at one of the times, so only those starts are tried (two pointers).
    static func busiestWindow(_ times: [Duration]) -> (count: Int, start: Duration?) {
        var best = (count: 0, start: Duration?.none)
        var end = 0
        for (index, start) in times.enumerated() {
            end = max(end, index)
            while end < times.count && times[end] < start + window { end += 1 }
            if end - index > best.count { best = (end - index, start) }
        }
        return best
    }
}
