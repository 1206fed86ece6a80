@testable import Faultline
import XCTest

/// Scopes (`during:`, `after:`, `proxy:`), `first_success_within`, the kinds catalogue and
/// specs the evaluator cannot judge (`client_rejects_certificate` is in ExpectationCertificateTests).
final class ExpectationScopeTests: XCTestCase {
    /// healthy 0–5 s, outage 5–35 s, recovery 35–55 s.
    private func timeline(recoveryEnds: Double? = 55) -> EventScript {
        var script = EventScript()
        script.phase("healthy", from: 0, to: 5)
        script.phase("outage", from: 5, to: 35)
        script.phase("recovery", from: 35, to: recoveryEnds)
        return script
    }

    private func attempts(_ scope: ExpectationSpec.Scope, proxy: String? = nil, in script: EventScript,
                          end: Double = 55) -> Verdict {
        script.verdict(.scalar("max_connection_attempts", .number(100), proxy: proxy, scope: scope), end: end)
    }

    // MARK: scopes

    func testDuringCountsThePhaseAndABoundaryBelongsToTheNextPhase() {
        var script = timeline()
        script.refused(at: [1, 4.9, 5, 20, 34.9, 35, 50])
        XCTAssertEqual(attempts(.during("healthy"), in: script).observed, "max_connection_attempts 2 ≤ 100")
        XCTAssertEqual(attempts(.during("outage"), in: script).observed, "max_connection_attempts 3 ≤ 100")
        XCTAssertEqual(attempts(.after("outage"), in: script).observed, "max_connection_attempts 2 ≤ 100")
        XCTAssertEqual(attempts(.whole, in: script).observed, "max_connection_attempts 7 ≤ 100")
        XCTAssertEqual(attempts(.during("outage"), in: script).judgedOver, .seconds(30))
    }

    func testPhaseStillRunningAtTheEndIsCutThere() {
        var script = timeline(recoveryEnds: nil)
        script.refused(at: [40, 44, 47])
        let verdict = attempts(.during("recovery"), in: script, end: 45)
        XCTAssertEqual(verdict.observed, "max_connection_attempts 2 ≤ 100")
        XCTAssertEqual(verdict.judgedOver, .seconds(10))
    }

    func testProxyFilter() {
        var script = timeline()
        script.refused(at: [10, 11], proxy: "redis")
        script.refused(at: [12], proxy: "api")
        XCTAssertEqual(attempts(.whole, proxy: "redis", in: script).observed, "max_connection_attempts 2 ≤ 100")
        XCTAssertEqual(attempts(.whole, proxy: "api", in: script).observed, "max_connection_attempts 1 ≤ 100")
        XCTAssertEqual(attempts(.whole, in: script).observed, "max_connection_attempts 3 ≤ 100")
    }

    func testFactsAfterTheEndAreLeftOut() {
        var script = timeline()
        script.refused(at: [50, 56])  // 56 s: a close during shutdown, after the run's end
        XCTAssertEqual(attempts(.whole, in: script).observed, "max_connection_attempts 1 ≤ 100")
    }

    func testPhaseThatNeverRanIsAnError() {
        let never = attempts(.during("cooldown"), in: timeline())
        XCTAssertEqual(never.status, .error)
        XCTAssertFalse(never.passed)
        XCTAssertEqual(never.observed, "phase 'cooldown' never started")
        let unfinished = attempts(.after("recovery"), in: timeline(recoveryEnds: nil), end: 50)
        XCTAssertEqual(unfinished.status, .error)
        XCTAssertEqual(unfinished.observed, "phase 'recovery' never ended, so nothing came after it")
    }

    // MARK: first_success_within

    private let recovered = ExpectationSpec.scalar("first_success_within", .duration(.seconds(35)),
                                                   proxy: "redis", scope: .during("recovery"))

