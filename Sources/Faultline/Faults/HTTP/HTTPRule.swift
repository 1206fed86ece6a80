/// What one HTTP fault does to the requests it matches, read once from its parameters.
struct HTTPRule {
    enum Action {
        /// Answer without the upstream (`http.respond`; `http.ws_reject` for upgrades only).
        case respond(status: Int, body: String?, headers: [(name: String, value: String)], upgradesOnly: Bool)
        case delayRequest(Duration)
        case delayResponse(Duration)
        /// Body bytes per second.
        case drip(Int)
        case truncate(after: Int)
        /// Close (RST when `reset`) at the request, or after `after` body bytes of the response.
        case abort(reset: Bool, after: Int?)
        case status(Int)
        case wsClose(after: Duration, code: Int, reason: String)
    }

    let action: Action
    let match: HTTPMatch

    /// The rule of `fault`, or nil when it is no HTTP fault.
    init?(_ fault: Fault) {
        guard fault.kind.name.hasPrefix("http."), let match = try? HTTPMatch(fault) else { return nil }
        self.match = match
        switch fault.kind.name {
        case HTTPFaults.respond.name, HTTPFaults.wsReject.name:
            let status = fault.count("status")
            var headers = FieldsText.pairs(fault.word("headers"))
            let named = Set(headers.map { $0.name.lowercased() })
            if status == 405 && !named.contains("allow") {
                headers.insert(("Allow", fault.word("allow").isEmpty ? "GET, HEAD" : fault.word("allow")), at: 0)
            }
            if (status == 429 || status == 503) && !named.contains("retry-after") {
                headers.insert(("Retry-After", String(fault.has("retry_after") ? fault.count("retry_after") : 1)), at: 0)
            }
            let body = fault.word("body")
            action = .respond(status: status, body: body.isEmpty ? nil : body, headers: headers,
                              upgradesOnly: fault.kind.name == HTTPFaults.wsReject.name)
        case HTTPFaults.delay.name:
            let wait = fault.duration("delay")
            action = fault.word("before") == "request" ? .delayRequest(wait) : .delayResponse(wait)
        case HTTPFaults.drip.name:
            action = .drip(fault.count("rate"))
        case HTTPFaults.truncate.name:
            action = .truncate(after: fault.count("after"))
        case HTTPFaults.abort.name:
            action = .abort(reset: fault.word("how") == "rst", after: fault.has("after") ? fault.count("after") : nil)
        case HTTPFaults.status.name:
            action = .status(fault.count("status"))
        case HTTPFaults.wsClose.name:
            action = .wsClose(after: fault.duration("after"), code: fault.count("code"), reason: fault.word("reason"))
        default:
            return nil
        }
    }

    /// Checks what only building the rule finds (a regular expression that does not compile).
    static func check(_ fault: Fault) throws {
        for key in ["headers", "request_headers"] {
            for (name, _) in FieldsText.pairs(fault.word(key)) where !name.utf8.allSatisfy(HTTPBytes.isToken) {
                throw ParameterError(parameter: key, message: "'\(name)' is not a field name (letters, digits and !#$%&'*+-.^_`|~)")
            }
        }
        if let framing = FieldsText.pairs(fault.word("headers")).first(where: { ["content-length", "transfer-encoding"].contains($0.name.lowercased()) }) {
            throw ParameterError(parameter: "headers", message: "\(framing.name) is faultline's to set (it frames the body it sends)")
        }
        let path = fault.word("path")
        if !path.isEmpty && !path.hasPrefix("/") && !path.hasPrefix("*") && !path.hasPrefix("regex:") {
            throw ParameterError(parameter: "path", message: "'\(path)' starts with neither / nor * (a path is matched whole, from its first /)")
        }
        if let method = ParameterType.words(in: fault.word("method")).first(where: { !$0.utf8.allSatisfy(HTTPBytes.isToken) }) {
            throw ParameterError(parameter: "method", message: "'\(method)' is not a method")
        }
        _ = try HTTPMatch(fault)
    }
}
