import Foundation
import XCTest

/// `faultline run` judging real redis-py clients: each connection-level expectation holds for
/// a well-behaved client and fails for a misbehaving one, as the verdict lines, the exit
/// status and the JUnit file all say. Timelines are a few seconds; limits sit far from what
/// each client does (a backoff client makes ~5 attempts in 4 s, a storm hundreds), so a
/// loaded machine shifts the figures without flipping a verdict.
final class ScenarioExpectationRunTests: ScenarioRunCase {
    /// 4 s during which every connection is accepted and reset (the proxy sees each attempt:
    /// `tcp.down` mode refuse would close the port and leave nothing to count), then 1 s of
    /// Redis answering.
    private func outageScenario(listen: UInt16, redis: UInt16, expect: String) throws -> String {
        try writeScenario("outage", """
            name: outage
            proxies:
              redis:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(redis)
            timeline:
              - phase: outage
                for: 4s
                faults:
                  - tcp.down: { mode: reset }
              - phase: recovery
                for: 1s
            expect:
            \(expect)
            """)
    }

    private let countingExpectations = """
          - during: outage
            proxy: redis
            max_connection_attempts: 8
          - during: outage
            max_requests: 8
          - during: outage
            max_rate: 5
        """

    func testBackoffClientHoldsAttemptsRequestsRateAndBackoff() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let scenario = try outageScenario(listen: listen, redis: redis, expect: countingExpectations + """

              - during: outage
                backoff: true
            """)
        let junit = "\(folder)/verdict.xml"
        // Delays 0.2, 0.4, 0.8, 1.6 s: at most 5 attempts and 3 in any second of the outage.
        let run = try run(scenario, ["--junit", junit], command: [
            try python(), client("scenario_client.py"), "--port", "\(listen)", "--style", "backoff",
            "--timeout", "0.5", "--duration", "4.5",
        ])
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        let attempts = assertVerdict(run, "PASS", "max_connection_attempts: 8 (during: outage, proxy: redis)",
                                     figure: "max_connection_attempts \(FigureText.count) ≤ 8")
        // At least 3 attempts, or the backoff verdict below would have nothing to compare.
        XCTAssertGreaterThanOrEqual(Int(attempts.first ?? "") ?? 0, 3, run.transcript)
        assertVerdict(run, "PASS", "max_requests: 8 (during: outage)", figure: "max_requests \(FigureText.count) ≤ 8")
        assertVerdict(run, "PASS", "max_rate: 5 (during: outage)", figure: "max_rate \(FigureText.rate)/s ≤ 5/s")
        let backoff = assertVerdict(run, "PASS", "backoff: true (during: outage)",
                                    figure: "backoff: \(FigureText.count) attempts, gaps (.+) never shrank")
        XCTAssertGreaterThanOrEqual(Int(backoff.first ?? "") ?? 0, 3, "a pass with gaps to compare")
        XCTAssertTrue(run.stdout.contains("outage: all 4 expectations held"), run.transcript)
        XCTAssertTrue(run.stdout.contains("command: exited with status 0"), run.transcript)
        assertJUnit(junit, run, expectations: 4)
    }

    func testRetryStormFailsAttemptsRequestsAndRate() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        // The recovery check holds for the storm too: one testcase without <failure>.
        let scenario = try outageScenario(listen: listen, redis: redis, expect: countingExpectations + """

              - after: outage
                first_success_within: 1s
            """)
        let junit = "\(folder)/verdict.xml"
        let run = try run(scenario, ["--junit", junit], command: [
            try python(), client("redis_client.py"), "--port", "\(listen)", "--style", "storm",
            "--timeout", "0.5", "--duration", "4.8",
        ])
        XCTAssertEqual(run.termination, .exited(1), run.transcript)
        let attempts = assertVerdict(run, "FAIL", "max_connection_attempts: 8 (during: outage, proxy: redis)",
                                     figure: "max_connection_attempts \(FigureText.count) > 8")
        let requests = assertVerdict(run, "FAIL", "max_requests: 8 (during: outage)",
                                     figure: "max_requests \(FigureText.count) > 8")
        // On TCP each connection is one request: the two counts are the same connections.
        XCTAssertEqual(attempts, requests)
        let rate = assertVerdict(run, "FAIL", "max_rate: 5 (during: outage)",
                                 figure: "max_rate \(FigureText.rate)/s > 5/s \\(\(FigureText.count) requests in the second from (?:\(FigureText.measured))\\)")
        // The peak is a count in one window, printed as a rate too.
        if rate.count == 2 { XCTAssertEqual(Double(rate[0]), Double(rate[1]), "rate and count of the peak window") }
        assertVerdict(run, "PASS", "first_success_within: 1s (after: outage)",
                      figure: "first_success_within (?:\(FigureText.measured)) ≤ 1s")
        XCTAssertTrue(run.stdout.contains("outage: 3 of 4 expectations failed"), run.transcript)
        assertJUnit(junit, run, expectations: 4)
    }

    /// A constant storm does not fail `backoff` (its gaps do not shrink; `max_rate` catches
    /// it): what fails it is gaps that get shorter, here a client that waits half of what is
    /// left of its retry budget each time (1 s, 500 ms, 250 ms…).
    func testShrinkingGapsFailBackoff() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let scenario = try outageScenario(listen: listen, redis: redis, expect: """
              - during: outage
                proxy: redis
                backoff: true
            """)
        let junit = "\(folder)/verdict.xml"
        let run = try run(scenario, ["--junit", junit], command: [
            try python(), client("scenario_client.py"), "--port", "\(listen)", "--style", "deadline",
            "--budget", "2", "--timeout", "0.5", "--duration", "4.5",
        ])
        XCTAssertEqual(run.termination, .exited(1), run.transcript)
        let measured = "(?:\(FigureText.measured))"
        assertVerdict(run, "FAIL", "backoff: true (during: outage, proxy: redis)",
                      figure: "backoff: gap \(FigureText.count) shrank \(measured) → \(measured) at attempt \(FigureText.count) \\(\(measured)\\), by more than \(measured)")
        XCTAssertTrue(run.stdout.contains("outage: 1 of 1 expectation failed"), run.transcript)
        assertJUnit(junit, run, expectations: 1)
    }

    /// The startup race: Redis refuses connections for the first 1.5 s of the run.
    private func startupRace(listen: UInt16, redis: UInt16) throws -> String {
        try writeScenario("startup-race", """
            name: startup-race
            proxies:
              redis:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(redis)
            timeline:
              - phase: redis-down
                for: 1.5s
                faults:
                  - tcp.down: { mode: refuse }
              - phase: redis-up
                for: 3s
            expect:
              - during: redis-up
                proxy: redis
                first_success_within: 2.5s
            """)
    }

    func testStartupRaceBackoffClientSucceedsInTime() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let junit = "\(folder)/verdict.xml"
        // Its delays double from 50 ms: the gap spanning the 1.5 s mark is at most 1.6 s.
        let run = try run(try startupRace(listen: listen, redis: redis), ["--junit", junit], command: [
            try python(), client("redis_client.py"), "--port", "\(listen)", "--style", "backoff",
            "--timeout", "0.5", "--duration", "4",
        ])
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        assertVerdict(run, "PASS", "first_success_within: 2.5s (during: redis-up, proxy: redis)",
                      figure: "first_success_within (?:\(FigureText.measured)) ≤ 2.5s")
        XCTAssertTrue(run.stdout.contains("startup-race: the expectation held"), run.transcript)
        assertJUnit(junit, run, expectations: 1)
    }

    func testStartupRaceClientThatGivesUpFails() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let junit = "\(folder)/verdict.xml"
        let run = try run(try startupRace(listen: listen, redis: redis), ["--junit", junit], command: [
            try python(), client("scenario_client.py"), "--port", "\(listen)", "--style", "giveup", "--timeout", "0.5",
        ])
        // The client exits 0: the run fails on the expectation alone.
        XCTAssertEqual(run.termination, .exited(1), run.transcript)
        XCTAssertTrue(run.stdout.contains("command: exited with status 0"), run.transcript)
        assertVerdict(run, "FAIL", "first_success_within: 2.5s (during: redis-up, proxy: redis)",
                      figure: "first_success_within: no success in the (?:\(FigureText.measured)) to the end of the run \\(limit 2.5s\\)")
        XCTAssertTrue(run.stdout.contains("startup-race: 1 of 1 expectation failed"), run.transcript)
        assertJUnit(junit, run, expectations: 1)
    }
}
