@testable import Faultline
import XCTest

/// The facts a `protocol: redis` proxy's events make (`TCPFactExtractor` reading
/// `requestStarted`/`requestAnswered`), and the expectations that count Redis commands:
/// `max_auth_attempts`, `max_requests` with `command`, `no_request` with `command`.
final class RedisFactTests: XCTestCase {
    private func facts(_ script: EventScript) -> [String] {
        script.describedFacts(extractor: TCPFactExtractor())
    }

    private static func answered(error: String? = nil, byFaultline: Bool = false, handshake: Bool = false) -> Event.Kind {
        .requestAnswered(error: error, byFaultline: byFaultline, latency: .milliseconds(1), handshake: handshake)
    }

    /// A connection to the Redis proxy, connected upstream at once, carrying `commands`, each
    /// answered 10 ms after it is sent (with `error` when given; `handshake` for AUTH/HELLO);
    /// closed at `closedAt` when given.
    private func redis(_ script: inout EventScript, at start: Double,
                       _ commands: [(detail: String, error: String?)], closedAt: Double? = nil) {
        let link = script.open(at: start)
        script.at(start, .upstreamConnected, link: link)
        for (index, command) in commands.enumerated() {
            let time = start + 0.1 * Double(index + 1)
            let handshake = command.detail.hasPrefix("AUTH") || command.detail.hasPrefix("HELLO")
            script.at(time, .requestStarted(detail: command.detail), link: link)
            script.at(time + 0.01, Self.answered(error: command.error, byFaultline: command.error != nil, handshake: handshake), link: link)
        }
        if let closedAt { script.at(closedAt, .connectionClosed(bytesUp: 1, bytesDown: 1, reset: false), link: link) }
    }

    // MARK: facts

