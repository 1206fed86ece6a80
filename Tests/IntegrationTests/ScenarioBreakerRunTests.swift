import Foundation
import XCTest

/// `quiet_after_failures` and `probe_after` against a stalled dependency (a `tcp.timeout`
/// blackhole): a pybreaker client (fail_max 5, 2 s cooldown, 300 ms timeout) goes quiet after
/// its fifth failure and probes once the cooldown is over; a retry storm never goes quiet.
///
/// Timing: five 300 ms timeouts open the breaker ~1.5 s after the client starts, its probe
/// comes 2 s later. The checks ask for 1 s of quiet and a probe within 1.5 s of that 1 s,
/// so the breaker passes with ~0.5 s to spare on each side, and the storm (quiet at most one
/// 300 ms timeout) fails by far. The stall lasts 5 s and the run 7 s so that even a slow
/// Python start sees the probe before the run ends.
final class ScenarioBreakerRunTests: ScenarioRunCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try skipLongClientRunUnderAddressSanitizer()
    }

    private let quietLabel = "quiet_after_failures: {failures: 5, quiet: 1s} (during: stall, proxy: dependency)"
    private let probeLabel = "probe_after: {quiet: 1s, within: 1.5s} (during: stall, proxy: dependency)"

    /// `blackhole` is the tcp.timeout's `after:`: how long the proxy holds a connection
    /// before closing it (0s: never).
    private func stallScenario(listen: UInt16, redis: UInt16, blackhole: String) throws -> String {
        try writeScenario("stall", """
            name: dependency-stall
            proxies:
              dependency:
                listen: 127.0.0.1:\(listen)
                upstream: 127.0.0.1:\(redis)
            timeline:
              - phase: stall
                for: 5s
                faults:
                  - tcp.timeout: { after: \(blackhole) }
              - phase: recovered
                for: 2s
            expect:
              - during: stall
                proxy: dependency
                quiet_after_failures: { failures: 5, quiet: 1s }
              - during: stall
                proxy: dependency
                probe_after: { quiet: 1s, within: 1.5s }
            """)
    }

    private func client(_ style: String, port: UInt16) throws -> [String] {
        [try python(), client("redis_client.py"), "--port", "\(port)", "--style", style,
         "--timeout", "0.3", "--fail-max", "5", "--cooldown", "2", "--duration", "6.5"]
    }

    /// The proxy closes each stalled connection 500 ms after accepting it, after the client's
    /// own 300 ms timeout has fired: every failure is on the wire, 200 ms after the client
    /// saw it (so the quiet the proxy measures is ~1.8 s of the 2 s cooldown).
    func testBreakerClientGoesQuietThenProbes() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let junit = "\(folder)/verdict.xml"
        let run = try run(try stallScenario(listen: listen, redis: redis, blackhole: "500ms"), ["--junit", junit],
                          command: try client("breaker", port: listen))
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        assertVerdict(run, "PASS", quietLabel,
                      figure: "quiet_after_failures: 5 failures then quiet for (?:\(FigureText.measured)) ≥ 1s")
        assertVerdict(run, "PASS", probeLabel,
                      figure: "probe_after: probe (?:\(FigureText.measured)) after 1s of quiet ≤ 1.5s")
        XCTAssertTrue(run.stdout.contains("dependency-stall: all 2 expectations held"), run.transcript)
        assertJUnit(junit, run, expectations: 2)
    }

    func testRetryStormNeverGoesQuiet() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let junit = "\(folder)/verdict.xml"
        let run = try run(try stallScenario(listen: listen, redis: redis, blackhole: "500ms"), ["--junit", junit],
                          command: try client("storm", port: listen))
        XCTAssertEqual(run.termination, .exited(1), run.transcript)
        assertVerdict(run, "FAIL", quietLabel,
                      figure: "quiet_after_failures: 5 failures then traffic again after (?:\(FigureText.measured)) < 1s")
        assertVerdict(run, "FAIL", probeLabel,
                      figure: "probe_after: never quiet for 1s \\(longest quiet (?:\(FigureText.measured))\\)")
        XCTAssertTrue(run.stdout.contains("dependency-stall: 2 of 2 expectations failed"), run.transcript)
        assertJUnit(junit, run, expectations: 2)
    }

    /// The shape of scenarios/dependency-stall-breaker.yaml: a blackhole that never closes
    /// (`after: 0s`), so only the client's own timeouts end the stalled connections. The
    /// client's FIN after each timeout is on the wire, and the same correct breaker client
    /// must pass. The blackhole reads nothing, so the proxy sees those FINs only through its
    /// EV_CLOSED watch on the paused socket; without it no failure would be seen ("at most 0
    /// failures in a row") and the held PINGs' replies would count as successes.
    func testBreakerClientPassesAgainstAnEndlessBlackhole() throws {
        let redis = try startRedis()
        let listen = try Sock.freePort()
        let run = try run(try stallScenario(listen: listen, redis: redis, blackhole: "0s"),
                          command: try client("breaker", port: listen))
        XCTAssertEqual(run.termination, .exited(0), run.transcript)
        assertVerdict(run, "PASS", quietLabel,
                      figure: "quiet_after_failures: 5 failures then quiet for (?:\(FigureText.measured)) ≥ 1s")
        assertVerdict(run, "PASS", probeLabel,
                      figure: "probe_after: probe (?:\(FigureText.measured)) after 1s of quiet ≤ 1.5s")
    }
}
