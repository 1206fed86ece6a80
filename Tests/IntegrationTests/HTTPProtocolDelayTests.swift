import Foundation
import XCTest

/// http.delay as clients with timeouts meet it: a response held 5 s is requests' ReadTimeout
/// at its 2 s (the request did reach the upstream), httpx's ReadTimeout likewise; `before:
/// request` holds the request itself (the upstream sees it only after the delay). Under
/// `faultline run`, a pybreaker client goes quiet after 5 timeouts and probes, passing
/// quiet_after_failures, probe_after and max_rate, while a client that asks again at once
/// from 6 workers fails max_rate (exit 1, the verdict naming it).
final class HTTPProtocolDelayTests: HTTPProtocolCase {
    /// requests with timeout=2 against a response held 5 s: "Read timed out. (read timeout=2)"
    /// after 2 to 3.5 s; the same client's next request on another path is answered at once.
    func testHeldResponseIsAReadTimeout() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.delay:delay=5s,path=/api/v1/users"])
        let lines = try python("requests", port: proxy.port, paths: ["/api/v1/users", "/api/v2/users"], ["--timeout", "2"])
        XCTAssertEqual(lines.count, 2, "\(lines)")
        let timedOut = try XCTUnwrap(lines.first)
        XCTAssertEqual(timedOut.error, "ReadTimeout", "\(timedOut)")
        XCTAssertEqual(timedOut.message, "HTTPConnectionPool(host='127.0.0.1', port=\(proxy.port)): Read timed out. (read timeout=2)")
        let waited = try XCTUnwrap(timedOut.seconds())
        XCTAssertGreaterThanOrEqual(waited, 2.0)
        XCTAssertLessThan(waited, 3.5)
        XCTAssertEqual(lines.last?.status, 200, "\(lines)")
        XCTAssertLessThan(try XCTUnwrap(lines.last?.seconds()), 1.0, "\(lines)")
        XCTAssertEqual(upstream.waitForSeen(2).map { "\($0.method) \($0.path)" }, ["GET /api/v1/users", "GET /api/v2/users"],
                       "before: response lets the request through")

