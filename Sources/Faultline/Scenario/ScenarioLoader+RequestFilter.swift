/// The request filters of `max_requests` and `no_request` (`match`, `command`, `method`,
/// `path`) checked against what the proxy's protocol names requests by, so that a filter that
/// can never match — a lower-case method, a path without its `/`, a query the descriptions
/// leave out, a Redis command on an HTTP proxy — is an error, not an expectation that always
/// holds.
extension ScenarioBuilder {
    func checkRequestFilter(_ kind: ExpectationKindInfo, proxy: String?, _ values: [String: ExpectationValue],
                            _ positions: [String: SourcePosition]) {
        guard kind.name == MaxRequests.info.name || kind.name == NoRequest.info.name else { return }
        let given = ["match", "command", "method", "path"].compactMap { key -> (String, String)? in
            if case .text(let text)? = values[key] { (key, text) } else { nil }
        }
        guard !given.isEmpty else { return }
        let protocols = proxy.map { [proxyProtocols[$0]].compactMap { $0 } } ?? Array(Set(proxyProtocols.values))
        guard protocols.count == 1, let spoken = protocols.first else { return }
        let name = proxy.map { "proxy '\($0)'" } ?? "the proxy"
        for (key, text) in given {
            if let problem = Self.filterProblem(key, text, spoken) {
                reader.report(positions[key], "\(kind.name): \(key) \(problem); \(name) speaks \(spoken.rawValue)")
            }
        }
    }

    private static func filterProblem(_ key: String, _ text: String, _ spoken: ProxyProtocol) -> String? {
        switch (spoken, key) {
        case (.tcp, _):
            return "needs requests a protocol names (protocol: redis or http); a TCP proxy sees exchanges"
        case (.http, "command"), (.redis, "method"), (.redis, "path"):
            return spoken == .http ? "names a Redis command" : "names HTTP requests"
        case (.http, "method"):
            return text.utf8.allSatisfy(HTTPBytes.isToken) ? nil : "'\(text)' is not a method"
        case (.http, "path"):
            return pathProblem(text)
        case (.http, "match"):
            guard text != "*" else { return nil }
            let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "*" || parts[0].utf8.allSatisfy(HTTPBytes.isToken) else {
                return "'\(text)' is not METHOD /path (requests read \"GET /api/v2/users\")"
            }
            if parts[0] != parts[0].uppercased() { return "'\(text)': methods are upper case (\(parts[0].uppercased()))" }
            return pathProblem(parts[1])
        default:
            return nil
        }
    }

    private static func pathProblem(_ path: String) -> String? {
        if !path.hasPrefix("/") && !path.hasPrefix("*") { return "'\(path)' starts with neither / nor *" }
        if path.contains("?") { return "'\(path)' holds a query; requests are described without theirs" }
        return nil
    }
}
