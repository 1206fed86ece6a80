@testable import Faultline
import XCTest

/// `quiet_after_failures` (the breaker opens) and `probe_after` (it half-opens).
final class ExpectationBreakerTests: XCTestCase {
    private let quiet = ExpectationSpec(kind: "quiet_after_failures", proxy: "api", scope: .during("stall"),
                                        parameters: ["failures": .number(5), "quiet": .duration(.seconds(10))])
    private let probe = ExpectationSpec(kind: "probe_after", scope: .during("stall"),
                                        parameters: ["quiet": .duration(.seconds(30)), "within": .duration(.seconds(5))])

    /// A stall from 0 s to `stallEnd`: each request times out on the client after 2 s, one
    /// after another from 0 s (failures seen at 2, 4, 6, …); then requests at `later`.
    private func stall(failures: Int, stallEnd: Double = 60, later: [Double] = []) -> EventScript {
        var script = EventScript()
        script.phase("stall", from: 0, to: stallEnd)
        for index in 0..<failures { script.connection(at: Double(index) * 2, proxy: "api", .closed(after: 2)) }
        for start in later { script.connection(at: start, proxy: "api", .closed(after: 2)) }
        return script
    }

    // MARK: quiet_after_failures

    func testBreakerThatOpensHolds() {
        // The quiet runs past the phase's end (12 s): what follows the 5th failure counts.
        let verdict = stall(failures: 5, stallEnd: 12, later: [40]).verdict(quiet, end: 60)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "quiet_after_failures: 5 failures then quiet for 30.0s ≥ 10s")
        XCTAssertEqual(verdict.label, "quiet_after_failures: {failures: 5, quiet: 10s} (during: stall, proxy: api)")
    }

    func testClientThatKeepsRetryingFails() {
        let verdict = stall(failures: 5, later: [10.25]).verdict(quiet, end: 60)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "quiet_after_failures: 5 failures then traffic again after 250ms < 10s")
    }

    func testTooFewFailuresInARowFail() {
        XCTAssertEqual(stall(failures: 3).verdict(quiet, end: 60).observed,
                       "quiet_after_failures: at most 3 failures in a row, 5 needed")
        // Six failures, but a success after the second resets the count.
        var script = stall(failures: 2)
        script.connection(at: 4.5, proxy: "api", .replied(after: 0.1, closedAfter: 0.2))
        for index in 0..<4 { script.connection(at: 5 + Double(index) * 2, proxy: "api", .closed(after: 2)) }
        let verdict = script.verdict(quiet, end: 60)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "quiet_after_failures: at most 4 failures in a row, 5 needed")
    }

    func testQuietToTheEndOfTheRun() {
        XCTAssertEqual(stall(failures: 5).verdict(quiet, end: 30).observed,
                       "quiet_after_failures: 5 failures then quiet for 20.0s ≥ 10s (to the end of the run)")
        let short = stall(failures: 5).verdict(quiet, end: 15)
        XCTAssertEqual(short.status, .fail)
        XCTAssertEqual(short.observed, "quiet_after_failures: 5 failures then quiet for 5.0s, then the run ended, before 10s")
    }

    // MARK: probe_after

    func testProbeAfterTheCooldownHolds() {
        // Last failure at 10 s; the probe 31.2 s later is 1.2 s after the 30 s cooldown.
        let verdict = stall(failures: 5, later: [41.2]).verdict(probe, end: 60)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "probe_after: probe 1.2s after 30s of quiet ≤ 5s")
        XCTAssertEqual(verdict.label, "probe_after: {quiet: 30s, within: 5s} (during: stall)")
    }

    func testLateProbeFails() {
        let verdict = stall(failures: 5, later: [52]).verdict(probe, end: 60)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "probe_after: probe 12.0s after 30s of quiet > 5s")
    }

    func testClientThatNeverPausesFails() {
        // Retries 500 ms after each 2 s timeout, to the end: never 30 s of quiet. (Waiting
        // on a request is not quiet: the cooldown starts when the failure is seen.)
        let retries = stride(from: 0.0, to: 58, by: 2.5).map { $0 }
        let verdict = stall(failures: 0, later: retries).verdict(probe, end: 60)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "probe_after: never quiet for 30s (longest quiet 500ms)")
    }

    func testNoProbeBeforeTheRunEndsFails() {
        XCTAssertEqual(stall(failures: 5).verdict(probe, end: 42).observed,
                       "probe_after: no probe after 30s of quiet; the run ended 2.0s later")
        XCTAssertEqual(stall(failures: 5).verdict(probe, end: 38).observed,
                       "probe_after: never quiet for 30s (longest quiet 28.0s)")
        XCTAssertEqual(stall(failures: 0).verdict(probe, end: 60).observed, "probe_after: no traffic in scope")
    }

    func testQuietEndedByAnOldConnectionsFailureIsNoProbe() {
        // A connection opened at 0 s hangs until 40 s; the client is silent from 0 s. Its
        // failure at 40 s is not client traffic; the probe at 41 s comes 1 s after it.
        var script = EventScript()
        script.phase("stall", from: 0, to: 60)
        script.connection(at: 0, proxy: "api", .closed(after: 40))
        script.connection(at: 41, proxy: "api", .closed(after: 2))
        XCTAssertEqual(script.verdict(probe, end: 60).observed, "probe_after: never quiet for 30s (longest quiet 17.0s)")
        script.connection(at: 74, proxy: "api", .closed(after: 1))
        XCTAssertEqual(script.verdict(probe, end: 80).observed, "probe_after: probe 1.0s after 30s of quiet ≤ 5s")
    }
}