        let httpx = try pythonOne("httpx", port: proxy.port, path: "/api/v1/users", ["--timeout", "1"])
        XCTAssertEqual(httpx.error, "ReadTimeout", "\(httpx)")
        XCTAssertEqual(httpx.message, "timed out")
        XCTAssertEqual(try XCTUnwrap(httpx.seconds()), 1.0, accuracy: 0.5)
    }

    /// A response held 1 s arrives whole after it, on a connection that goes on.
    func testHeldResponseArrivesAfterTheDelay() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.delay:delay=1s,path=/api/v1/users"])
            let lines = try python("httpx", port: proxy.port, paths: ["/api/v1/users", "/api/v1/users"])
            XCTAssertEqual(lines.map { $0.status }, [200, 200], "\(upstream): \(lines)")
            XCTAssertEqual(lines.map { $0.body }, [HTTPUpstream.usersV1, HTTPUpstream.usersV1])
            for line in lines { XCTAssertEqual(try XCTUnwrap(line.seconds()), 1.0, accuracy: 0.4, "\(upstream): \(line)") }
            XCTAssertEqual(Set(upstream.waitForSeen(2).map(\.connection)).count, 1, "\(upstream)")
        }
    }

    /// before: request: the upstream has not seen the request half-way through the delay, and
    /// the client's answer comes after it.
    func testBeforeRequestHoldsTheRequestItself() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.delay:delay=1500ms,before=request,path=/api/v1/users"])
        let this = UncheckedSendable(self)
        let port = proxy.port
        let client = Worker("requests") { try this.value.pythonOne("requests", port: port, path: "/api/v1/users") }
        usleep(900_000)  // python's start-up (~0.4 s) and half the delay
        XCTAssertEqual(upstream.seen.count, 0, "the held request reached the upstream early")
        let answer = try client.join(timeout: 30)
        XCTAssertEqual(answer.status, 200, "\(answer)")
        XCTAssertEqual(try XCTUnwrap(answer.seconds()), 1.5, accuracy: 0.5)
        XCTAssertEqual(upstream.waitForSeen(1).count, 1)
    }

    // MARK: under faultline run

    private func scenario(_ name: String, listen: UInt16, upstream: HTTPUpstream) throws -> String {
        try httpScenario(name, listen: listen, upstream: upstream, seed: 5, """
            timeline:
              - phase: healthy
                for: 2s
              - phase: slow
                for: 8s
                faults:
                  - http.delay: { delay: 5s, path: "/api/*" }
              - phase: recovered
                for: 3s
            expect:
              - { during: slow, proxy: api, max_rate: 3 }
              - { during: slow, proxy: api, quiet_after_failures: { failures: 5, quiet: 1500ms } }
              - { during: slow, proxy: api, probe_after: { quiet: 1500ms, within: 1500ms } }
              - { after: slow, proxy: api, first_success_within: 3s }
            """)
    }

    /// The breaker client (1 s timeouts, pybreaker fail_max 5, reset 2 s) and the storm (6
    /// workers, 1 s timeouts, asking again at once), side by side, each under its own run.
    func testBreakerPassesAndRetryStormFailsMaxRate() throws {
        try skipLongClientRunUnderAddressSanitizer()
        let upstream = try pythonUpstream()
        let python = try TLSTools.python()
        var plans: [String: (scenario: String, command: [String])] = [:]
        for (style, arguments) in [("breaker", ["--fail-max", "5", "--reset", "2", "--interval", "0.1"]), ("storm", ["--workers", "6"])] {
            let listen = try Sock.freePort()
            plans[style] = (try scenario("http-\(style)", listen: listen, upstream: upstream),
                            [python, client("http_client.py"), style, "--base", "http://127.0.0.1:\(listen)", "--path", "/api/v1/users",
                             "--timeout", "1", "--duration", "13"] + arguments)
        }
        let runs = try runSideBySide(plans)

        let rate = "max_rate: 3 (during: slow, proxy: api)"
        let quiet = "quiet_after_failures: {failures: 5, quiet: 1.5s} (during: slow, proxy: api)"
        let probe = "probe_after: {quiet: 1.5s, within: 1.5s} (during: slow, proxy: api)"
        let success = "first_success_within: 3s (after: slow, proxy: api)"
        let breaker = try XCTUnwrap(runs["breaker"])
        XCTAssertEqual(breaker.termination, .exited(0), breaker.transcript)
        assertVerdict(breaker, "PASS", rate, figure: "max_rate \(FigureText.rate)/s ≤ 3/s.*")
        assertVerdict(breaker, "PASS", quiet, figure: "quiet_after_failures: 5 failures then quiet for (?:\(FigureText.measured)) ≥ 1.5s")
        assertVerdict(breaker, "PASS", probe, figure: "probe_after: probe (?:\(FigureText.measured)) after 1.5s of quiet ≤ 1.5s")
        assertVerdict(breaker, "PASS", success, figure: "first_success_within (?:\(FigureText.measured)) ≤ 3s")
        XCTAssertTrue(breaker.stdout.contains(#""call": "open""#), "the breaker never opened\n\(breaker.transcript)")

        let storm = try XCTUnwrap(runs["storm"])
        XCTAssertEqual(storm.termination, .exited(1), storm.transcript)
        let peak = assertVerdict(storm, "FAIL", rate, figure: "max_rate \(FigureText.rate)/s > 3/s \\(\\d+ requests in the second from .*\\)")
        XCTAssertGreaterThanOrEqual(Double(peak.first ?? "") ?? 0, 5, storm.transcript)
        assertVerdict(storm, "FAIL", quiet, figure: "quiet_after_failures: 5 failures then traffic again after (?:\(FigureText.measured)) < 1.5s")
        XCTAssertTrue(storm.stdout.contains("http-storm: 3 of 4 expectations failed"), storm.transcript)
    }
}
