@testable import Faultline
import XCTest

/// Bugs the first unit tests of the Redis layer found, each kept as the case that showed it.
final class RedisRegressionTests: XCTestCase {
    private func message(_ text: String) -> String { InputCheck.faultMessage(text) }

    private func errors(_ yaml: String) -> [String] { InputCheck.errors(yaml) }

    private static let head = """
        proxies:
          cache:
            listen: 127.0.0.1:16379
            upstream: 127.0.0.1:6379
            protocol: redis
        timeline:
          - phase: outage
            for: 5s
            faults:

        """

    /// Bug 1: a CR LF pair is one Swift Character ("\r\n"), equal to neither "\r" nor "\n".
    func testCRLFInAnErrorTextIsRefused() {
        XCTAssertNotNil(RedisErrorText.problem(with: "ERR a\r\nb"))
        XCTAssertEqual(message("redis.reject_auth:error=NOAUTH\r\n+OK"),
                       "invalid fault 'redis.reject_auth': parameter 'error': 'NOAUTH\r\n+OK' holds a line break; an error reply is one line")
        XCTAssertEqual(errors(Self.head + "      - redis.error: { proxy: cache, error: \"ERR a\\r\\nb\" }\n"), [
            "s.yaml:10:45: redis.error parameter 'error': 'ERR a\r\nb' holds a line break; an error reply is one line",
        ])
    }

    /// Bug 2: reject_auth takes error=MOVED/ASK without a node: it would answer AUTH with
    /// "-MOVED 0 \r\n".
    func testRejectAuthRefusesARedirection() throws {
        XCTAssertNotEqual(message("redis.reject_auth:error=MOVED"), "no error")
        XCTAssertNotEqual(message("redis.reject_auth:error=ask"), "no error")
    }

    /// Bug 3: the scenario loader turns "is required by error=MOVED: …" into "(required by redis.error)".
    func testMissingNodeNamesTheRedirectionInAScenario() {
        XCTAssertEqual(errors(Self.head + "      - redis.error: { proxy: cache, error: MOVED }\n"), [
            "s.yaml:10:9: missing parameter 'to' (required by error=MOVED: the host:port the client is sent to)",
        ])
    }

    /// Bug 4: `HELLO 3 SETNAME AUTH` names the client "AUTH"; it carries no credentials.
    func testHelloWithAClientNamedAUTHDoesNotAuthenticate() {
        let command = RedisRuleMatchTests.command(["HELLO", "3", "SETNAME", "AUTH"])
        XCTAssertEqual(RedisCommandRole.of(command), .hello(version: 3, auth: false))
    }

    /// Bug 5: `match: {}` — no error, and the fault silently left out?
    func testAnEmptyMatchIsReported() throws {
        let yaml = Self.head + "      - redis.hang: { proxy: cache, match: {} }\n"
        let issues = errors(yaml)
        if issues.isEmpty {
            let scenario = try ScenarioLoader.load(yaml: yaml, file: "s.yaml")
            XCTFail("loaded with \(scenario.timeline[0].faults.count) faults and no error")
        }
    }

    /// Bug 6: a connection to a redis proxy that never reached its upstream (redis.max_clients,
    /// tcp.down, upstream unreachable) becomes an opaque TCP request, and max_auth_attempts
    /// then is an error verdict on a protocol: redis proxy.
    func testAConnectionTurnedAwayIsNoOpaqueRequestOnARedisProxy() {
        var script = EventScript()
        let first = script.open(at: 0)
        script.at(0, .upstreamConnected, link: first)
        script.at(0.1, .requestStarted(detail: "AUTH"), link: first)
        script.at(0.2, .requestAnswered(error: "NOAUTH", byFaultline: true, latency: .milliseconds(100), handshake: true), link: first)
        script.at(0.3, .connectionClosed(bytesUp: 1, bytesDown: 1, reset: false), link: first)
        let second = script.open(at: 1)
        script.at(1, .faultFired(name: "redis.max_clients", kind: "redis.max_clients", action: "rejected"), link: second)
        script.at(1, .connectionClosed(bytesUp: 0, bytesDown: 40, reset: false), link: second)
        let verdicts = script.verdicts([
            .scalar("max_auth_attempts", .number(4)),
            ExpectationSpec(kind: "no_request", parameters: ["command": .text("FLUSHALL")]),
        ], end: 2, extractor: TCPFactExtractor(protocolProxies: ["redis"]))
        XCTAssertEqual(verdicts[0].status, .pass, verdicts[0].observed)
        XCTAssertEqual(verdicts[0].observed, "max_auth_attempts 1 ≤ 4")
        XCTAssertEqual(verdicts[1].status, .pass, verdicts[1].observed)
    }

    // MARK: found by a new user's trial

    /// The key of LMPOP, BLMPOP, ZUNIONSTORE, XINFO, BITOP, SPUBLISH is where Redis's key specs
    /// put it (LMPOP's slot came from its count "2"); keyless commands are never redirected.
    func testRedirectionsUseTheRealKeyAndSkipKeylessCommands() throws {
        let slot = RedisKeySlot.slot(of: ArraySlice(Array("alpha".utf8)))
        XCTAssertEqual(slot, 865)
        let cases: [[String]] = [["LMPOP", "2", "alpha", "beta", "LEFT"], ["BLMPOP", "0", "2", "alpha", "beta", "LEFT"],
                                 ["ZUNIONSTORE", "alpha", "2", "b", "c"], ["XINFO", "STREAM", "alpha"],
                                 ["BITOP", "AND", "alpha", "b"], ["SPUBLISH", "alpha", "m"], ["SINTERCARD", "1", "alpha"]]
        for words in cases {
            let command = RedisRuleMatchTests.command(words)
            let key = RedisCommandKeys.indexes(of: command, name: words[0]).first.flatMap { command.argument($0) }
            XCTAssertEqual(key.map { String(decoding: $0, as: UTF8.self) }, "alpha", "\(words)")
        }
        for keyless in [["PING"], ["DBSIZE"], ["MULTI"], ["SUBSCRIBE", "a"]] {
            let command = RedisRuleMatchTests.command(keyless)
            XCTAssertNil(RedisCommandKeys.indexes(of: command, name: keyless[0]).first, "\(keyless)")
        }
    }

    /// LOADING without commands spares the transaction commands (an EXEC faultline answered
    /// left Redis inside MULTI); EXEC cannot be listed.
    func testRedisErrorSparesTransactionCommands() throws {
        let rule = try XCTUnwrap(RedisRule(try Fault(parsing: FaultSpec(parsing: "redis.error:error=LOADING"))))
        for spared in [["EXEC"], ["MULTI"], ["DISCARD"], ["WATCH", "a"], ["UNWATCH"]] {
            let command = RedisRuleMatchTests.command(spared)
            XCTAssertFalse(rule.matches(command, role: RedisCommandRole.of(command)), "\(spared)")
        }
        let get = RedisRuleMatchTests.command(["GET", "a"])
        XCTAssertTrue(rule.matches(get, role: .plain))
        XCTAssertEqual(message("redis.error:error=LOADING,commands=GET|exec"),
                       "invalid fault 'redis.error': parameter 'commands': EXEC cannot be answered by faultline: Redis would stay "
                       + "inside the transaction (fault the commands inside it instead: they are answered in place of QUEUED)")
    }

    /// `-ERR x`, as on the wire: the dash is the reply's type.
    func testALeadingDashIsTheReplyTypeNotTheText() {
        XCTAssertEqual(RedisErrorText.text(for: "-ERR dash"), "ERR dash")
    }
}
