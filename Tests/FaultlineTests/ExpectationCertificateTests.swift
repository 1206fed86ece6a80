@testable import Faultline
import XCTest

/// `client_rejects_certificate`: handshakes under a bad profile, judged from the events a TLS
/// proxy emits, and the facts the extractor makes of them.
final class ExpectationCertificateTests: XCTestCase {
    private func rejects(proxy: String? = "tracing", scope: ExpectationSpec.Scope = .whole) -> ExpectationSpec {
        .scalar("client_rejects_certificate", .flag(true), proxy: proxy, scope: scope)
    }

    // MARK: pass

    func testClientAbortingEveryHandshakePasses() {
        var script = EventScript()
        for start in [1.0, 2, 3, 4, 5] { script.tls(at: start, profile: "incomplete_chain", .rejects(alert: "unknown_ca")) }
        let verdict = script.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed,
                       "client_rejects_certificate: 5 handshakes under incomplete_chain, 5 aborted by the client (alert unknown_ca ×5)")
        XCTAssertEqual(verdict.label, "client_rejects_certificate: true (proxy: tracing)")
    }

    func testAlertsAreGroupedAndAnAbortWithoutOneNamesItsReason() {
        var script = EventScript()
        script.tls(at: 1, profile: "untrusted_root", .rejects(alert: "unknown_ca"))
        script.tls(at: 2, profile: "untrusted_root", .rejects(alert: "bad_certificate"))
        script.tls(at: 3, profile: "untrusted_root", .rejects(alert: nil))
        script.tls(at: 4, profile: "untrusted_root", .rejects(alert: "unknown_ca"))
        let verdict = script.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: 4 handshakes under untrusted_root, 4 aborted by the client"
                       + " (alert unknown_ca ×2, alert bad_certificate ×1,"
                       + " no alert (the client closed the connection during the handshake) ×1)")
    }

    func testCompletedHandshakeWithoutDataIsNoViolationButIsReported() {
        // A client that verifies after the handshake (Node does) completes it, then closes
        // before the upstream connected: the close counts as a failed request, not as data.
        var script = EventScript()
        script.tls(at: 1, profile: "wrong_host", .rejects(alert: "bad_certificate"))
        script.tls(at: 2, profile: "wrong_host", .closesAfterHandshake)
        script.tls(at: 3, profile: "wrong_host", .rejects(alert: "bad_certificate"))
        let verdict = script.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: 3 handshakes under wrong_host,"
                       + " 2 aborted by the client (alert bad_certificate ×2), 1 completed but sent no data")

        var quiet = EventScript()
        quiet.tls(at: 1, profile: "expired", .closesAfterHandshake)
        quiet.tls(at: 2, profile: "expired", .closesAfterHandshake)
        // None aborted: `openssl s_client` completes and closes without checking anything, curl
        // checks the host after the handshake; from the network the two look the same.
        XCTAssertEqual(quiet.verdict(rejects(), end: 10).observed,
                       "client_rejects_certificate: 2 handshakes under expired, none aborted by the client: 2 completed but"
                       + " sent no data; a client that completes the handshake and closes may check afterwards or not at all,"
                       + " so this cannot tell")
        XCTAssertEqual(quiet.verdict(rejects(), end: 10).status, .error)
    }

    func testAConnectionClosedBeforeAClientHelloIsNoRejection() {
        // A port probe (a wait-for-port script, a TCP health check) opens and closes.
        var script = EventScript()
        script.tls(at: 1, profile: "expired", .probe)
        let probe = script.verdict(rejects(), end: 10)
        XCTAssertEqual(probe.status, .error)
        XCTAssertEqual(probe.observed, "client_rejects_certificate: 1 handshake under expired, none the client could judge:"
                       + " 1 closed before a ClientHello")

        script.tls(at: 2, profile: "expired", .rejects(alert: "certificate_expired"))
        let judged = script.verdict(rejects(), end: 10)
        XCTAssertEqual(judged.status, .pass)
        XCTAssertEqual(judged.observed, "client_rejects_certificate: 2 handshakes under expired,"
                       + " 1 aborted by the client (alert certificate_expired ×1), 1 closed before a ClientHello")
    }

    // MARK: fail

    func testClientThatSkipsVerificationFailsNamingTheConnection() {
        // Some connections abort, others complete and send: a pool where part of the code
        // passes verify=False.
        var script = EventScript()
        script.tls(at: 0.5, profile: "incomplete_chain", .rejects(alert: "unknown_ca"))
        script.tls(at: 0.8, profile: "incomplete_chain", .rejects(alert: "unknown_ca"))
        script.tls(at: 1.19, profile: "incomplete_chain", .trusts)
        script.tls(at: 2, profile: "incomplete_chain", .rejects(alert: "unknown_ca"))
        script.tls(at: 3, profile: "incomplete_chain", .trusts)
        let verdict = script.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: connection 3 on tracing completed the handshake under"
                       + " incomplete_chain at 1.2s and sent data: the client does not verify certificates (2 of 5 connections)")
    }

    func testCertNoneClientFailsOnItsFirstConnection() {
        var script = EventScript()
        for start in [1.0, 2, 3] { script.tls(at: start, profile: "self_signed", .trusts) }
        let verdict = script.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: connection 1 on tracing completed the handshake under"
                       + " self_signed at 1.01s and sent data: the client does not verify certificates (3 of 3 connections)")
    }

    func testFailureSaysWhatTheProfileShowsOfTheClient() {
        var script = EventScript()
        script.tls(at: 1, profile: "wrong_host", .trusts)
        XCTAssertEqual(script.verdict(rejects(), end: 10).observed,
                       "client_rejects_certificate: connection 1 on tracing completed the handshake under"
                       + " wrong_host at 1.01s and sent data: the client does not check the host name (1 of 1 connection)")
        var weak = EventScript()
        weak.tls(at: 1, profile: "weak_key", .trusts)
        weak.tls(at: 2, profile: "weak_signature", .rejects(alert: "bad_certificate"))
        XCTAssertEqual(weak.verdict(rejects(), end: 10).observed,
                       "client_rejects_certificate: connection 1 on tracing completed the handshake under"
                       + " weak_key at 1.01s and sent data: the client accepts an RSA-1024 key (1 of 2 connections)")
    }

    // MARK: nothing to judge: an error, never a pass

    func testOnlyValidHandshakesAreAnError() {
        var script = EventScript()
        script.tls(at: 1, profile: "valid", .trusts)
        script.tls(at: 2, profile: "valid", .trusts)
        let verdict = script.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .error)
        XCTAssertFalse(verdict.passed)
        XCTAssertEqual(verdict.observed,
                       "client_rejects_certificate: 2 handshakes in scope, all under valid: under valid the client has nothing to reject")
    }

    func testNoTLSHandshakeIsAnError() {
        // Plain TCP on the proxy: it has no tls:.
        var plain = EventScript()
        plain.connection(at: 1, proxy: "tracing", .replied(after: 0.1, closedAfter: 1))
        plain.connection(at: 3, proxy: "tracing", .replied(after: 0.1, closedAfter: 1))
        let verdict = plain.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .error)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: no TLS handshake in scope,"
                       + " though the client opened 2 connections: the proxy may not have tls:")

        // Nobody came.
        var nobody = EventScript()
        nobody.connection(at: 1, proxy: "redis", .replied(after: 0.1, closedAfter: 1))
        let empty = nobody.verdict(rejects(), end: 10)
        XCTAssertEqual(empty.status, .error)
        XCTAssertEqual(empty.observed, "client_rejects_certificate: no TLS handshake in scope: the client never connected")
    }

    func testHandshakesAFaultEndedOrThatWereNotTLSProveNothing() {
        var script = EventScript()
        script.tls(at: 1, profile: "self_signed", .endedByFault("reset-handshake"))
        script.tls(at: 2, profile: "self_signed", .endedByFault("reset-handshake"))
        script.tls(at: 3, profile: "self_signed", .notTLS)
        let verdict = script.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .error)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: 3 handshakes under self_signed, none the client could judge:"
                       + " 2 ended by a fault (reset-handshake ×2), 1 not TLS")

        script.tls(at: 4, profile: "self_signed", .rejects(alert: "unknown_ca"))
        let judged = script.verdict(rejects(), end: 10)
        XCTAssertEqual(judged.status, .pass)
        XCTAssertEqual(judged.observed, "client_rejects_certificate: 4 handshakes under self_signed,"
                       + " 1 aborted by the client (alert unknown_ca ×1), 2 ended by a fault (reset-handshake ×2), 1 not TLS")
    }

    func testAfterAHandshakeDelayOnlyAnAlertShowsTheClientJudgedTheCertificate() {
        // Held by tls.handshake_delay: a client that then closes without an alert may have
        // timed out before it saw the certificate; one that sends an alert judged it.
        var script = EventScript()
        script.tls(at: 1, profile: "expired", .heldByFault("slow", alert: nil))
        script.tls(at: 2, profile: "expired", .heldByFault("slow", alert: "certificate_expired"))
        let verdict = script.verdict(rejects(), end: 10)
        XCTAssertEqual(verdict.status, .pass)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: 2 handshakes under expired,"
                       + " 1 aborted by the client (alert certificate_expired ×1), 1 ended by a fault (slow ×1)")
    }

    func testFalseIsRejected() {
        var script = EventScript()
        script.tls(at: 1, profile: "expired", .trusts)
        let verdict = script.verdict(.scalar("client_rejects_certificate", .flag(false)), end: 10)
        XCTAssertEqual(verdict.status, .error)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: false is not an expectation; write true or remove it")
    }

    // MARK: scope

    func testDuringJudgesOnlyThePhasesHandshakesAndSeesDataAfterItEnds() {
        var script = EventScript()
        script.phase("warmup", from: 0, to: 10)
        script.phase("outage", from: 10, to: 20)
        script.phase("recovery", from: 20, to: nil)
        script.tls(at: 5, profile: "incomplete_chain", .trusts)                              // warmup
        script.tls(at: 12, profile: "incomplete_chain", .rejects(alert: "unknown_ca"))       // outage
        script.tls(at: 15, profile: "incomplete_chain", .rejects(alert: "unknown_ca"))       // outage
        script.tls(at: 25, profile: "incomplete_chain", .trusts)                             // recovery
        let outage = script.verdict(rejects(scope: .during("outage")), end: 30)
        XCTAssertEqual(outage.status, .pass)
        XCTAssertEqual(outage.observed,
                       "client_rejects_certificate: 2 handshakes under incomplete_chain, 2 aborted by the client (alert unknown_ca ×2)")
        XCTAssertEqual(outage.judgedOver, .seconds(10))
        XCTAssertEqual(script.verdict(rejects(scope: .during("warmup")), end: 30).observed,
                       "client_rejects_certificate: connection 1 on tracing completed the handshake under"
                       + " incomplete_chain at 5.01s and sent data: the client does not verify certificates (1 of 1 connection)")
        XCTAssertEqual(script.verdict(rejects(scope: .after("outage")), end: 30).observed,
                       "client_rejects_certificate: connection 4 on tracing completed the handshake under"
                       + " incomplete_chain at 25.01s and sent data: the client does not verify certificates (1 of 1 connection)")

        // A handshake completed in the phase whose data comes only after the phase ended.
        var late = EventScript()
        late.phase("outage", from: 0, to: 10)
        late.tls(at: 9.98, profile: "incomplete_chain", .trusts)
        let verdict = late.verdict(rejects(scope: .during("outage")), end: 20)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: connection 1 on tracing completed the handshake under"
                       + " incomplete_chain at 9.99s and sent data: the client does not verify certificates (1 of 1 connection)")
    }

    func testProxyKeepsProxiesApart() {
        var script = EventScript()
        script.tls(at: 1, proxy: "tracing", profile: "incomplete_chain", .rejects(alert: "unknown_ca"))
        script.tls(at: 2, proxy: "memory", profile: "incomplete_chain", .rejects(alert: "unknown_ca"))
        script.tls(at: 3, proxy: "memory", profile: "incomplete_chain", .trusts)
        let tracing = script.verdict(rejects(proxy: "tracing"), end: 10)
        XCTAssertEqual(tracing.status, .pass)
        XCTAssertEqual(tracing.observed,
                       "client_rejects_certificate: 1 handshake under incomplete_chain, 1 aborted by the client (alert unknown_ca ×1)")
        let memory = script.verdict(rejects(proxy: "memory"), end: 10)
        XCTAssertEqual(memory.status, .fail)
        XCTAssertEqual(memory.observed, "client_rejects_certificate: connection 2 on memory completed the handshake under"
                       + " incomplete_chain at 3.01s and sent data: the client does not verify certificates (1 of 2 connections)")
        XCTAssertEqual(script.verdict(rejects(proxy: nil), end: 10).observed,
                       "client_rejects_certificate: connection 2 on memory completed the handshake under"
                       + " incomplete_chain at 3.01s and sent data: the client does not verify certificates (1 of 3 connections)")
        XCTAssertEqual(script.verdict(rejects(proxy: "redis"), end: 10).observed,
                       "client_rejects_certificate: no TLS handshake in scope: the client never connected")
    }

    func testProfileSwitchingFromValidToExpiredCountsOnlyTheExpiredHandshakes() {
        // Healthy under valid: the client completes and sends, as it should. Then the profile
        // switches to expired; a verifying client aborts from then on.
        var script = EventScript()
        script.phase("healthy", from: 0, to: 10)
        script.phase("expired", from: 10, to: 20)
        for start in [1.0, 4, 7] { script.tls(at: start, profile: "valid", .trusts) }
        for start in [11.0, 14, 17] { script.tls(at: start, profile: "expired", .rejects(alert: "certificate_expired")) }
        let whole = script.verdict(rejects(), end: 20)
        XCTAssertEqual(whole.status, .pass)
        XCTAssertEqual(whole.observed, "client_rejects_certificate: 3 handshakes under expired,"
                       + " 3 aborted by the client (alert certificate_expired ×3)")
        let healthy = script.verdict(rejects(scope: .during("healthy")), end: 20)
        XCTAssertEqual(healthy.status, .error)
        XCTAssertEqual(healthy.observed,
                       "client_rejects_certificate: 3 handshakes in scope, all under valid: under valid the client has nothing to reject")

        // The same run with a client that keeps sending after the switch.
        var careless = EventScript()
        careless.phase("healthy", from: 0, to: 10)
        careless.phase("expired", from: 10, to: 20)
        for start in [1.0, 4, 7] { careless.tls(at: start, profile: "valid", .trusts) }
        careless.tls(at: 11, profile: "expired", .rejects(alert: "certificate_expired"))
        careless.tls(at: 14, profile: "expired", .trusts)
        let verdict = careless.verdict(rejects(), end: 20)
        XCTAssertEqual(verdict.status, .fail)
        XCTAssertEqual(verdict.observed, "client_rejects_certificate: connection 5 on tracing completed the handshake under"
                       + " expired at 14.01s and sent data: the client does not verify certificates (1 of 2 connections)")
    }

    func testSeveralBadProfilesAreNamed() {
        var script = EventScript()
        script.tls(at: 1, profile: "expired", .rejects(alert: "certificate_expired"))
        script.tls(at: 2, profile: "wrong_host", .rejects(alert: "bad_certificate"))
        script.tls(at: 3, profile: "valid", .trusts)
        script.tls(at: 4, profile: "self_signed", .rejects(alert: "unknown_ca"))
        XCTAssertEqual(script.verdict(rejects(), end: 10).observed,
                       "client_rejects_certificate: 3 handshakes under expired, wrong_host and self_signed, 3 aborted by the client"
                       + " (alert certificate_expired ×1, alert bad_certificate ×1, alert unknown_ca ×1)")
    }

    // MARK: facts

    func testHandshakesBecomeFactsAndOnlyRealDataMarksAConnection() {
        var script = EventScript()
        script.tls(at: 1, profile: "incomplete_chain", .rejects(alert: "unknown_ca"))
        script.tls(at: 2, profile: "incomplete_chain", .trusts)
        script.tls(at: 3, profile: "incomplete_chain", .closesAfterHandshake)
        script.tls(at: 4, profile: "incomplete_chain", .endedByFault("reset-handshake"))
        let evaluator = ExpectationEvaluator([])
        script.ordered.forEach(evaluator.observe)
        let tls = evaluator.observedFacts.filter(\.isTLS).map { "\(Figures.seconds($0.time)) #\($0.link ?? 0) \($0.kind)" }
        XCTAssertEqual(tls, [
            #"1.01s #1 tlsHandshake(profile: "incomplete_chain", completed: false, alert: Optional("unknown_ca"), reason: Optional("the client sent alert unknown_ca"), fault: nil)"#,
            #"2.01s #2 tlsHandshake(profile: "incomplete_chain", completed: true, alert: nil, reason: nil, fault: nil)"#,
            #"2.03s #2 tlsData(profile: "incomplete_chain")"#,
            #"3.01s #3 tlsHandshake(profile: "incomplete_chain", completed: true, alert: nil, reason: nil, fault: nil)"#,
            #"4.01s #4 tlsHandshake(profile: "incomplete_chain", completed: false, alert: nil, reason: Optional("fault reset-handshake reset the connection after the ClientHello"), fault: Optional("reset-handshake"))"#,
        ])
        XCTAssertTrue(evaluator.observedFacts.filter(\.isTLS).allSatisfy { !$0.isTraffic && !$0.isRequest && !$0.isAttempt })
    }

    func testHandshakesChangeNoCountOrTiming() {
        // An aborted handshake is still one attempt and one failed request (the connection
        // ends before the upstream connected); a completed one adds nothing to its exchanges.
        var script = EventScript()
        script.tls(at: 1, profile: "incomplete_chain", .rejects(alert: "unknown_ca"))
        script.tls(at: 2, profile: "incomplete_chain", .rejects(alert: nil))
        script.tls(at: 3, profile: "incomplete_chain", .trusts)
        script.tls(at: 4, profile: "incomplete_chain", .closesAfterHandshake)
        let verdicts = script.verdicts([
            .scalar("max_connection_attempts", .number(4)),
            .scalar("max_requests", .number(4)),
            ExpectationSpec(kind: "quiet_after_failures", parameters: ["failures": .number(2), "quiet": .duration(.milliseconds(500))]),
            .scalar("first_success_within", .duration(.seconds(5))),
        ], end: 10)
        XCTAssertEqual(verdicts.map(\.observed), [
            "max_connection_attempts 4 ≤ 4",
            "max_requests 4 ≤ 4",
            "quiet_after_failures: 2 failures then quiet for 990ms ≥ 500ms",
            "first_success_within 3.05s ≤ 5s",
        ])
        let evaluator = ExpectationEvaluator([])
        script.ordered.forEach(evaluator.observe)
        let traffic = evaluator.observedFacts.filter { !$0.isTLS }.map { "\(Figures.seconds($0.time)) #\($0.link ?? 0) \($0.kind)" }
        XCTAssertEqual(traffic, [
            "1.0s #1 attempt", "1.01s #1 request(detail: nil)",
            #"1.01s #1 failure(reason: "closed before the upstream connected")"#,
            "2.0s #2 attempt", "2.01s #2 request(detail: nil)",
            #"2.01s #2 failure(reason: "closed before the upstream connected")"#,
            "3.0s #3 attempt", "3.03s #3 request(detail: nil)", "3.05s #3 success",
            "4.0s #4 attempt", "4.02s #4 request(detail: nil)",
            #"4.02s #4 failure(reason: "closed before the upstream connected")"#,
        ])
    }
}

