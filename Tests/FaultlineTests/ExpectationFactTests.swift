@testable import Faultline
import XCTest

/// The TCP layer's facts: what counts as an attempt, a request, a success and a failure.
final class ExpectationFactTests: XCTestCase {
    private func facts(_ script: EventScript) -> [String] {
        let evaluator = ExpectationEvaluator([])
        script.ordered.forEach(evaluator.observe)
        return evaluator.observedFacts.map { fact in
            let what = switch fact.kind {
            case .attempt: "attempt"
            case .request(let detail): "request(\(detail ?? "-"))"
            case .success: "success"
            case .failure(let reason): "failure(\(reason))"
            case .tlsHandshake(let profile, let completed, let alert, let reason, let fault):
                "tls(\(profile) \(completed ? "completed" : "failed: \(alert ?? "-"), \(reason ?? "-"), \(fault ?? "-")"))"
            case .tlsData(let profile): "tlsData(\(profile))"
            }
            return "\(Figures.seconds(fact.time)) \(fact.proxy ?? "-")#\(fact.link ?? 0) \(what)"
        }
    }

    func testAnsweredConnectionIsAttemptRequestAndSuccess() {
        var script = EventScript()
        script.connection(at: 1, .replied(after: 0.1, closedAfter: 5))
        XCTAssertEqual(facts(script), ["1.0s redis#1 attempt", "1.0s redis#1 request(-)", "1.1s redis#1 success"])
    }

    func testUnansweredCloseIsOneFailure() {
        var script = EventScript()
        script.connection(at: 0.5, .closed(after: 2))
        XCTAssertEqual(facts(script).last, "2.5s redis#1 failure(closed with the request unanswered)")
        XCTAssertEqual(facts(script).count, 3)
    }

    func testPooledConnectionCountsEachExchangeAsARequest() {
        // One connection, three commands answered, then an idle cut: three requests, three
        // successes and no failure (nothing was outstanding when the cut came).
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        for second in [1.0, 2.0, 3.0] {
            script.at(second, .exchangeStarted, link: link)
            script.at(second + 0.01, .exchangeAnswered, link: link)
        }
        script.at(4, .faultFired(name: "idle-cut", kind: "tcp.cutoff", action: "cut"), link: link)
        script.at(4, .connectionClosed(bytesUp: 3, bytesDown: 3, reset: false), link: link)
        XCTAssertEqual(facts(script), [
            "0ms redis#1 attempt",
            "1.0s redis#1 request(-)", "1.01s redis#1 success",
            "2.0s redis#1 request(-)", "2.01s redis#1 success",
            "3.0s redis#1 request(-)", "3.01s redis#1 success",
        ])
    }

