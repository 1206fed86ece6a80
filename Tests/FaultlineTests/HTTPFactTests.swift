@testable import Faultline
import XCTest

/// The facts a `protocol: http` proxy's events make (`TCPFactExtractor` reading
/// `requestStarted`, `responseStarted`, `requestAnswered`, `requestAbandoned` as an HTTP link
/// emits them), and the expectations that count HTTP requests by `method`, `path` and `match`:
/// their verdicts as a user reads them.
final class HTTPFactTests: XCTestCase {
    private static var extractor: TCPFactExtractor { TCPFactExtractor(protocolProxies: ["api"]) }

    private func facts(_ script: EventScript) -> [String] {
        script.describedFacts(extractor: Self.extractor)
    }

    private func verdict(_ script: EventScript, _ kind: String, _ parameters: [String: ExpectationValue], end: Double = 5) -> Verdict {
        script.verdicts([ExpectationSpec(kind: kind, proxy: "api", parameters: parameters)], end: end, extractor: Self.extractor)[0]
    }

    // MARK: facts

    func testAnAnsweredRequestIsARequestAndASuccess() {
        var script = EventScript()
        script.http(at: 0, [("GET /a", .answered(200)), ("GET /missing", .answered(404)), ("GET /moved", .answered(301))], closedAt: 2)
        XCTAssertEqual(facts(script), [
            "0ms api#1 attempt",
            "100ms api#1 request(GET /a)", "110ms api#1 success",
            "200ms api#1 request(GET /missing)", "210ms api#1 success",
            "300ms api#1 request(GET /moved)", "310ms api#1 success",
        ], "an upstream's 4xx is an answer")
    }

    func testFailuresNameTheStatusAndWhoWroteIt() {
        var script = EventScript()
        script.http(at: 0, [("GET /api/v2/users", .answered(404, byFaultline: true)), ("GET /b", .answered(503)),
                            ("POST /c", .answered(429, byFaultline: true)), ("GET /d", .answered(500))])
        XCTAssertEqual(facts(script).dropFirst(), [
            "100ms api#1 request(GET /api/v2/users)", "110ms api#1 failure(404 from faultline)",
            "200ms api#1 request(GET /b)", "210ms api#1 failure(503 from the upstream)",
            "300ms api#1 request(POST /c)", "310ms api#1 failure(429 from faultline)",
            "400ms api#1 request(GET /d)", "410ms api#1 failure(500 from the upstream)",
        ])
    }

    func testAFaultlineAnswerBelow400IsASuccess() {
        var script = EventScript()
        script.http(at: 0, [("GET /health", .answered(200, byFaultline: true)), ("DELETE /x", .answered(204, byFaultline: true))])
        XCTAssertEqual(facts(script).dropFirst(), [
            "100ms api#1 request(GET /health)", "110ms api#1 success", "200ms api#1 request(DELETE /x)", "210ms api#1 success",
        ])
    }

    func testPipelinedRequestsAreAnsweredInOrder() {
        var script = EventScript()
        let link = script.open(at: 0, proxy: "api")
        script.at(0, .upstreamConnected, proxy: "api", link: link)
        for detail in ["GET /a", "GET /api/v2/x", "GET /b"] { script.at(1, .requestStarted(detail: detail), proxy: "api", link: link) }
        script.respond(at: 1.1, 200, link: link)
        script.respond(at: 1.1, 404, byFaultline: true, link: link)
        script.respond(at: 1.2, 200, link: link)
        XCTAssertEqual(facts(script).dropFirst(4), ["1.1s api#1 success", "1.1s api#1 failure(404 from faultline)", "1.2s api#1 success"])
    }

    func testAClientGivingUpIsAFailureWhenItClosesItsSide() {
        var script = EventScript()
        script.http(at: 0, [("GET /slow", .abandoned(after: 2))], closedAt: 6)
        let link = UInt64(1)
        // The response the upstream sends later reaches no one: no success.
        script.at(5, .requestAnswered(error: nil, byFaultline: false, latency: .seconds(5), handshake: false), proxy: "api", link: link)
        XCTAssertEqual(facts(script).dropFirst(), ["100ms api#1 request(GET /slow)", "2.1s api#1 failure(abandoned by the client)"])
    }

