/// The HTTP fault kinds (proxies with `protocol: http`). Each acts on requests: `match` picks
/// them (method, path, query, headers), and `first`, `every` and `probability` count and pick
/// matching requests, not connections (see `HTTPRule`).
enum HTTPFaults {
    static let kinds = [respond, delay, drip, truncate, abort, status, wsReject, wsClose]

    /// The keys that may sit under `match:`; YAML's `headers` there is `request_headers`.
    static let matchParameters = [
        FaultParameter("method", .list, default: nil, "only these methods, any case (YAML: [GET, POST] or under match:; --fault: GET|POST)"),
        FaultParameter("path", .text, default: nil,
                       "only this path (query left out): exact, a glob where * spans segments (/api/v2/*), or regex:PATTERN (POSIX extended, as grep -E)"),
        FaultParameter("query", .fields, default: nil,
                       "query parameters: name: value (equal), true (present), false (absent) or regex:PATTERN"),
        FaultParameter("request_headers", .fields, default: nil,
                       "request headers (YAML: headers under match:), any case: value, true, false or regex:PATTERN"),
    ]

    static let respond = FaultKind(
        name: "http.respond",
        summary: "answer matching requests without the upstream: a status, headers and a body (presets: 405 sends Allow, "
            + "429 and 503 send Retry-After); the connection stays open",
        parameters: [
            FaultParameter("status", .count, default: .count(503), "the status, 200 to 599"),
            FaultParameter("body", .text, default: nil, "the body; default {\"error\":\"<reason>\",\"status\":<status>} as JSON"),
            FaultParameter("headers", .fields, default: nil, "response headers to add (or replace): Name: value"),
            FaultParameter("allow", .text, default: nil, "405: the Allow header (default \"GET, HEAD\")"),
            FaultParameter("retry_after", .count, default: nil, optional: true, "429, 503: Retry-After in seconds (default 1)"),
        ] + matchParameters,
        example: "http.respond:status=404,method=GET,path=/api/v2/*",
        selectsCommands: true,
        check: { fault in
            try checkAnswer(fault, preset: true)
            try HTTPRule.check(fault)
        }
    ) { _, link in NoEffect(link: link) }

    static let delay = FaultKind(
        name: "http.delay",
        summary: "hold matching requests before they reach the upstream, or their responses before the first byte",
        parameters: [
            FaultParameter("delay", .duration(bareUnit: .milliseconds), default: nil, "how long (bare numbers are ms)"),
            FaultParameter("before", .choice(["request", "response"]), default: .word("response"),
                           "request: the request waits (and the ones after it); response: the response's first byte waits"),
        ] + matchParameters,
        example: "http.delay:delay=5s,path=/api/*",
        selectsCommands: true,
        check: HTTPRule.check
    ) { _, link in NoEffect(link: link) }

    static let drip = FaultKind(
        name: "http.drip",
        summary: "deliver the response's head at once and its body at a rate (a slow server or network)",
        parameters: [FaultParameter("rate", .rate, default: nil, "body bytes per second: 100B, 2KB; a bare number is KB/s")]
            + matchParameters,
        example: "http.drip:rate=100B,path=/download/*",
        selectsCommands: true,
        check: HTTPRule.check
    ) { _, link in NoEffect(link: link) }

    static let truncate = FaultKind(
        name: "http.truncate",
        summary: "cut the response body after a number of bytes, then close the connection (the client reads an incomplete body)",
        parameters: [FaultParameter("after", .bytes, default: nil, "body bytes delivered before the cut (chunked framing counts)")]
            + matchParameters,
        example: "http.truncate:after=1KB,path=/api/*",
        selectsCommands: true,
        check: HTTPRule.check
    ) { _, link in NoEffect(link: link) }

