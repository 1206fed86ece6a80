/// `max_requests: N`: the client sent at most N requests in scope. At the TCP layer a request
/// is an exchange on a connection (see `TCPFactExtractor`); protocol proxies count the
/// requests they parse.
enum MaxRequests: ExpectationCheck {
    static let info = ExpectationKindInfo(
        name: "max_requests",
        summary: "At most `limit` requests in scope (on a TCP proxy a request is an exchange: the client sends, the upstream answers).",
        parameters: [.init("limit", .count, "the most requests allowed", example: "20")],
        scalarParameter: "limit",
        example: "- during: outage\n  max_requests: 20")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let limit = try context.number("limit")
        return .atMost(info.name, count: context.facts.filter(\.isRequest).count, limit: limit)
    }
}
