/// Which requests a counting expectation looks at: `match` (the request's whole description,
/// `*` for any text: `"GET /api/v2/*"`, `"GET session:*"`) and `command` (a Redis command's
/// name, any case: `AUTH`). Without either, every request.
struct RequestFilter {
    let match: String?
    let command: String?

    init(_ context: CheckContext) {
        match = context.text("match")
        command = context.text("command")?.uppercased()
    }

    var isEmpty: Bool { match == nil && command == nil }

    /// `"GET *" and command AUTH`, for "matched …" in verdicts; empty without a filter.
    var label: String {
        [match.map { "\"\($0)\"" }, command.map { "command \($0)" }].compactMap { $0 }.joined(separator: " and ")
    }

    /// `match "GET *" and command AUTH`: the filter as its keys read.
    var described: String {
        [match.map { "match \"\($0)\"" }, command.map { "command \($0)" }].compactMap { $0 }.joined(separator: " and ")
    }

    /// Whether a request described as `detail` is one of these; nil for an opaque request (a
    /// TCP exchange), which could be any.
    func admits(_ detail: String?) -> Bool? {
        guard let detail else { return isEmpty ? true : nil }
        if let command, detail.prefix(while: { $0 != " " }).uppercased() != command { return false }
        if let match, !NoRequest.glob(match, matches: detail) { return false }
        return true
    }

    static let parameters: [ExpectationParameterInfo] = [
        .init("match", .text, required: false, "only requests whose description matches (`*` matches any text), e.g. a method and path",
              example: "\"GET /api/v2/*\""),
        .init("command", .text, required: false, "only this Redis command (any case)", example: "AUTH"),
    ]
}
