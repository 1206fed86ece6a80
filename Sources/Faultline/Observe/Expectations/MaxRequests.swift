/// `max_requests: N`: the client sent at most N requests in scope. At the TCP layer a request
/// is an exchange on a connection (see `TCPFactExtractor`); protocol proxies count the
/// requests they parse, and `match`/`command` narrow the count (`{limit: 4, command: AUTH}`:
/// at most 4 authentication attempts).
enum MaxRequests: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "max_requests",
        summary: "At most `limit` requests in scope (on a TCP proxy a request is an exchange: the client sends, the upstream answers). "
            + "With `match`, `command`, `method` or `path`, only the requests they name count (a protocol proxy names its requests; on TCP that is an error).",
        parameters: [.init("limit", .count, "the most requests allowed", example: "20")] + RequestFilter.parameters,
        scalarParameter: "limit",
        example: "- during: outage\n  proxy: redis\n  max_requests: {limit: 20, command: GET}")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let limit = try context.number("limit")
        let filter = RequestFilter(context)
        var count = 0
        for fact in context.facts {
            guard case .request(let detail) = fact.kind else { continue }
            guard let admitted = filter.admits(detail) else {
                throw ExpectationProblem("max_requests: \(filter.described) needs requests a protocol proxy names; this proxy's are TCP exchanges")
            }
            if admitted { count += 1 }
        }
        let outcome = Outcome.atMost(info.name, count: count, limit: limit)
        return filter.isEmpty ? outcome : Outcome(status: outcome.status, observed: "\(outcome.observed) (\(filter.described))")
    }
}