// MARK: - TLS connections as a terminating proxy reports them

extension EventScript {
    /// What the client does when it meets the certificate.
    enum TLSClient {
        /// Aborts the handshake, sending `alert` (nil: it just closes).
        case rejects(alert: String?)
        /// Completes the handshake and sends a request, which is answered: verification off.
        case trusts
        /// Completes the handshake, then closes without sending (it verifies afterwards).
        case closesAfterHandshake
        /// The proxy's `tls.reset_handshake` fault named so resets the handshake.
        case endedByFault(String)
        /// The proxy's `tls.handshake_delay` fault named so holds the handshake; the client
        /// then aborts with `alert` (nil: it gives up and closes).
        case heldByFault(String, alert: String?)
        /// Speaks something other than TLS.
        case notTLS
        /// Connects and closes without a ClientHello (a port probe).
        case probe
    }

    /// A client connection at `start` to a proxy terminating TLS under `profile`, with the
    /// events and reasons `Link+TLS` emits: the handshake ends 10 ms later; the upstream is
    /// connected only after a completed handshake.
    @discardableResult
    mutating func tls(at start: Double, proxy: String = "tracing", profile: String, _ client: TLSClient) -> UInt64 {
        let link = open(at: start, proxy: proxy)
        let handshake = start + 0.01
        func failed(_ reason: String, alert: String?, reset: Bool = false) {
            at(handshake, .tlsHandshakeFailed(profile: profile, reason: reason, alert: alert), proxy: proxy, link: link)
            at(handshake, .connectionClosed(bytesUp: 200, bytesDown: 0, reset: reset), proxy: proxy, link: link)
        }
        func aborts(_ alert: String?) {
            failed(alert.map { "the client sent alert \($0)" } ?? "the client closed the connection during the handshake",
                   alert: alert)
        }
        func completed() {
            at(handshake, .tlsHandshakeCompleted(profile: profile, version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384",
                                                 sni: "localhost", alpn: nil), proxy: proxy, link: link)
        }
        switch client {
        case .rejects(let alert):
            aborts(alert)
        case .trusts:
            completed()
            at(start + 0.02, .upstreamConnected, proxy: proxy, link: link)
            at(start + 0.03, .exchangeStarted, proxy: proxy, link: link)
            at(start + 0.05, .exchangeAnswered, proxy: proxy, link: link)
            at(start + 0.5, .connectionClosed(bytesUp: 300, bytesDown: 900, reset: false), proxy: proxy, link: link)
        case .closesAfterHandshake:
            completed()
            at(start + 0.02, .connectionClosed(bytesUp: 250, bytesDown: 0, reset: false), proxy: proxy, link: link)
        case .endedByFault(let name):
            at(handshake, .faultFired(name: name, kind: "tls.reset_handshake", action: "reset"), proxy: proxy, link: link)
            failed("fault \(name) reset the connection after the ClientHello", alert: nil, reset: true)
        case .heldByFault(let name, let alert):
            at(start + 0.005, .faultFired(name: name, kind: "tls.handshake_delay", action: "delayed"), proxy: proxy, link: link)
            aborts(alert)
        case .notTLS:
            failed("not TLS (wrong version number)", alert: nil)
        case .probe:
            failed("no ClientHello: the client closed the connection before its ClientHello was complete", alert: nil)
        }
        return link
    }
}
