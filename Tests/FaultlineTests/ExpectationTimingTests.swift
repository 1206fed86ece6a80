@testable import Faultline
import XCTest

/// `max_rate` (sliding 1 s window) and `backoff` (gaps never shrink, within tolerance).
final class ExpectationTimingTests: XCTestCase {
    private let maxRate = ExpectationSpec.scalar("max_rate", .number(10), proxy: "redis")
    private let backoff = ExpectationSpec.scalar("backoff", .flag(true))

    private func run(refusedAt times: [Double]) -> EventScript {
        var script = EventScript()
        script.refused(at: times)
        return script
    }

    // MARK: max_rate

    func testMaxRateHoldsForAPatientClient() {
        let verdict = run(refusedAt: [1.0, 1.3, 1.6, 1.9, 3.0, 5.0]).verdict(maxRate, end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "max_rate 4.0/s ≤ 10/s")
    }

    func testMaxRateFailsOnARetryStormAndSaysWhen() {
        let storm = (0..<12).map { 3.1 + Double($0) * 0.05 }
        let verdict = run(refusedAt: [0.5] + storm).verdict(maxRate, end: 10)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "max_rate 12.0/s > 10/s (12 requests in the second from 3.1s)")
    }

    func testMaxRateWithAFractionalLimit() {
        let spec = ExpectationSpec.scalar("max_rate", .number(2.5))
        let verdict = run(refusedAt: [0, 0.4, 0.8]).verdict(spec, end: 5)
        XCTAssertEqual(verdict.observed, "max_rate 3.0/s > 2.5/s (3 requests in the second from 0ms)")
        XCTAssertEqual(run(refusedAt: []).verdict(spec, end: 5).observed, "max_rate 0.0/s ≤ 2.5/s")
    }

    func testWindowIsHalfOpenAndSlides() {
        let t = EventScript.time
        // Exactly one second apart: never in the same [t, t+1s).
        XCTAssertEqual(MaxRate.busiestWindow([t(0), t(1), t(2)]).count, 1)
        XCTAssertEqual(MaxRate.busiestWindow([t(0), t(0.999), t(2)]).count, 2)
        // A window that starts between whole seconds: 0.6–1.5 holds four.
        let busiest = MaxRate.busiestWindow([t(0.2), t(0.6), t(0.9), t(1.2), t(1.5), t(1.7)])
        XCTAssertEqual(busiest.count, 4)
        XCTAssertEqual(busiest.start, t(0.6))
        XCTAssertEqual(MaxRate.busiestWindow([]).count, 0)
    }

    // MARK: backoff

    func testBackoffHoldsForExponentialGaps() {
        let verdict = run(refusedAt: [0, 0.1, 0.3, 0.7, 1.5, 3.1]).verdict(backoff, end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "backoff: 6 attempts, gaps 100ms, 200ms, 400ms, 800ms, 1.6s never shrank")
        XCTAssertEqual(verdict.label, "backoff: true")
    }

    func testBackoffFailsWhenAGapShrinksBeyondTolerance() {
        let verdict = run(refusedAt: [0, 1, 1.85]).verdict(backoff, end: 10)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "backoff: gap 2 shrank 1.0s → 850ms at attempt 3 (1.85s), by more than 100ms")
    }

    func testBackoffFailsForARetryStormAfterAPause() {
        let verdict = run(refusedAt: [0, 2, 2.01, 2.02]).verdict(backoff, end: 10)
        XCTAssertEqual(verdict.observed, "backoff: gap 2 shrank 2.0s → 10ms at attempt 3 (2.01s), by more than 200ms")
    }

    func testBackoffToleratesTenPercentOrFiftyMilliseconds() {
        // 10% of a 1 s gap: 900 ms passes, 899 ms does not.
        XCTAssertEqual(run(refusedAt: [0, 1, 1.9]).verdict(backoff, end: 5).status, .pass)
        XCTAssertEqual(run(refusedAt: [0, 1, 1.899]).verdict(backoff, end: 5).status, .fail)
        // 50 ms floor on short gaps: 200 ms → 150 ms passes, → 149 ms does not.
        XCTAssertEqual(run(refusedAt: [0, 0.2, 0.35]).verdict(backoff, end: 5).status, .pass)
        XCTAssertEqual(run(refusedAt: [0, 0.2, 0.349]).verdict(backoff, end: 5).status, .fail)
        XCTAssertEqual(Backoff.tolerance(after: .seconds(2)), .milliseconds(200))
        XCTAssertEqual(Backoff.tolerance(after: .milliseconds(300)), .milliseconds(50))
    }

    func testBackoffPassesAConstantIntervalAndElidesLongLists() {
        let verdict = run(refusedAt: (0..<9).map(Double.init)).verdict(backoff, end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "backoff: 9 attempts, gaps 1.0s, 1.0s, 1.0s, 1.0s, 1.0s, …, 1.0s never shrank")
    }

    func testBackoffWithTooFewAttemptsHasNothingToCompare() {
        let verdict = run(refusedAt: [1, 5]).verdict(backoff, end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "backoff: 2 attempts, nothing to compare")
    }

    func testBackoffFalseIsAnErrorNotASilentPass() {
        let verdict = run(refusedAt: [0, 1, 1.1]).verdict(.scalar("backoff", .flag(false)), end: 5)
        XCTAssertEqual(verdict.status, .error)
        XCTAssertEqual(verdict.observed, "backoff: false is not an expectation; write true or remove it")
    }
}