    func testAnAbandonmentWithNothingPendingIsNothing() {
        var script = EventScript()
        script.http(at: 0, [("GET /a", .answered(200))])
        script.at(1, .requestAbandoned, proxy: "api", link: 1)
        XCTAssertEqual(facts(script).count, 3)
    }

    func testRequestsUnansweredAtCloseEachFail() {
        var script = EventScript()
        script.http(at: 0, [("GET /a", .answered(200)), ("GET /b", .unanswered), ("GET /c", .unanswered)], closedAt: 3)
        let reason = "no reply (2 requests): closed with the request unanswered"
        XCTAssertEqual(facts(script).dropFirst(3), [
            "200ms api#1 request(GET /b)", "300ms api#1 request(GET /c)",
            "3.0s api#1 failure(\(reason))", "3.0s api#1 failure(\(reason))",
        ])
        var one = EventScript()
        one.http(at: 0, [("GET /a", .unanswered)], closedAt: 1)
        XCTAssertEqual(facts(one).last, "1.0s api#1 failure(no reply: closed with the request unanswered)")
    }

    func testAnAbortNamesItsFault() {
        var script = EventScript()
        script.http(at: 0, [("GET /api/x", .unanswered)])
        script.at(0.1, .faultFired(name: "kill-api", kind: "http.abort", action: "reset"), proxy: "api", link: 1)
        script.at(0.1, .connectionClosed(bytesUp: 10, bytesDown: 0, reset: true), proxy: "api", link: 1)
        XCTAssertEqual(facts(script).dropFirst(2), ["100ms api#1 failure(no reply: reset by kill-api)"])
    }

    /// `http.truncate` and the upstream closing mid-body: a failure a user can read.
    func testAResponseCutShortIsAFailure() {
        var script = EventScript()
        script.http(at: 0, [("GET /big", .cut(byFaultline: true))], closedAt: 1)
        script.http(at: 2, [("GET /big", .cut(byFaultline: false))], closedAt: 3)
        let reasons = facts(script).filter { $0.contains("failure") }
        XCTAssertEqual(reasons, ["110ms api#1 failure(incomplete response from faultline)",
                                 "2.11s api#2 failure(incomplete response from the upstream)"])
    }

    func testAConnectionThatNeverReachedTheUpstreamIsANamedRequest() {
        var script = EventScript()
        let link = script.open(at: 0, proxy: "api")
        script.at(0.5, .upstreamFailed(reason: "Connection refused"), proxy: "api", link: link)
        script.at(0.5, .connectionClosed(bytesUp: 0, bytesDown: 0, reset: false), proxy: "api", link: link)
        XCTAssertEqual(facts(script), ["0ms api#1 attempt", "500ms api#1 request((connect))",
                                       "500ms api#1 failure(upstream failed: Connection refused)"])
    }

    // MARK: no_request

    /// Connections to `api`: a reconnecting client's requests, one per 100 ms.
    private func reconnect() -> EventScript {
        var script = EventScript()
        script.phase("reconnect", from: 0, to: 1)
        script.http(at: 0, [("GET /api/users", .answered(200)), ("GET /api/preferences/active", .answered(200)),
                            ("POST /api/preferences/active", .answered(201))], closedAt: 0.5)
        script.http(at: 2, [("GET /api/preferences/active", .answered(503)), ("GET /api/v2/users", .answered(200)),
                            ("GET /api/v2/users/7", .answered(404, byFaultline: true)), ("GET /api/v20", .answered(200))])
        return script
    }