    func testSendsBeforeTheAnswerAreOneRequest() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .exchangeStarted, link: link)
        script.at(1.1, .exchangeStarted, link: link)
        script.at(1.2, .exchangeAnswered, link: link)
        script.at(1.3, .exchangeAnswered, link: link)
        XCTAssertEqual(facts(script).dropFirst(), ["1.0s redis#1 request(-)", "1.2s redis#1 success"])
    }

    func testClientClosingWithARequestOutstandingAbandonsIt() {
        // A client that times out and closes while the reply is held (tcp.latency): the reply
        // written to its closed socket later is no success.
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .exchangeStarted, link: link)
        script.at(1.5, .exchangeAbandoned, link: link)
        script.at(6, .exchangeAnswered, link: link)
        script.at(6, .connectionClosed(bytesUp: 1, bytesDown: 1, reset: false), link: link)
        XCTAssertEqual(facts(script).dropFirst(), ["1.0s redis#1 request(-)", "1.5s redis#1 failure(abandoned by the client)"])
    }

    func testClientLeavingAHeldConnectIsAFailedRequest() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .faultFired(name: "hold", kind: "tcp.connect_delay", action: "delayed"), link: link)
        script.at(2, .exchangeStarted, link: link)
        script.at(2, .connectionClosed(bytesUp: 0, bytesDown: 0, reset: false), link: link)
        XCTAssertEqual(facts(script).dropFirst(), ["2.0s redis#1 request(-)", "2.0s redis#1 failure(closed before the upstream connected)"])
    }

    func testRefusedUpstreamFailsOnceThoughTheConnectionAlsoCloses() {
        var script = EventScript()
        script.connection(at: 0, .refused)
        XCTAssertEqual(facts(script), [
            "0ms redis#1 attempt", "0ms redis#1 request(-)",
            "0ms redis#1 failure(refused by down)",
        ])
    }

    func testUpstreamFailureIsAFailure() {
        var script = EventScript()
        let link = script.open(at: 1)
        script.at(3, .upstreamFailed(reason: "connect timed out"), link: link)
        script.at(3, .connectionClosed(bytesUp: 0, bytesDown: 0, reset: false), link: link)
        XCTAssertEqual(facts(script).dropFirst(2), ["3.0s redis#1 failure(upstream failed: connect timed out)"])
    }

    func testCutWhileARequestIsOutstandingIsAFailure() {
        var script = EventScript()
        script.connection(at: 0, .cut(replyAfter: 0.2, cutAfter: 2))
        let link: UInt64 = 1
        script.at(1.5, .exchangeStarted, link: link)
        XCTAssertEqual(facts(script).dropFirst(2), [
            "200ms redis#1 success", "1.5s redis#1 request(-)", "2.0s redis#1 failure(cut by idle-cut)",
        ])
    }

    func testCutOfAnIdleConnectionIsNoFailure() {
        var script = EventScript()
        script.connection(at: 0, .cut(replyAfter: 0.2, cutAfter: 2))
        XCTAssertEqual(facts(script).dropFirst(2), ["200ms redis#1 success"])
    }

    func testDelayIsNoFailureAndASecondReplyIsNoSecondSuccess() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .faultFired(name: "hold", kind: "tcp.connect_delay", action: "delayed"), link: link)
        script.at(1, .upstreamConnected, link: link)
        script.at(1, .exchangeStarted, link: link)
        script.at(1.5, .exchangeAnswered, link: link)
        script.at(2, .exchangeAnswered, link: link)
        script.at(3, .connectionClosed(bytesUp: 1, bytesDown: 1, reset: false), link: link)
        XCTAssertEqual(facts(script).dropFirst(2), ["1.5s redis#1 success"])
    }

    func testLinksOfTwoProxiesAreKeptApart() {
        var script = EventScript()
        script.connection(at: 0, proxy: "a", .closed(after: 1))
        script.connection(at: 0, proxy: "b", .replied(after: 0.5, closedAfter: 1))
        XCTAssertEqual(facts(script).filter { $0.contains("failure") || $0.contains("success") },
                       ["500ms b#1 success", "1.0s a#1 failure(closed with the request unanswered)"])
    }

    func testEventsWithoutALinkMakeNoFacts() {
        var script = EventScript()
        script.phase("outage", from: 0, to: 1)
        script.at(0, .faultOn(name: "x", kind: "tcp.down"))
        XCTAssertEqual(facts(script), [])
    }
}

// MARK: - support shared by the Expectation*Tests

/// Builds a run's events with exact times (seconds), as the proxy would emit them; link ids
/// count from 1 per proxy, as the proxy numbers them.
struct EventScript {
    private(set) var events: [Event] = []
    private var links: [String: UInt64] = [:]

    /// How a scripted connection ends.
    enum Ending {
        /// A request sent at once, answered `after` seconds after opening; closed
        /// `closedAfter` seconds after opening.
        case replied(after: Double, closedAfter: Double)
        /// A request sent at once; closed `after` seconds after opening, never answered.
        case closed(after: Double)
        /// Refused at once by the fault `down`.
        case refused
        /// A request answered, then the idle connection cut by the fault `idle-cut`.
        case cut(replyAfter: Double, cutAfter: Double)
        /// Still open at the end of the script.
        case open
    }

