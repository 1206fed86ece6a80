import Foundation
import XCTest

/// What `faultline run` counts on a `protocol: http` proxy, read from the verdicts a user gets
/// (and the JUnit file): one request per HTTP request, not per connection; a failure is
/// faultline's own 4xx/5xx, an upstream 5xx, a response cut short or a request the client
/// abandoned (counted when it gave up), while an upstream 404 is an answer; max_requests and
/// no_request filter on `METHOD /path` (query left out) or on method and path. The runs go
/// side by side, each with its own scenario, in front of one aiohttp upstream.
final class HTTPProtocolFactTests: HTTPProtocolCase {
    private struct Plan {
        let faults: [String]
        let expect: [String]
        let paths: [String]
        /// The client stays 1.2 s after its last request, so the quiet after it is seen
        /// however long python took to start on a busy machine.
        var arguments = ["--linger", "1.2"]
    }

    private func scenario(_ name: String, listen: UInt16, upstream: HTTPUpstream, _ plan: Plan) throws -> String {
        var rest = "timeline:\n  - phase: only\n    for: 3s\n"
        if !plan.faults.isEmpty { rest += "faults:\n" + plan.faults.map { "  - \($0)\n" }.joined() }
        rest += "expect:\n" + plan.expect.map { "  - proxy: api\n    \($0)\n" }.joined()
        return try httpScenario(name, listen: listen, upstream: upstream, seed: 9, rest)
    }

    /// Every plan under its own `faultline run` at once; the runs by name.
    private func runAll(_ plans: [String: Plan], upstream: HTTPUpstream) throws -> [String: ScenarioRun] {
        let python = try TLSTools.python()
        var prepared: [String: (scenario: String, command: [String])] = [:]
        for (name, plan) in plans {
            let listen = try Sock.freePort()
            prepared[name] = (try scenario(name, listen: listen, upstream: upstream, plan),
                              [python, client("http_client.py"), "requests", "--base", "http://127.0.0.1:\(listen)"]
                                + plan.paths.flatMap { ["--path", $0] } + plan.arguments)
        }
        return try runSideBySide(prepared)
    }

    private static let streak = "quiet_after_failures: {failures: 3, quiet: 1s}"