    func testNoRequestByMethodAndPathFailsNamingTheFirst() {
        let verdict = verdict(reconnect(), "no_request", ["method": .text("GET"), "path": .text("/api/preferences/active")])
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, #"no_request: 2 requests matched method GET and path "/api/preferences/active" "#
                           + #"(first "GET /api/preferences/active" at 200ms)"#)
        XCTAssertEqual(verdict.label, #"no_request: {method: "GET", path: "/api/preferences/active"} (proxy: api)"#)
    }

    func testNoRequestInScopeOnly() {
        let spec = ExpectationSpec(kind: "no_request", proxy: "api", scope: .during("reconnect"),
                                   parameters: ["method": .text("get"), "path": .text("/api/v2/*")])
        let during = reconnect().verdicts([spec], end: 5, extractor: Self.extractor)[0]
        XCTAssertEqual(during.status, .pass)
        XCTAssertEqual(during.observed, #"no_request: none of 3 requests matched method GET and path "/api/v2/*""#, "method in any case")
        let whole = verdict(reconnect(), "no_request", ["method": .text("get"), "path": .text("/api/v2/*")])
        XCTAssertEqual(whole.observed, #"no_request: 2 requests matched method GET and path "/api/v2/*" (first "GET /api/v2/users" at 2.2s)"#)
        let post = verdict(reconnect(), "no_request", ["method": .text("POST")])
        XCTAssertEqual(post.observed, #"no_request: 1 request matched method POST (first "POST /api/preferences/active" at 300ms)"#)
        let delete = verdict(reconnect(), "no_request", ["method": .text("DELETE")])
        XCTAssertEqual(delete.observed, "no_request: none of 7 requests matched method DELETE")
    }

    func testNoRequestWithAMatchOnTheDescription() {
        let verdict = verdict(reconnect(), "no_request", ["match": .text("GET /api/v2/*")])
        XCTAssertEqual(verdict.observed, #"no_request: 2 requests matched "GET /api/v2/*" (first "GET /api/v2/users" at 2.2s)"#)
        XCTAssertEqual(self.verdict(reconnect(), "no_request", ["match": .text("* /api/preferences/*")]).observed,
                       #"no_request: 3 requests matched "* /api/preferences/*" (first "GET /api/preferences/active" at 200ms)"#)
    }

    func testNoRequestOnATCPProxySaysWhatItCannotSee() {
        let spec = ExpectationSpec(kind: "no_request", parameters: ["method": .text("GET"), "path": .text("/x")])
        let none = EventScript().verdicts([spec], end: 1)[0]
        XCTAssertEqual(none.status, .pass)
        XCTAssertEqual(none.observed, #"no_request: no request in scope (TCP can only check "no request", not method GET and path "/x")"#)
        var script = EventScript()
        script.connection(at: 0.5, .replied(after: 0.1, closedAfter: 1))
        let some = script.verdicts([spec], end: 2)[0]
        XCTAssertEqual(some.status, .fail)
        XCTAssertEqual(some.observed, #"no_request: 1 request (first at 500ms); TCP can only check "no request", not method GET and path "/x""#)
    }

    // MARK: max_requests

    func testMaxRequestsWithAMatch() {
        let verdict = verdict(reconnect(), "max_requests", ["limit": .number(1), "match": .text("GET /api/v2/*")])
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, #"max_requests 2 > 1 (match "GET /api/v2/*")"#, "/api/v20 is no /api/v2/ path")
        XCTAssertEqual(verdict.label, #"max_requests: {limit: 1, match: "GET /api/v2/*"} (proxy: api)"#)
    }

    func testMaxRequestsWithMethodAndPath() {
        XCTAssertEqual(verdict(reconnect(), "max_requests", ["limit": .number(3), "method": .text("get"), "path": .text("/api/*")]).observed,
                       #"max_requests 6 > 3 (method GET and path "/api/*")"#)
        XCTAssertEqual(verdict(reconnect(), "max_requests", ["limit": .number(1), "method": .text("post")]).observed,
                       "max_requests 1 ≤ 1 (method POST)")
        XCTAssertEqual(verdict(reconnect(), "max_requests", ["limit": .number(2), "path": .text("/api/preferences/active")]).observed,
                       #"max_requests 3 > 2 (path "/api/preferences/active")"#)
        XCTAssertEqual(verdict(reconnect(), "max_requests", ["limit": .number(7)]).observed, "max_requests 7 ≤ 7")
    }

    func testAConnectionThatNeverConnectedIsNoMethodsRequest() {
        var script = reconnect()
        let link = script.open(at: 4, proxy: "api")
        script.at(4, .connectionClosed(bytesUp: 0, bytesDown: 0, reset: false), proxy: "api", link: link)
        XCTAssertEqual(verdict(script, "max_requests", ["limit": .number(8)]).observed, "max_requests 8 ≤ 8", "(connect) is a request")
        XCTAssertEqual(verdict(script, "max_requests", ["limit": .number(6), "method": .text("GET")]).observed,
                       "max_requests 6 ≤ 6 (method GET)")
        XCTAssertEqual(verdict(script, "max_requests", ["limit": .number(3), "path": .text("/api/preferences/*")]).observed,
                       #"max_requests 3 ≤ 3 (path "/api/preferences/*")"#)
    }

    func testMaxRequestsByMethodOnATCPProxyIsAnError() {
        var script = EventScript()
        script.connection(at: 0, .replied(after: 0.1, closedAfter: 1))
        let spec = ExpectationSpec(kind: "max_requests", parameters: ["limit": .number(3), "method": .text("GET"), "path": .text("/x")])
        let verdict = script.verdicts([spec], end: 2)[0]
        XCTAssertEqual(verdict.status, .error)
        XCTAssertEqual(verdict.observed,
                       #"max_requests: method GET and path "/x" needs requests a protocol proxy names; this proxy's are TCP exchanges"#)
    }
}

// MARK: - HTTP links as the proxy reports them

extension EventScript {
    /// What became of one request on an HTTP link.
    enum HTTPOutcome {
        /// Its response started and ended 10 ms after it: `status`, written by faultline or the upstream.
        case answered(Int, byFaultline: Bool = false)
        /// The response's head went out, then its body was cut (by a fault, or by the upstream closing).
        case cut(byFaultline: Bool)
        /// The client closed its side `after` seconds later with no response yet.
        case abandoned(after: Double)
        /// Still pending.
        case unanswered
    }

    /// The events `HTTPSession` emits when a response's head reaches the client and the
    /// response ends: `responseStarted`, then `requestAnswered` (a 5xx, or faultline's 4xx/5xx,
    /// is an error named by its status).
    mutating func respond(at seconds: Double, _ status: Int, byFaultline: Bool = false, proxy: String = "api", link: UInt64) {
        let failed = status >= 500 || byFaultline && status >= 400
        at(seconds, .responseStarted(status: status, byFaultline: byFaultline, firstByte: .milliseconds(10)), proxy: proxy, link: link)
        at(seconds, .requestAnswered(error: failed ? String(status) : nil, byFaultline: byFaultline, latency: .milliseconds(10),
                                     handshake: false), proxy: proxy, link: link)
    }

    /// A connection to the HTTP proxy `proxy`, connected upstream at once, carrying
    /// `requests` (a description and its fate), one every 100 ms; closed at `closedAt`.
    mutating func http(at start: Double, proxy: String = "api", _ requests: [(detail: String, outcome: HTTPOutcome)],
                       closedAt: Double? = nil) {
        let link = open(at: start, proxy: proxy)
        at(start, .upstreamConnected, proxy: proxy, link: link)
        for (index, request) in requests.enumerated() {
            let time = start + 0.1 * Double(index + 1)
            at(time, .requestStarted(detail: request.detail), proxy: proxy, link: link)
            switch request.outcome {
            case .answered(let status, let byFaultline):
                respond(at: time + 0.01, status, byFaultline: byFaultline, proxy: proxy, link: link)
            case .cut(let byFaultline):
                at(time + 0.01, .responseStarted(status: 200, byFaultline: false, firstByte: .milliseconds(5)), proxy: proxy, link: link)
                at(time + 0.01, .requestAnswered(error: "incomplete response",
                                                 byFaultline: byFaultline, latency: .milliseconds(10), handshake: false),
                   proxy: proxy, link: link)
            case .abandoned(let after):
                at(time + after, .requestAbandoned, proxy: proxy, link: link)
            case .unanswered:
                break
            }
        }
        if let closedAt { at(closedAt, .connectionClosed(bytesUp: 100, bytesDown: 100, reset: false), proxy: proxy, link: link) }
    }

    /// The facts `extractor` makes of these events, one line each: `TIME PROXY#LINK WHAT`.
    func describedFacts(extractor: TCPFactExtractor) -> [String] {
        var extractor = extractor
        return ordered.flatMap { extractor.facts(from: $0) }.map { fact in
            let what = switch fact.kind {
            case .attempt: "attempt"
            case .request(let detail): "request(\(detail ?? "-"))"
            case .success: "success"
            case .failure(let reason): "failure(\(reason))"
            default: "other"
            }
            return "\(Figures.seconds(fact.time)) \(fact.proxy ?? "-")#\(fact.link ?? 0) \(what)"
        }
    }
}