    func testFirstSuccessWithinHoldsFromThePhaseStart() {
        var script = timeline()
        script.connection(at: 2, .replied(after: 0.01, closedAfter: 1))  // healthy: before the scope
        script.refused(at: [36])
        script.connection(at: 37, .replied(after: 0.31, closedAfter: 1))
        let verdict = script.verdict(recovered, end: 55)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "first_success_within 2.31s ≤ 35s")
        XCTAssertEqual(verdict.label, "first_success_within: 35s (during: recovery, proxy: redis)")
    }

    func testFirstSuccessMayComeAfterThePhaseEnds() {
        var script = timeline()
        script.connection(at: 60, .replied(after: 0, closedAfter: 1))
        XCTAssertEqual(script.verdict(recovered, end: 80).observed, "first_success_within 25.0s ≤ 35s")
    }

    func testFirstSuccessTooLateFails() {
        var script = timeline()
        script.refused(at: [40, 50, 60])
        script.connection(at: 75, .replied(after: 0, closedAfter: 1))
        let verdict = script.verdict(recovered, end: 80)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "first_success_within 40.0s > 35s")
    }

    func testNoSuccessFails() {
        var script = timeline()
        script.refused(at: [40, 50])
        let verdict = script.verdict(recovered, end: 55)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "first_success_within: no success in the 20.0s to the end of the run (limit 35s)")
    }

    // MARK: what cannot be judged

    func testUnknownKindAndBadParametersAreErrors() {
        let script = timeline()
        let unknown = script.verdict(ExpectationSpec(kind: "max_retries", parameters: ["limit": .number(3)]), end: 55)
        XCTAssertEqual(unknown.status, .error)
        XCTAssertTrue(unknown.observed.hasPrefix("unknown expectation 'max_retries'; known: max_connection_attempts, "))
        XCTAssertEqual(script.verdict(ExpectationSpec(kind: "max_rate"), end: 55).observed,
                       "max_rate needs 'rate' (the most requests per second allowed)")
        XCTAssertEqual(script.verdict(.scalar("max_rate", .duration(.seconds(10))), end: 55).observed,
                       "max_rate: 'rate' must be a number such as 10, not 10s")
        XCTAssertEqual(script.verdict(ExpectationSpec(kind: "max_rate", parameters: ["rate": .number(1), "burst": .number(2)]), end: 55).observed,
                       "max_rate has no parameter 'burst'; it takes rate")
    }

    // MARK: the catalogue

    func testKindsListEveryExpectationWithItsParameters() {
        XCTAssertEqual(ExpectationSpec.kinds.map(\.name), [
            "max_connection_attempts", "max_requests", "max_auth_attempts", "max_rate", "backoff", "quiet_after_failures",
            "probe_after", "first_success_within", "no_request", "client_rejects_certificate",
        ])
        for kind in ExpectationSpec.kinds {
            XCTAssertFalse(kind.summary.isEmpty, kind.name)
            XCTAssertTrue(kind.example.contains("\(kind.name):"), kind.name)
            XCTAssertFalse(kind.parameters.isEmpty, kind.name)
            if let scalar = kind.scalarParameter {
                XCTAssertTrue(kind.parameters.contains { $0.name == scalar }, kind.name)
            }
            for parameter in kind.parameters {
                XCTAssertFalse(parameter.meaning.isEmpty || parameter.example.isEmpty, "\(kind.name).\(parameter.name)")
            }
        }
        XCTAssertEqual(ExpectationSpec.kind(named: "probe_after")?.parameters.map(\.name), ["quiet", "within"])
        XCTAssertNil(ExpectationSpec.kind(named: "probe_afterr"))
    }

    func testProblemsNameEveryMistake() {
        let quiet = ExpectationSpec.kind(named: "quiet_after_failures")
        XCTAssertEqual(quiet?.problems(in: ["failures": .number(5), "quiet": .duration(.seconds(10))]), [])
        XCTAssertEqual(quiet?.problems(in: ["failure": .number(5), "quiet": .number(10)]), [
            "quiet_after_failures has no parameter 'failure' (did you mean 'failures'?); it takes failures, quiet",
            "quiet_after_failures needs 'failures' (failed requests in a row that should open the breaker)",
            "quiet_after_failures: 'quiet' must be a duration such as 10s, not 10",
        ])
        XCTAssertEqual(ExpectationSpec.kind(named: "no_request")?.problems(in: [:]), [])
        XCTAssertEqual(ExpectationSpec.kind(named: "max_connection_attempts")?.problems(in: ["limit": .number(6.5)]), [
            "max_connection_attempts: 'limit' must be a whole number, not 6.5",
        ])
        XCTAssertEqual(ExpectationSpec.kind(named: "max_rate")?.problems(in: ["rate": .number(2.5)]), [])
    }

    func testLabelsFollowTheYAML() {
        XCTAssertEqual(ExpectationSpec.scalar("max_rate", .number(2.5)).label, "max_rate: 2.5")
        XCTAssertEqual(ExpectationSpec(kind: "no_request").label, "no_request: {}")
        XCTAssertEqual(ExpectationSpec(kind: "max_rate", label: "no storm").label, "no storm")
    }
}