    func testAnsweredCommandIsARequestAndASuccess() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .requestStarted(detail: "GET a"), link: link)
        script.at(1.2, Self.answered(), link: link)
        script.at(2, .connectionClosed(bytesUp: 1, bytesDown: 1, reset: false), link: link)
        XCTAssertEqual(facts(script), ["0ms redis#1 attempt", "1.0s redis#1 request(GET a)", "1.2s redis#1 success"])
    }

    func testAnErrorAnswerIsAFailureNamingItsCodeAndWhoSentIt() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .requestStarted(detail: "GET a"), link: link)
        script.at(1, Self.answered(error: "LOADING", byFaultline: true), link: link)
        script.at(2, .requestStarted(detail: "SET a"), link: link)
        script.at(2.5, Self.answered(error: "READONLY"), link: link)
        XCTAssertEqual(facts(script).dropFirst(), [
            "1.0s redis#1 request(GET a)", "1.0s redis#1 failure(LOADING from faultline)",
            "2.0s redis#1 request(SET a)", "2.5s redis#1 failure(READONLY from the upstream)",
        ])
    }

    func testAnAcceptedHandshakeIsNoSuccessARejectedOneAFailure() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .requestStarted(detail: "HELLO 3"), link: link)
        script.at(1.1, Self.answered(handshake: true), link: link)
        script.at(2, .requestStarted(detail: "AUTH"), link: link)
        script.at(2.1, Self.answered(error: "NOAUTH", byFaultline: true, handshake: true), link: link)
        script.at(3, .requestStarted(detail: "HELLO 3 AUTH"), link: link)
        script.at(3.1, Self.answered(error: "WRONGPASS", handshake: true), link: link)
        script.at(4, .requestStarted(detail: "AUTH"), link: link)
        script.at(4.1, Self.answered(handshake: true), link: link)
        XCTAssertEqual(facts(script).dropFirst(), [
            "1.0s redis#1 request(HELLO 3)",
            "2.0s redis#1 request(AUTH)", "2.1s redis#1 failure(NOAUTH from faultline)",
            "3.0s redis#1 request(HELLO 3 AUTH)", "3.1s redis#1 failure(WRONGPASS from the upstream)",
            "4.0s redis#1 request(AUTH)",
        ])
    }

    func testRequestsUnansweredAtCloseEachFail() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .requestStarted(detail: "GET a"), link: link)
        script.at(1, .requestStarted(detail: "GET b"), link: link)
        script.at(1, .requestStarted(detail: "GET c"), link: link)
        script.at(3, .connectionClosed(bytesUp: 1, bytesDown: 0, reset: false), link: link)
        let reason = "no reply (3 requests): closed with the request unanswered"
        XCTAssertEqual(facts(script).dropFirst(), [
            "1.0s redis#1 request(GET a)", "1.0s redis#1 request(GET b)", "1.0s redis#1 request(GET c)",
            "3.0s redis#1 failure(\(reason))", "3.0s redis#1 failure(\(reason))", "3.0s redis#1 failure(\(reason))",
        ])
    }

    func testOnlyTheUnansweredFailAndOneSaysSo() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .requestStarted(detail: "GET a"), link: link)
        script.at(1, .requestStarted(detail: "BLPOP q"), link: link)
        script.at(1.1, Self.answered(), link: link)  // answers come in order: GET a
        script.at(3, .upstreamFailed(reason: "Connection reset by peer"), link: link)
        script.at(3, .connectionClosed(bytesUp: 1, bytesDown: 1, reset: true), link: link)
        XCTAssertEqual(facts(script).dropFirst(3), [
            "1.1s redis#1 success",
            "3.0s redis#1 failure(no reply: upstream failed: Connection reset by peer)",
        ])
    }

    func testAClosingFaultEndsPendingRequestsOnce() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .requestStarted(detail: "GET a"), link: link)
        script.at(1, .requestStarted(detail: "GET b"), link: link)
        script.at(1, .faultFired(name: "drop-gets", kind: "redis.close", action: "closed"), link: link)
        script.at(1, .connectionClosed(bytesUp: 1, bytesDown: 0, reset: false), link: link)
        let reason = "no reply (2 requests): closed by drop-gets"
        XCTAssertEqual(facts(script).dropFirst(), [
            "1.0s redis#1 request(GET a)", "1.0s redis#1 request(GET b)",
            "1.0s redis#1 failure(\(reason))", "1.0s redis#1 failure(\(reason))",
        ])
    }

    func testDelayedAndHungCommandsAreNoFailures() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, .requestStarted(detail: "GET a"), link: link)
        script.at(1, .faultFired(name: "slow", kind: "redis.delay", action: "delayed"), link: link)
        script.at(1, .faultFired(name: "stuck", kind: "redis.hang", action: "hung"), link: link)
        XCTAssertEqual(facts(script).dropFirst(), ["1.0s redis#1 request(GET a)"])
    }

    func testAnswersWithoutARequestAndRequestsWithoutAConnectionMakeNoFacts() {
        var script = EventScript()
        let link = script.open(at: 0)
        script.at(0, .upstreamConnected, link: link)
        script.at(1, Self.answered(), link: link)
        script.at(2, .requestStarted(detail: "GET a"), link: 99)
        XCTAssertEqual(facts(script), ["0ms redis#1 attempt"])
    }

    // MARK: max_auth_attempts

    func testMaxAuthAttemptsCountsAuthAndHelloWithAuth() {
        var script = EventScript()
        redis(&script, at: 0, [("HELLO 3", nil), ("AUTH", "NOAUTH"), ("GET a", nil)], closedAt: 0.5)
        redis(&script, at: 1, [("HELLO 3 AUTH", "NOAUTH"), ("PING", nil)], closedAt: 1.5)
        redis(&script, at: 2, [("HELLO", nil), ("AUTH", nil), ("GET a", nil)])
        let passes = script.verdicts([.scalar("max_auth_attempts", .number(3), proxy: "redis")], end: 5)[0]
        XCTAssertEqual(passes.status, .pass)
        XCTAssertEqual(passes.observed, "max_auth_attempts 3 ≤ 3")
        XCTAssertEqual(passes.label, "max_auth_attempts: 3 (proxy: redis)")
        let fails = script.verdicts([.scalar("max_auth_attempts", .number(2))], end: 5)[0]
        XCTAssertEqual(fails.status, .fail)
        XCTAssertEqual(fails.observed, "max_auth_attempts 3 > 2")
        XCTAssertTrue(MaxAuthAttempts.isAuthentication("AUTH"))
        XCTAssertTrue(MaxAuthAttempts.isAuthentication("HELLO 3 AUTH"))
        XCTAssertFalse(MaxAuthAttempts.isAuthentication("HELLO 3"))
        XCTAssertFalse(MaxAuthAttempts.isAuthentication("HELLO"))
        XCTAssertFalse(MaxAuthAttempts.isAuthentication("GET AUTH"), "a key named AUTH is no attempt")
        XCTAssertFalse(MaxAuthAttempts.isAuthentication(""))
    }

    func testMaxAuthAttemptsInScopeOnly() {
        var script = EventScript()
        script.phase("rejecting", from: 0, to: 1)
        redis(&script, at: 0, [("AUTH", "NOAUTH"), ("AUTH", "NOAUTH")], closedAt: 0.5)
        redis(&script, at: 2, [("AUTH", nil)])
        let verdict = script.verdicts([.scalar("max_auth_attempts", .number(1), scope: .during("rejecting"))], end: 3)[0]
        XCTAssertEqual(verdict.observed, "max_auth_attempts 2 > 1")
        let after = script.verdicts([.scalar("max_auth_attempts", .number(1), scope: .after("rejecting"))], end: 3)[0]
        XCTAssertEqual(after.observed, "max_auth_attempts 1 ≤ 1")
    }

    func testMaxAuthAttemptsOnTCPRequestsIsAnError() {
        var script = EventScript()
        script.connection(at: 0, .replied(after: 0.1, closedAfter: 1))
        let verdict = script.verdicts([.scalar("max_auth_attempts", .number(4))], end: 2)[0]
        XCTAssertEqual(verdict.status, .error)
        XCTAssertEqual(verdict.observed, "max_auth_attempts: this proxy's requests are TCP exchanges; it needs protocol: redis")
        let none = EventScript().verdicts([.scalar("max_auth_attempts", .number(4))], end: 2)[0]
        XCTAssertEqual(none.observed, "max_auth_attempts 0 ≤ 4", "no request at all: nothing to judge wrong")
    }

    // MARK: max_requests with command

    func testMaxRequestsWithACommandCountsThatCommandOnly() {
        var script = EventScript()
        redis(&script, at: 0, [("AUTH", "NOAUTH"), ("GET a", nil), ("HELLO 3 AUTH", "NOAUTH"), ("AUTH", nil)])
        let spec = ExpectationSpec(kind: "max_requests", proxy: "redis",
                                   parameters: ["limit": .number(1), "command": .text("auth")])
        let verdict = script.verdicts([spec], end: 1)[0]
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "max_requests 2 > 1 (command AUTH)", "command in any case; HELLO … AUTH is HELLO")
        XCTAssertEqual(verdict.label, #"max_requests: {limit: 1, command: "auth"} (proxy: redis)"#)

        var once = EventScript()
        redis(&once, at: 0, [("AUTH", nil), ("GET a", nil), ("GET b", nil)])
        XCTAssertEqual(once.verdicts([spec], end: 1)[0].observed, "max_requests 1 ≤ 1 (command AUTH)")
        XCTAssertEqual(once.verdicts([.scalar("max_requests", .number(2))], end: 1)[0].observed, "max_requests 3 > 2")
        let matched = ExpectationSpec(kind: "max_requests", parameters: ["limit": .number(5), "match": .text("GET *")])
        XCTAssertEqual(once.verdicts([matched], end: 1)[0].observed, #"max_requests 2 ≤ 5 (match "GET *")"#)
    }

    func testMaxRequestsWithACommandOnTCPRequestsIsAnError() {
        var script = EventScript()
        script.connection(at: 0, .replied(after: 0.1, closedAfter: 1))
        let spec = ExpectationSpec(kind: "max_requests", parameters: ["limit": .number(3), "command": .text("AUTH")])
        let verdict = script.verdicts([spec], end: 2)[0]
        XCTAssertEqual(verdict.status, .error)
        XCTAssertEqual(verdict.observed, "max_requests: command AUTH needs requests a protocol proxy names; this proxy's are TCP exchanges")
    }

    // MARK: no_request with command

    func testNoRequestWithACommandFailsNamingTheFirst() {
        var script = EventScript()
        redis(&script, at: 0, [("GET a", nil), ("FLUSHALL", nil)], closedAt: 0.5)
        redis(&script, at: 1, [("FLUSHALL", nil)])
        let spec = ExpectationSpec(kind: "no_request", proxy: "redis", parameters: ["command": .text("FLUSHALL")])
        let verdict = script.verdicts([spec], end: 2)[0]
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, #"no_request: 2 requests matched command FLUSHALL (first "FLUSHALL" at 200ms)"#)
        XCTAssertEqual(verdict.label, #"no_request: {command: "FLUSHALL"} (proxy: redis)"#)
    }

    func testNoRequestWithACommandPassesOtherwise() {
        var script = EventScript()
        redis(&script, at: 0, [("GET a", nil), ("FLUSHDB", nil), ("GET FLUSHALL", nil)])
        let spec = ExpectationSpec(kind: "no_request", parameters: ["command": .text("flushall")])
        let verdict = script.verdicts([spec], end: 2)[0]
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "no_request: none of 3 requests matched command FLUSHALL")
        let empty = EventScript().verdicts([spec], end: 2)[0]
        XCTAssertEqual(empty.status, .pass)
        XCTAssertEqual(empty.observed, #"no_request: no request in scope (TCP can only check "no request", not command FLUSHALL)"#)
    }
}
