/// `no_request: {match: PATTERN}` or `{command: NAME}`: a call that must not happen did not
/// happen in scope.
///
/// Requests a protocol parsed carry a description (`GET /api/v2/users`) that `match` is
/// compared with: the whole description, `*` standing for any run of characters. A TCP proxy
/// sees exchanges but not what they ask, so each could be the forbidden call: there the
/// expectation holds only if no request at all was made, and the verdict says so.
enum NoRequest: ExpectationCheck {
    static let note = "TCP can only check \"no request\""

    static let info = ExpectationKindInfo(
        name: "no_request",
        summary: "No request matching `match` (`*` matches any text), `command` (a Redis command, any case), `method` or `path` (HTTP) in scope; "
            + "without either, no request at all. A TCP proxy cannot see what a request asks: there it means no request at all.",
        parameters: RequestFilter.parameters,
        scalarParameter: "match",
        example: "- proxy: memory\n  no_request: {match: \"GET /api/v2/*\"}")

    static func evaluate(_ context: CheckContext) throws -> Outcome {
        let filter = RequestFilter(context)
        var opaque: [Fact] = []
        var matched: [(fact: Fact, detail: String)] = []
        var described = 0
        for fact in context.facts {
            guard case .request(let detail) = fact.kind else { continue }
            guard let detail else { opaque.append(fact); continue }
            described += 1
            if filter.admits(detail) == true { matched.append((fact, detail)) }
        }
        let wanted = filter.isEmpty ? "" : " \(filter.label)"
        if let first = matched.first {
            return .fail("no_request: \(Figures.count(matched.count, "request")) matched\(wanted)"
                + " (first \"\(first.detail)\" at \(Figures.seconds(first.fact.time)))")
        }
        if let first = opaque.first {
            return .fail("no_request: \(Figures.count(opaque.count, "request")) (first at \(Figures.seconds(first.time)));"
                + " \(note)\(filter.isEmpty ? "" : ", not \(filter.described)")")
        }
        if described > 0 {
            return .pass("no_request: none of \(Figures.count(described, "request")) matched\(wanted)")
        }
        return .pass("no_request: no request in scope" + (filter.isEmpty ? "" : " (\(note), not \(filter.described))"))
    }

    /// Whether `text` is all of `pattern`, where `*` matches any run of characters.
    static func glob(_ pattern: String, matches text: String) -> Bool {
        // Byte-wise is character-wise here: UTF-8 sequences match only whole, and `*` spans any.
        StarGlob.matches(Array(pattern.utf8)[...], Array(text.utf8)[...])
    }
}
