/// `max_connection_attempts: N`: the client tried to connect at most N times in scope; a
/// client that reconnects in a tight loop during an outage fails it.
enum MaxConnectionAttempts: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "max_connection_attempts",
        summary: "At most `limit` connection attempts (connections accepted by the proxy) in scope.",
        parameters: [.init("limit", .count, "the most connection attempts allowed", example: "6")],
        scalarParameter: "limit",
        example: "- during: outage\n  proxy: redis\n  max_connection_attempts: 6")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let limit = try context.number("limit")
        return .atMost(info.name, count: context.facts.filter(\.isAttempt).count, limit: limit)
    }
}
