import Foundation
import XCTest

/// The clients in examples/ do what examples/README.md says, under a real `faultline run`
/// against a real redis-server: the correct one times out, opens its breaker, serves its
/// fallback, probes and recovers (every breaker check holds); the naive one hangs on the
/// stalled dependency (the breaker checks fail). Users copy these files, so a redis-py or
/// pybreaker change that breaks them must fail here, not on a user's machine.
///
/// The shape of scenarios/dependency-stall-breaker.yaml, shortened: 1 s healthy, a 7 s
/// blackhole that never closes, 3 s recovered. With a 0.3 s timeout and the client's 0.1,
/// 0.2, 0.4, 0.8 s backoff, five failures open the breaker ~3 s into the stall; a 2 s
/// cooldown puts its first probe inside the stall (it fails, the breaker reopens) and a
/// later one after it. The checks ask for 1.5 s of quiet and a probe within 1.5 s after it.
final class ExampleClientRunTests: ScenarioRunCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try skipLongClientRunUnderAddressSanitizer()
    }

    private let quietLabel = "quiet_after_failures: {failures: 5, quiet: 1.5s} (during: stall, proxy: dependency)"
    private let probeLabel = "probe_after: {quiet: 1.5s, within: 1.5s} (during: stall, proxy: dependency)"
    private let recoveryLabel = "first_success_within: 3s (after: stall, proxy: dependency)"

    private func stallScenario(listen: UInt16, redis: UInt16) throws -> String {
        try writeScenario("stall", """
            name: example-stall
            proxies:
              dependency:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(redis)
            timeline:
              - phase: healthy
                for: 1s
              - phase: stall
                for: 7s
                faults:
                  - tcp.timeout: { after: 0s }
              - phase: recovered
                for: 3s
            expect:
              - during: stall
                proxy: dependency
                quiet_after_failures: { failures: 5, quiet: 1.5s }
              - during: stall
                proxy: dependency
                probe_after: { quiet: 1.5s, within: 1.5s }
              - after: stall
                proxy: dependency
                first_success_within: 3s
            """)
    }

    private func example(_ name: String) -> String { "\(Self.packageRoot)/examples/\(name)" }

    func testCorrectClientOpensItsBreakerServesTheFallbackAndRecovers() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let run = try run(try stallScenario(listen: listen, redis: redis), command: [
            try python(), example("redis_client_correct.py"), "--port", "\(listen)", "--duration", "11",
            "--timeout", "0.3", "--cooldown", "2",
        ])
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        assertVerdict(run, "PASS", quietLabel,
                      figure: "quiet_after_failures: 5 failures then quiet for (?:\(FigureText.measured)) ≥ 1.5s")
        assertVerdict(run, "PASS", probeLabel,
                      figure: "probe_after: probe (?:\(FigureText.measured)) after 1.5s of quiet ≤ 1.5s")
        assertVerdict(run, "PASS", recoveryLabel, figure: "first_success_within (?:\(FigureText.measured)) ≤ 3s")
        // What the user reads from the client, in the order examples/README.md shows it.
        let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? "" }
        let order = ["ok count=", "error TimeoutError: Timeout reading from socket (next try in 0.1s)",
                     "error TimeoutError: Timeout reading from socket (breaker opened)", "fallback count=",
                     "error TimeoutError: Timeout reading from socket (probe failed, breaker open again)", "ok count="]
        var from = lines.startIndex
        for expected in order {
            guard let found = lines[from...].firstIndex(where: { $0.hasPrefix(expected) }) else {
                return XCTFail("no '\(expected)' after line \(from) of the client's output\n\(run.transcript)")
            }
            from = found + 1
        }
    }

    func testNaiveClientHangsOnTheStall() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let run = try run(try stallScenario(listen: listen, redis: redis), command: [
            try python(), example("redis_client_naive.py"), "--port", "\(listen)", "--duration", "11",
        ])
        XCTAssertEqual(run.termination, .exited(1), run.transcript)
        assertVerdict(run, "FAIL", quietLabel, figure: "quiet_after_failures: at most \\d+ failures? in a row, 5 needed")
        // No timeout: nothing is printed while the dependency stalls, then requests go on.
        let stamps = run.stdout.split(separator: "\n").compactMap { Double($0.split(separator: " ").first ?? "") }
        let longestSilence = zip(stamps.dropFirst(), stamps).map { $0 - $1 }.max() ?? 0
        XCTAssertGreaterThan(longestSilence, 5, "the naive client should hang through the 7 s stall\n\(run.transcript)")
    }

    /// A silently dropped connection never answers: the naive client would wait forever, and
    /// `faultline run` with it. It says so and ends at --duration, so the run (and CI) ends.
    func testNaiveClientEndsAtItsDurationOnADroppedConnection() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let scenario = try writeScenario("drop", """
            name: example-drop
            proxies:
              redis:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(redis)
            timeline:
              - phase: healthy
                for: 1s
              - phase: dropped
                for: 2s
                faults:
                  - tcp.cutoff: { after: 1ms, how: drop }
            expect:
              - after: healthy
                first_success_within: 1s
            """)
        let run = try run(scenario, command: [
            try python(), example("redis_client_naive.py"), "--port", "\(listen)", "--duration", "4",
        ], timeout: 30)
        XCTAssertEqual(run.termination, .exited(1), run.transcript)
        XCTAssertLessThan(run.seconds, 15, run.transcript)
        XCTAssertNotNil(run.stdout.range(of: #"\n\d+\.\d{3} the request sent at \d+\.\d{3} has not returned \(no timeout\); stopping at --duration\n"#,
                                         options: .regularExpression), run.transcript)
        assertVerdict(run, "FAIL", "first_success_within: 1s (after: healthy)",
                      figure: "first_success_within: no success in the (?:\(FigureText.measured)) to the end of the run \\(limit 1s\\)")
    }
}
