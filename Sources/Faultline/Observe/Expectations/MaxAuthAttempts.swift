/// `max_auth_attempts: N`: at most N authentication attempts in scope on a `protocol: redis`
/// proxy: AUTH commands and HELLO commands that carry credentials (redis-py 8 and other RESP3
/// clients authenticate with `HELLO 3 AUTH user pass`). A client retrying AUTH in a loop
/// after rejections fails it; one that backs off and gets through passes.
enum MaxAuthAttempts: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "max_auth_attempts",
        summary: "At most `limit` authentication attempts in scope: AUTH, and HELLO with AUTH (Redis proxies; "
            + "elsewhere it is an error).",
        parameters: [.init("limit", .count, "the most attempts allowed", example: "4")],
        scalarParameter: "limit",
        example: "- during: outage\n  proxy: redis\n  max_auth_attempts: 4")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let limit = try context.number("limit")
        var attempts = 0
        for fact in context.facts {
            guard case .request(let detail) = fact.kind else { continue }
            guard let detail else {
                throw ExpectationProblem("max_auth_attempts: this proxy's requests are TCP exchanges; it needs protocol: redis")
            }
            if isAuthentication(detail) { attempts += 1 }
        }
        return .atMost(info.name, count: attempts, limit: limit)
    }

    /// Whether a request's description is an authentication: `AUTH`, or `HELLO 3 AUTH`
    /// (the form `RedisCommandKeys.detail` gives them, credentials left out).
    static func isAuthentication(_ detail: String) -> Bool {
        let words = detail.split(separator: " ")
        guard let name = words.first else { return false }
        return name == "AUTH" || (name == "HELLO" && words.dropFirst().contains("AUTH"))
    }
}
