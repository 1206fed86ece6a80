/// Which requests a counting expectation looks at: `match` (the request's whole description,
/// `*` for any text: `"GET /api/v2/*"`, `"GET session:*"`), `command` (a Redis command's
/// name, any case: `AUTH`), `method` (an HTTP method, any case) and `path` (an HTTP path, `*`
/// for any text). Without any, every request.
struct RequestFilter {
    let match: String?
    let command: String?
    let method: String?
    let path: String?

    init(_ context: CheckContext) {
        match = context.text("match")
        command = context.text("command")?.uppercased()
        method = context.text("method")?.uppercased()
        path = context.text("path")
    }

    var isEmpty: Bool { match == nil && command == nil && method == nil && path == nil }

    /// `"GET *" and command AUTH`, for "matched …" in verdicts; empty without a filter.
    var label: String {
        [match.map { "\"\($0)\"" }, command.map { "command \($0)" }, method.map { "method \($0)" }, path.map { "path \"\($0)\"" }]
            .compactMap { $0 }.joined(separator: " and ")
    }

    /// `match "GET *" and command AUTH`: the filter as its keys read.
    var described: String {
        [match.map { "match \"\($0)\"" }, command.map { "command \($0)" }, method.map { "method \($0)" }, path.map { "path \"\($0)\"" }]
            .compactMap { $0 }.joined(separator: " and ")
    }

    /// Whether a request described as `detail` is one of these; nil for an opaque request (a
    /// TCP exchange), which could be any.
    func admits(_ detail: String?) -> Bool? {
        guard let detail else { return isEmpty ? true : nil }
        let verb = detail.prefix(while: { $0 != " " })
        if let command, verb.uppercased() != command { return false }
        if let method, verb.uppercased() != method { return false }
        if let path {
            let rest = detail.dropFirst(verb.count).drop { $0 == " " }
            guard NoRequest.glob(path, matches: String(rest)) else { return false }
        }
        if let match, !NoRequest.glob(match, matches: detail) { return false }
        return true
    }

    static let parameters: [ExpectationParameterInfo] = [
        .init("match", .text, required: false, "only requests whose description matches (`*` matches any text), e.g. a method and path",
              example: "\"GET /api/v2/*\""),
        .init("command", .text, required: false, "only this Redis command (any case)", example: "AUTH"),
        .init("method", .text, required: false, "only HTTP requests with this method (any case)", example: "GET"),
        .init("path", .text, required: false, "only HTTP requests whose path (query left out) matches (`*` matches any text)",
              example: "\"/api/preferences/active\""),
    ]
}