    func testRequestFactsAsVerdictsShowThem() throws {
        let upstream = try pythonUpstream()
        let v1 = Array(repeating: "/api/v1/users", count: 6)
        let plans: [String: Plan] = [
            "per-request": Plan(faults: [], expect: ["max_requests: 5", "max_connection_attempts: 1",
                                                     #"max_requests: {limit: 2, match: "GET /api/v2/*"}"#,
                                                     #"max_requests: {limit: 2, method: get, path: "/api/v2/*"}"#],
                                paths: v1 + ["/api/v2/users", "/api/v2/users?page=2", "/api/v2/users/7"]),
            "faultline-404": Plan(faults: [#"http.respond: { status: 404, path: "/api/v2/*" }"#], expect: [Self.streak],
                                  paths: Array(repeating: "/api/v2/users", count: 3)),
            "upstream-404": Plan(faults: [], expect: [Self.streak, "first_success_within: 5s"],
                                 paths: Array(repeating: "/status/404", count: 3)),
            "upstream-503": Plan(faults: [], expect: [Self.streak], paths: Array(repeating: "/status/503", count: 3)),
            "truncated": Plan(faults: ["http.truncate: { after: 100 }"], expect: [Self.streak],
                              paths: Array(repeating: "/bytes?size=5000", count: 3)),
            "abandoned": Plan(faults: ["http.delay: { delay: 10s }"], expect: [Self.streak],
                              paths: Array(repeating: "/api/v1/users", count: 3), arguments: ["--timeout", "0.3", "--linger", "1.5"]),
            "no-request": Plan(faults: [], expect: [#"no_request: {match: "GET /api/preferences/active"}"#,
                                                    #"no_request: {method: GET, path: "/api/preferences/*"}"#,
                                                    #"no_request: "GET /api/v2/*""#],
                               paths: ["/api/v1/users", "/api/preferences/active?user=1"]),
        ]
        let runs = try runAll(plans, upstream: upstream)

        let perRequest = try XCTUnwrap(runs["per-request"])
        XCTAssertEqual(perRequest.termination, .exited(1), perRequest.transcript)
        assertVerdict(perRequest, "FAIL", "max_requests: 5 (proxy: api)", figure: "max_requests 9 > 5")
        assertVerdict(perRequest, "PASS", "max_connection_attempts: 1 (proxy: api)", figure: "max_connection_attempts 1 ≤ 1")
        assertVerdict(perRequest, "FAIL", #"max_requests: {limit: 2, match: "GET /api/v2/*"} (proxy: api)"#,
                      figure: #"max_requests 3 > 2 \(match "GET /api/v2/\*"\)"#)
        assertVerdict(perRequest, "FAIL", #"max_requests: {limit: 2, method: "get", path: "/api/v2/*"} (proxy: api)"#,
                      figure: #"max_requests 3 > 2 \(method GET and path "/api/v2/\*"\)"#)
        assertJUnit("\(folder)/per-request.xml", perRequest, expectations: 4)

        let label = "\(Self.streak) (proxy: api)"
        for name in ["faultline-404", "upstream-503", "truncated"] {
            let run = try XCTUnwrap(runs[name])
            XCTAssertEqual(run.termination, .exited(0), "\(name)\n\(run.transcript)")
            assertVerdict(run, "PASS", label,
                          figure: "quiet_after_failures: 3 failures then quiet for (?:\(FigureText.measured)) ≥ 1s \\(to the end of the run\\)")
        }
        let answered = try XCTUnwrap(runs["upstream-404"])
        XCTAssertEqual(answered.termination, .exited(1), answered.transcript)
        assertVerdict(answered, "FAIL", label, figure: "quiet_after_failures: at most 0 failures in a row, 3 needed")
        assertVerdict(answered, "PASS", "first_success_within: 5s (proxy: api)", figure: "first_success_within (?:\(FigureText.measured)) ≤ 5s")

        // Given up on at 0.3, 0.6 and 0.9 s (after python's start), then the client lingers
        // 1.5 s before it exits: counted when given up on, the failures are followed by 1.5 s
        // of quiet; counted at the client's exit (or at the held responses' 10 s), they would not be.
        let abandoned = try XCTUnwrap(runs["abandoned"])
        XCTAssertEqual(abandoned.termination, .exited(0), abandoned.transcript)
        let quiet = assertVerdict(abandoned, "PASS", label,
                                  figure: "quiet_after_failures: 3 failures then quiet for (\(FigureText.measured)) ≥ 1s \\(to the end of the run\\)")
        XCTAssertEqual(abandoned.stdout.components(separatedBy: #""error": "ReadTimeout""#).count - 1, 3, abandoned.transcript)
        XCTAssertFalse(quiet.first?.hasSuffix("ms") ?? true, "the abandoned requests were counted late: \(quiet)")

        let noRequest = try XCTUnwrap(runs["no-request"])
        XCTAssertEqual(noRequest.termination, .exited(1), noRequest.transcript)
        assertVerdict(noRequest, "FAIL", #"no_request: "GET /api/preferences/active" (proxy: api)"#,
                      figure: #"no_request: 1 request matched "GET /api/preferences/active" \(first "GET /api/preferences/active" at .*\)"#)
        assertVerdict(noRequest, "FAIL", #"no_request: {method: "GET", path: "/api/preferences/*"} (proxy: api)"#,
                      figure: #"no_request: 1 request matched method GET and path "/api/preferences/\*" \(first "GET /api/preferences/active" at .*\)"#)
        assertVerdict(noRequest, "PASS", #"no_request: "GET /api/v2/*" (proxy: api)"#, figure: #"no_request: none of 2 requests matched "GET /api/v2/\*""#)
    }
}
