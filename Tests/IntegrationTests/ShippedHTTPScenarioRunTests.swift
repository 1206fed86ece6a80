import Foundation
import XCTest

/// The shipped HTTP scenarios (ports moved to free ones, a real examples/memory_api.py behind
/// each) judge the example clients as their comments promise:
/// - memory-api-v2-404 (404 on GET /api/v2/*): the correct memory client asks v2 once; the
///   naive one probes it on every cycle and fails max_requests.
/// - tracing-405 (405 on POST /v1/traces for 6 s): the OpenTelemetry SDK's exporter drops each
///   batch with its error and exports again after; the hand-written one retries at once and
///   fails max_rate.
/// - memory-api-timeouts-breaker (every response held 6 s for 14 s): the correct client's 2 s
///   timeouts open its breaker, it probes and recovers; the naive one's 8 workers fail max_rate.
/// - websocket-403-reconnect (the socket closed with 1011, then upgrades and the REST state
///   answered 403, for 8 s): the correct client backs off and leaves the REST state alone; the
///   naive one fails no_request and max_connection_attempts.
/// The four correct runs go side by side, then the four naive ones (their storms would
/// otherwise share the two cores with the correct clients' timing), each scenario with its own
/// memory API. (HTTPProtocolCase skips the test when python3 lacks the clients' libraries.)
final class ShippedHTTPScenarioRunTests: HTTPProtocolCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try skipLongClientRunUnderAddressSanitizer()
    }

    private static let scenarios = ["memory-api-v2-404": "18080", "tracing-405": "18081",
                                    "memory-api-timeouts-breaker": "18082", "websocket-403-reconnect": "18083"]

    /// Starts examples/memory_api.py on a free port (stopped by tearDown, by PID) once it answers
    /// GET /api/v1/users.
    private func startMemoryAPI() throws -> UInt16 {
        let port = try Sock.freePort()
        let api = try ChildProcess.spawn(try python(), ["\(Self.packageRoot)/examples/memory_api.py", "--port", "\(port)"])
        let answers = waitUntil(timeout: 15) {
            guard let fd = try? Sock.connect(port: port, timeout: 1) else { return false }
            defer { Sock.close(fd) }
            let request = "GET /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            guard (try? Sock.sendAll(fd, Array(request.utf8))) != nil else { return false }
            return String(decoding: Sock.readToEnd(fd).bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200")
        }
        guard answers else {
            api.stop(grace: 1)
            throw MemoryAPIStartFailure(port: port, output: api.stdoutText + api.stderrText)
        }
        return port
    }

    /// `scenarios/NAME.yaml` listening on a free port in front of the memory API on `api`.
    private func shipped(_ name: String, api: UInt16) throws -> (path: String, port: UInt16) {
        let listen = try XCTUnwrap(Self.scenarios[name])
        let text = try String(contentsOfFile: "\(Self.packageRoot)/scenarios/\(name).yaml", encoding: .utf8)
        let port = try Sock.freePort()
        let yaml = text.replacingOccurrences(of: "listen: 127.0.0.1:\(listen)", with: "listen: 127.0.0.1:\(port)")
            .replacingOccurrences(of: "upstream: 127.0.0.1:8080", with: "upstream: 127.0.0.1:\(api)")
        XCTAssertEqual(yaml.components(separatedBy: "\(port)").count, 2, "scenarios/\(name).yaml no longer listens on \(listen)")
        XCTAssertEqual(yaml.components(separatedBy: "upstream: 127.0.0.1:\(api)").count, 2,
                       "scenarios/\(name).yaml no longer fronts 127.0.0.1:8080")
        return (try writeScenario("\(name)-\(port)", yaml), port)
    }

    func testShippedHTTPScenariosAreValid() throws {
        let files = Self.scenarios.keys.sorted().map { "\(Self.packageRoot)/scenarios/\($0).yaml" }
        let check = try runCommand(try faultlineBinary(), ["check"] + files, timeout: 30)
        XCTAssertEqual(check.0, .exited(0), check.stdout + check.stderr)
        for name in Self.scenarios.keys {
            XCTAssertTrue(check.stdout.contains("\(name).yaml: ok — 1 proxy, "), check.stdout + check.stderr)
        }
    }

    func testHTTPScenariosJudgeTheExampleClients() throws {
        var apis: [String: UInt16] = [:]
        for name in Self.scenarios.keys { apis[name] = try startMemoryAPI() }
        let python = try python()
        func example(_ file: String) -> String { "\(Self.packageRoot)/examples/\(file)" }
        func plans(_ style: String) throws -> [String: (scenario: String, command: [String])] {
            // Keyed by scenario; runSideBySide names the JUnit files after the keys.
            let key = { (name: String) in "\(name)-\(style)" }
            let v2 = try shipped("memory-api-v2-404", api: apis["memory-api-v2-404"]!)
            let tracing = try shipped("tracing-405", api: apis["tracing-405"]!)
            let slow = try shipped("memory-api-timeouts-breaker", api: apis["memory-api-timeouts-breaker"]!)
            let ws = try shipped("websocket-403-reconnect", api: apis["websocket-403-reconnect"]!)
            return [
                key("v2-404"): (v2.path, [python, example("memory_client_\(style).py"), "--port", "\(v2.port)", "--duration", "8"]),
                key("tracing"): (tracing.path, [python, example("otlp_exporter_\(style).py"), "--port", "\(tracing.port)", "--duration", "14"]),
                key("slow"): (slow.path, [python, example("memory_client_\(style).py"), "--port", "\(slow.port)", "--duration", "22"]),
                key("ws"): (ws.path, [python, example("ws_client_\(style).py"), "--port", "\(ws.port)", "--duration", "21"]),
            ]
        }
        let correct = try runSideBySide(try plans("correct"))
        let naive = try runSideBySide(try plans("naive"))
        let measured = "(?:\(FigureText.measured))"

        // memory-api-v2-404: v2 asked once, then v1 for good; the naive client asks on every cycle.
        let v2Label = #"max_requests: {limit: 1, match: "GET /api/v2/*"} (proxy: memory)"#
        let v2Correct = try XCTUnwrap(correct["v2-404-correct"])
        XCTAssertEqual(v2Correct.termination, .exited(0), v2Correct.transcript)
        assertVerdict(v2Correct, "PASS", v2Label, figure: #"max_requests 1 ≤ 1 \(match "GET /api/v2/\*"\)"#)
        assertVerdict(v2Correct, "PASS", "first_success_within: 6s (proxy: memory)", figure: "first_success_within \(measured) ≤ 6s")
        XCTAssertEqual(v2Correct.stdout.components(separatedBy: "error GET /api/v2/users: 404 Not Found (no v2 here: v1 from now on)").count,
                       2, v2Correct.transcript)
        XCTAssertTrue(v2Correct.stdout.contains("ok GET /api/v1/users: 3 users"), v2Correct.transcript)
        let v2Naive = try XCTUnwrap(naive["v2-404-naive"])
        XCTAssertEqual(v2Naive.termination, .exited(1), v2Naive.transcript)
        let probes = assertVerdict(v2Naive, "FAIL", v2Label, figure: #"max_requests (\d+) > 1 \(match "GET /api/v2/\*"\)"#)
        XCTAssertGreaterThan(Int(probes.first ?? "") ?? 0, 20, v2Naive.transcript)

        // tracing-405: the SDK drops each refused batch at its pace; the hand-written loop storms.
        let tracingRate = "max_rate: 5 (during: rejecting, proxy: tracing)"
        let tracingBack = "first_success_within: 2s (after: rejecting, proxy: tracing)"
        let tracingCorrect = try XCTUnwrap(correct["tracing-correct"])
        XCTAssertEqual(tracingCorrect.termination, .exited(0), tracingCorrect.transcript)
        assertVerdict(tracingCorrect, "PASS", tracingRate, figure: "max_rate \(FigureText.rate)/s ≤ 5/s")
        assertVerdict(tracingCorrect, "PASS", tracingBack, figure: "first_success_within \(measured) ≤ 2s")
        XCTAssertTrue(tracingCorrect.stdout.contains("spans dropped: HTTP 405 Method Not Allowed\n"), tracingCorrect.transcript)
        XCTAssertTrue(tracingCorrect.stderr.contains("Failed to export spans batch code: 405, reason: Method Not Allowed"),
                      tracingCorrect.transcript)
        let tracingNaive = try XCTUnwrap(naive["tracing-naive"])
        XCTAssertEqual(tracingNaive.termination, .exited(1), tracingNaive.transcript)
        assertVerdict(tracingNaive, "FAIL", tracingRate,
                      figure: "max_rate \(FigureText.rate)/s > 5/s \\(\\d+ requests in the second from \(measured)\\)")
        XCTAssertTrue(tracingNaive.stdout.contains("HTTP 405 Method Not Allowed, retrying at once (repeated "), tracingNaive.transcript)

        // memory-api-timeouts-breaker: 2 s timeouts open the breaker, a probe after the cooldown;
        // the naive workers time out together at 5 s and ask again at once.
        let slowRate = "max_rate: 3 (during: slow, proxy: memory)"
        let slowQuiet = "quiet_after_failures: {failures: 5, quiet: 2.5s} (during: slow, proxy: memory)"
        let slowProbe = "probe_after: {quiet: 2.5s, within: 1.5s} (during: slow, proxy: memory)"
        let slowBack = "first_success_within: 3s (after: slow, proxy: memory)"
        let slowCorrect = try XCTUnwrap(correct["slow-correct"])
        XCTAssertEqual(slowCorrect.termination, .exited(0), slowCorrect.transcript)
        assertVerdict(slowCorrect, "PASS", slowRate, figure: "max_rate \(FigureText.rate)/s ≤ 3/s")
        assertVerdict(slowCorrect, "PASS", slowQuiet, figure: "quiet_after_failures: 5 failures then quiet for \(measured) ≥ 2.5s")
        assertVerdict(slowCorrect, "PASS", slowProbe, figure: "probe_after: probe \(measured) after 2.5s of quiet ≤ 1.5s")
        assertVerdict(slowCorrect, "PASS", slowBack, figure: "first_success_within \(measured) ≤ 3s")
        XCTAssertTrue(slowCorrect.stdout.contains("Read timed out. (read timeout=2.0) (breaker opened)"), slowCorrect.transcript)
        // "no users yet" when python3 started so late that its first request met the slow phase.
        XCTAssertNotNil(slowCorrect.stdout.range(of: #"fallback (3 users|no users yet) \(breaker open\)"#, options: .regularExpression),
                        slowCorrect.transcript)
        let slowNaive = try XCTUnwrap(naive["slow-naive"])
        XCTAssertEqual(slowNaive.termination, .exited(1), slowNaive.transcript)
        assertVerdict(slowNaive, "FAIL", slowRate,
                      figure: "max_rate \(FigureText.rate)/s > 3/s \\(\\d+ requests in the second from \(measured)\\)")
        assertVerdict(slowNaive, "FAIL", slowQuiet, figure: "quiet_after_failures: 5 failures then traffic again after \(measured) < 2.5s")
        XCTAssertTrue(slowNaive.stdout.contains("Read timed out. (read timeout=5.0)"), slowNaive.transcript)

        // websocket-403-reconnect: the correct client backs off and leaves the REST state alone.
        let wsREST = #"no_request: "GET /api/preferences/active" (during: reconnecting, proxy: memory)"#
        let wsBackoff = "backoff: true (during: reconnecting, proxy: memory)"
        let wsAttempts = "max_connection_attempts: 8 (during: reconnecting, proxy: memory)"
        let wsBack = "first_success_within: 6s (after: reconnecting, proxy: memory)"
        let wsCorrect = try XCTUnwrap(correct["ws-correct"])
        XCTAssertEqual(wsCorrect.termination, .exited(0), wsCorrect.transcript)
        assertVerdict(wsCorrect, "PASS", wsREST, figure: #"no_request: none of \d+ requests matched "GET /api/preferences/active""#)
        assertVerdict(wsCorrect, "PASS", wsBackoff, figure: "backoff: \\d+ attempts, gaps .* never shrank")
        assertVerdict(wsCorrect, "PASS", wsAttempts, figure: "max_connection_attempts [1-8] ≤ 8")
        assertVerdict(wsCorrect, "PASS", wsBack, figure: "first_success_within \(measured) ≤ 6s")
        XCTAssertTrue(wsCorrect.stdout.contains("error connection closed: 1011 (deploy) (next try in "), wsCorrect.transcript)
        XCTAssertTrue(wsCorrect.stdout.contains("error upgrade rejected: HTTP 403 (next try in "), wsCorrect.transcript)
        let wsNaive = try XCTUnwrap(naive["ws-naive"])
        XCTAssertEqual(wsNaive.termination, .exited(1), wsNaive.transcript)
        assertVerdict(wsNaive, "FAIL", wsREST,
                      figure: #"no_request: \d+ requests? matched "GET /api/preferences/active" \(first "GET /api/preferences/active" at "#
                          + "\(measured)\\)")
        assertVerdict(wsNaive, "FAIL", wsAttempts, figure: "max_connection_attempts \(FigureText.count) > 8")
    }
}

struct MemoryAPIStartFailure: Error, CustomStringConvertible {
    let port: UInt16
    let output: String
    var description: String { "examples/memory_api.py did not answer on port \(port); its output:\n\(output)" }
}