    static let abort = FaultKind(
        name: "http.abort",
        summary: "close the connection (FIN or RST) once a matching request arrived, without an answer (the upstream never "
            + "sees it), or mid-response after some body bytes",
        parameters: [
            FaultParameter("how", .choice(["fin", "rst"]), default: .word("rst"),
                           "rst = \"Connection reset by peer\", fin = \"Remote end closed connection without response\""),
            FaultParameter("after", .bytes, default: nil, optional: true,
                           "abort mid-response after this many body bytes (the request reaches the upstream); default: at the request"),
        ] + matchParameters,
        example: "http.abort:how=rst,path=/api/*",
        selectsCommands: true,
        check: HTTPRule.check
    ) { _, link in NoEffect(link: link) }

    static let status = FaultKind(
        name: "http.status",
        summary: "rewrite the status of the upstream's response (headers and body pass unchanged)",
        parameters: [FaultParameter("status", .count, default: nil, "the status the client sees, 200 to 599")] + matchParameters,
        example: "http.status:status=500,path=/api/*",
        selectsCommands: true,
        check: { fault in
            try checkStatus(fault, allowed: 200...599)
            if [204, 304].contains(fault.count("status")) {
                throw ParameterError(parameter: "status", message: "\(fault.count("status")) has no body: the upstream's body would be read as the next response (use http.respond)")
            }
            try HTTPRule.check(fault)
        }
    ) { _, link in NoEffect(link: link) }

    static let wsReject = FaultKind(
        name: "http.ws_reject",
        summary: "refuse WebSocket upgrades with a status instead of reaching the upstream",
        parameters: [
            FaultParameter("status", .count, default: .count(403), "the status, 400 to 599"),
            FaultParameter("body", .text, default: nil, "the body; default {\"error\":\"<reason>\",\"status\":<status>} as JSON"),
        ] + matchParameters,
        example: "http.ws_reject:status=403,path=/ws",
        selectsCommands: true,
        check: { fault in
            try checkStatus(fault, allowed: 400...599)
            try checkAnswer(fault, preset: false)
            try HTTPRule.check(fault)
        }
    ) { _, link in NoEffect(link: link) }

    static let wsClose = FaultKind(
        name: "http.ws_close",
        summary: "close WebSocket connections after a time: a close frame with a code (1011 by default), then the end; "
            + "`after` counts from the 101, or from the fault's start for WebSockets already open",
        parameters: [
            FaultParameter("after", .duration(bareUnit: .milliseconds), default: nil, "time after the 101 (bare numbers are ms)"),
            FaultParameter("code", .count, default: .count(1011), "the close code, 1000 to 4999 (1011: internal error, 1001: going away)"),
            FaultParameter("reason", .text, default: nil, "the close reason (up to 123 bytes)"),
        ] + matchParameters,
        example: "http.ws_close:after=2s,code=1011",
        selectsCommands: true,
        check: { fault in
            let code = fault.count("code")
            guard (1000...4999).contains(code), ![1004, 1005, 1006, 1015].contains(code) else {
                throw ParameterError(parameter: "code", message: "\(code) is not a code a server may send (1000–4999 except 1004, 1005, 1006, 1015)")
            }
            guard fault.word("reason").utf8.count <= 123 else {
                throw ParameterError(parameter: "reason", message: "is longer than 123 bytes (a close frame holds 125)")
            }
            try HTTPRule.check(fault)
        }
    ) { _, link in NoEffect(link: link) }

    private static func checkStatus(_ fault: Fault, allowed: ClosedRange<Int>) throws {
        let status = fault.count("status")
        guard allowed.contains(status) else {
            throw ParameterError(parameter: "status", message: "\(status) is not a status from \(allowed.lowerBound) to \(allowed.upperBound)")
        }
    }

    private static func checkAnswer(_ fault: Fault, preset: Bool) throws {
        if preset { try checkStatus(fault, allowed: 200...599) }
        let status = fault.count("status")
        if (status == 204 || status == 304) && !fault.word("body").isEmpty {
            throw ParameterError(parameter: "body", message: "a \(status) response has no body")
        }
        guard preset else { return }
        if !fault.word("allow").isEmpty && status != 405 {
            throw ParameterError(parameter: "allow", message: "only goes with status 405")
        }
        if fault.has("retry_after") && status != 429 && status != 503 {
            throw ParameterError(parameter: "retry_after", message: "only goes with status 429 or 503")
        }
    }
}