    mutating func at(_ seconds: Double, _ kind: Event.Kind, proxy: String? = "redis", link: UInt64? = nil) {
        events.append(Event(time: Self.time(seconds), proxy: proxy, link: link, kind: kind))
    }

    /// Seconds as a whole number of microseconds, so that 1.9 - 1.0 is exactly 900 ms.
    static func time(_ seconds: Double) -> Duration { .microseconds(Int64((seconds * 1e6).rounded())) }

    /// Opens a connection and returns its link id.
    @discardableResult
    mutating func open(at seconds: Double, proxy: String = "redis") -> UInt64 {
        let link = (links[proxy] ?? 0) + 1
        links[proxy] = link
        at(seconds, .connectionOpened, proxy: proxy, link: link)
        return link
    }

    mutating func connection(at start: Double, proxy: String = "redis", _ ending: Ending) {
        let link = open(at: start, proxy: proxy)
        let closed = Event.Kind.connectionClosed(bytesUp: 10, bytesDown: 10, reset: false)
        switch ending {
        case .replied(let after, let closedAfter):
            request(at: start, proxy: proxy, link: link)
            at(start + after, .exchangeAnswered, proxy: proxy, link: link)
            at(start + closedAfter, closed, proxy: proxy, link: link)
        case .closed(let after):
            request(at: start, proxy: proxy, link: link)
            at(start + after, closed, proxy: proxy, link: link)
        case .refused:
            at(start, .faultFired(name: "down", kind: "tcp.refuse_upstream", action: "refused"), proxy: proxy, link: link)
            at(start, .upstreamFailed(reason: "Connection refused (down)"), proxy: proxy, link: link)
            at(start, closed, proxy: proxy, link: link)
        case .cut(let replyAfter, let cutAfter):
            request(at: start, proxy: proxy, link: link)
            at(start + replyAfter, .exchangeAnswered, proxy: proxy, link: link)
            at(start + cutAfter, .faultFired(name: "idle-cut", kind: "tcp.cutoff", action: "cut"), proxy: proxy, link: link)
            at(start + cutAfter, closed, proxy: proxy, link: link)
        case .open:
            break
        }
    }

    /// The upstream connected and the client sent its request.
    private mutating func request(at seconds: Double, proxy: String, link: UInt64) {
        at(seconds, .upstreamConnected, proxy: proxy, link: link)
        at(seconds, .exchangeStarted, proxy: proxy, link: link)
    }

    /// Connections refused at each of `times`: a client retrying against a dead dependency.
    mutating func refused(at times: [Double], proxy: String = "redis") {
        times.forEach { connection(at: $0, proxy: proxy, .refused) }
    }

    mutating func phase(_ name: String, from start: Double, to end: Double?) {
        at(start, .phaseStarted(name: name), proxy: nil)
        if let end { at(end, .phaseEnded(name: name), proxy: nil) }
    }

    /// The events in time order (stable), as a bus delivers them.
    var ordered: [Event] {
        events.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }

    /// Judges `specs` over this script's events, the run ending at `end` seconds.
    func verdicts(_ specs: [ExpectationSpec], end: Double, extractor: any FactExtractor = TCPFactExtractor()) -> [Verdict] {
        let evaluator = ExpectationEvaluator(specs, extractor: extractor)
        ordered.forEach(evaluator.observe)
        return evaluator.verdicts(endTime: Self.time(end))
    }

    /// The one verdict on `spec`.
    func verdict(_ spec: ExpectationSpec, end: Double) -> Verdict {
        verdicts([spec], end: end)[0]
    }
}

extension ExpectationSpec {
    /// A spec with one scalar parameter, the way `max_rate: 10` is written.
    static func scalar(_ kind: String, _ value: ExpectationValue, proxy: String? = nil,
                       scope: Scope = .whole) -> ExpectationSpec {
        let name = ExpectationSpec.kind(named: kind)?.scalarParameter ?? kind
        return ExpectationSpec(kind: kind, proxy: proxy, scope: scope, parameters: [name: value])
    }
}
