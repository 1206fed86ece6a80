@testable import Faultline
import XCTest

/// `max_connection_attempts`, `max_requests` and `no_request`: counts in scope.
final class ExpectationCountTests: XCTestCase {
    private let outage = ExpectationSpec.Scope.during("outage")

    /// A healthy second, then an outage from 1 s to 31 s with refused connections at `times`.
    private func outageRun(_ times: [Double]) -> EventScript {
        var script = EventScript()
        script.phase("healthy", from: 0, to: 1)
        script.phase("outage", from: 1, to: 31)
        script.connection(at: 0.2, .replied(after: 0.01, closedAfter: 0.5))  // before the outage: not counted
        script.refused(at: times)
        return script
    }

    func testMaxConnectionAttemptsHolds() {
        let spec = ExpectationSpec.scalar("max_connection_attempts", .number(6), proxy: "redis", scope: outage)
        let verdict = outageRun([1, 2, 4, 8, 16, 30]).verdict(spec, end: 31)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "max_connection_attempts 6 ≤ 6")
        XCTAssertEqual(verdict.label, "max_connection_attempts: 6 (during: outage, proxy: redis)")
    }

    func testMaxConnectionAttemptsFails() {
        let spec = ExpectationSpec.scalar("max_connection_attempts", .number(6), scope: outage)
        let verdict = outageRun([1, 1.5, 2, 4, 8, 16, 30]).verdict(spec, end: 31)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "max_connection_attempts 7 > 6")
    }

    func testMaxRequestsCountsConnectionsAtTheTCPLayer() {
        let spec = ExpectationSpec.scalar("max_requests", .number(3), scope: outage)
        XCTAssertEqual(outageRun([2, 5, 9]).verdict(spec, end: 31).observed, "max_requests 3 ≤ 3")
        let failed = outageRun([2, 5, 9, 12]).verdict(spec, end: 31)
        XCTAssertEqual(failed.status, .fail)
        XCTAssertEqual(failed.observed, "max_requests 4 > 3")
    }

    func testMaxRequestsCountsRequestFactsFromAProtocolExtractor() {
        // Three commands on one connection: a protocol extractor's facts, the same evaluator.
        var script = EventScript()
        let link = script.open(at: 0)
        for second in [0.1, 0.2, 0.3] { script.at(second, .exchangeAnswered, link: link) }
        let spec = ExpectationSpec.scalar("max_requests", .number(2))
        let verdict = script.verdicts([spec], end: 1, extractor: RepliesAsRequests())[0]
        XCTAssertEqual(verdict.observed, "max_requests 3 > 2")
    }

    func testNoRequestHoldsWithoutAnyConnection() {
        let spec = ExpectationSpec(kind: "no_request", proxy: "redis", scope: .after("healthy"),
                                   parameters: ["match": .text("GET /api/v2/*")])
        var script = EventScript()
        script.phase("healthy", from: 0, to: 1)
        script.connection(at: 0.5, .replied(after: 0.1, closedAfter: 0.2))
        let verdict = script.verdict(spec, end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, #"no_request: no request in scope (TCP can only check "no request", not match "GET /api/v2/*")"#)
        XCTAssertEqual(verdict.label, #"no_request: "GET /api/v2/*" (after: healthy, proxy: redis)"#)
    }

    func testNoRequestFailsOnAnyConnectionAtTheTCPLayer() {
        let spec = ExpectationSpec(kind: "no_request", parameters: ["match": .text("GET /api/v2/*")])
        let verdict = outageRun([2.5, 3]).verdict(spec, end: 31)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed,
                       #"no_request: 3 requests (first at 200ms); TCP can only check "no request", not match "GET /api/v2/*""#)
        let bare = outageRun([2]).verdict(ExpectationSpec(kind: "no_request", scope: outage), end: 31)
        XCTAssertEqual(bare.observed, #"no_request: 1 request (first at 2.0s); TCP can only check "no request""#)
    }

    func testNoRequestMatchesDescribedRequests() {
        let spec = ExpectationSpec(kind: "no_request", parameters: ["match": .text("GET /api/v2/*")])
        var script = EventScript()
        script.at(1, .connectionOpened, link: 1)  // the extractor names each request by its time
        script.at(2, .connectionOpened, link: 2)
        let allowed = script.verdicts([spec], end: 5, extractor: DescribedRequests(["GET /api/v1/users", "POST /api/v2/x"]))[0]
        XCTAssertEqual(allowed.status, .pass)
        XCTAssertEqual(allowed.observed, #"no_request: none of 2 requests matched "GET /api/v2/*""#)
        let forbidden = script.verdicts([spec], end: 5, extractor: DescribedRequests(["GET /api/v1/users", "GET /api/v2/users"]))[0]
        XCTAssertEqual(forbidden.status, .fail)
        XCTAssertEqual(forbidden.observed, #"no_request: 1 request matched "GET /api/v2/*" (first "GET /api/v2/users" at 2.0s)"#)
    }

    func testGlob() {
        XCTAssertTrue(NoRequest.glob("GET /api/v2/*", matches: "GET /api/v2/users"))
        XCTAssertTrue(NoRequest.glob("*users*", matches: "GET /api/v2/users?id=1"))
        XCTAssertTrue(NoRequest.glob("AUTH", matches: "AUTH"))
        XCTAssertFalse(NoRequest.glob("AUTH", matches: "AUTH x"))
        XCTAssertFalse(NoRequest.glob("GET /api/v2/*", matches: "GET /api/v1/users"))
        XCTAssertTrue(NoRequest.glob("a*b*c", matches: "aXbYbZc"))
        XCTAssertFalse(NoRequest.glob("a*b*c", matches: "aXbYbZ"))
    }
}

/// A stand-in for a protocol extractor: every reply is one answered request.
private struct RepliesAsRequests: FactExtractor {
    mutating func facts(from event: Event) -> [Fact] {
        guard event.kind == .exchangeAnswered else { return [] }
        return [Fact(time: event.time, proxy: event.proxy, link: event.link, kind: .request(detail: "PING")),
                Fact(time: event.time, proxy: event.proxy, link: event.link, kind: .success)]
    }
}

/// A stand-in for an HTTP extractor: each opened connection carries the next described request.
private struct DescribedRequests: FactExtractor {
    var requests: [String]
    init(_ requests: [String]) { self.requests = requests }
    mutating func facts(from event: Event) -> [Fact] {
        guard event.kind == .connectionOpened, !requests.isEmpty else { return [] }
        return [Fact(time: event.time, proxy: event.proxy, link: event.link, kind: .request(detail: requests.removeFirst()))]
    }
}
