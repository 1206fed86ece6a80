import Faultline
import XCTest

/// Scenario files with `protocol: redis`: `match:` and `commands:` on redis faults, the
/// expectations that count Redis commands, and every mistake's exact `file:line:col: message`.
final class RedisScenarioTests: XCTestCase {
    /// A Redis proxy `cache` and a TCP proxy `plain`; the fault entries under test replace
    /// `FAULTS` and start at line 13, their `LAYER.KIND` key at column 9.
    private static let template = """
        proxies:
          cache:
            listen: 127.0.0.1:16379
            upstream: 127.0.0.1:6379
            protocol: redis
          plain:
            listen: 127.0.0.1:16380
            upstream: 127.0.0.1:6380
        timeline:
          - phase: outage
            for: 5s
            faults:
        FAULTS

        """

    private func yaml(_ faults: String) -> String {
        Self.template.replacingOccurrences(of: "FAULTS", with: faults)
    }

    private func errors(_ yaml: String) -> [String] { InputCheck.errors(yaml) }

    private func faults(_ entries: String) throws -> [Fault] {
        try ScenarioLoader.load(yaml: yaml(entries), file: "s.yaml").timeline[0].faults.map(\.fault)
    }

    // MARK: match and commands

    func testMatchLoadsIntoCommandsAndKeys() throws {
        let scenario = try ScenarioLoader.load(yaml: yaml("""
                  - redis.error:
                      proxy: cache
                      error: LOADING
                      match: {commands: [GET, SET], keys: "session:*"}
                  - redis.reject_auth: { proxy: cache, first: 3 }
            """), file: "s.yaml")
        XCTAssertEqual(scenario.proxy(named: "cache")?.protocol, .redis)
        XCTAssertEqual(scenario.proxy(named: "plain")?.protocol, .tcp)
        let faults = scenario.timeline[0].faults
        XCTAssertEqual(faults.map(\.proxy), ["cache", "cache"])
        XCTAssertEqual(faults[0].fault.kind.name, "redis.error")
        XCTAssertEqual(faults[0].fault.values, [
            "error": .word("LOADING"), "commands": .word("GET SET"), "keys": .word("session:*"),
        ])
        XCTAssertEqual(faults[0].position, SourcePosition(line: 13, column: 9))
        XCTAssertEqual(faults[1].fault.name, "redis.reject_auth")
        XCTAssertEqual(faults[1].fault.first, 3)
        XCTAssertEqual(faults[1].fault.values, ["error": .word("NOAUTH"), "per": .word("proxy")])
    }

    func testCommandsWithoutMatch() throws {
        XCTAssertEqual(try faults("      - redis.hang: { proxy: cache, commands: GET }")[0].values["commands"], .word("GET"))
        XCTAssertEqual(try faults("      - redis.hang: { proxy: cache, commands: \"GET|SET\" }")[0].values["commands"], .word("GET SET"))
        XCTAssertEqual(try faults("      - redis.hang: { proxy: cache, commands: [blpop] }")[0].values["commands"], .word("blpop"))
        XCTAssertEqual(try faults("      - redis.close: { proxy: cache, commands: [GET, SET], keys: \"user:*\", how: rst }")[0].values,
                       ["commands": .word("GET SET"), "keys": .word("user:*"), "how": .word("rst")])
        XCTAssertEqual(try faults("      - redis.delay: { proxy: cache, delay: 250ms, match: { keys: \"q:*\" } }")[0].values,
                       ["delay": .duration(.milliseconds(250)), "keys": .word("q:*")])
    }

    func testAnEmptyCommandListIsRefused() {
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, commands: [] }")), [
            "s.yaml:13:47: commands: expected a list such as [GET, SET], found an empty list",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, match: { commands: [] } }")), [
            "s.yaml:13:56: commands: expected a list such as [GET, SET], found an empty list",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, commands: [GET, [SET]] }")), [
            "s.yaml:13:53: commands: expected a word such as GET, found a list",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, commands: \"\" }")), [
            "s.yaml:13:47: commands: expected a list such as [GET, SET], found an empty text",
        ])
    }

    func testAMisspeltMatchKeySuggestsTheRightOne() {
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, match: {command: GET} }")), [
            "s.yaml:13:45: match has no key 'command' (did you mean 'commands'?)",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang:\n          proxy: cache\n          match:\n            key: \"a:*\"")), [
            "s.yaml:16:13: match has no key 'key' (did you mean 'keys'?)",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, match: {error: LOADING} }")), [
            "s.yaml:13:45: match has no key 'error'; expected commands or keys",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, match: GET }")), [
            "s.yaml:13:44: match: expected a mapping such as { commands: [GET], keys: \"session:*\" }, found 'GET'",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, match: }")), [
            "s.yaml:13:44: match: expected a mapping such as { commands: [GET], keys: \"session:*\" }, found nothing",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, match: [GET] }")), [
            "s.yaml:13:44: match: expected a mapping such as { commands: [GET], keys: \"session:*\" }, found a list",
        ])
    }

    func testMatchOnAFaultWithoutCommandsIsRefused() {
        XCTAssertEqual(errors(yaml("      - tcp.latency: { proxy: cache, ms: 10, match: {commands: [GET]} }")), [
            "s.yaml:13:46: tcp.latency has no parameter 'match'; expected ms, jitter, name, direction, probability, first, every or proxy",
        ])
        XCTAssertEqual(errors(yaml("      - redis.reject_auth: { proxy: cache, match: {commands: [AUTH]} }")), [
            "s.yaml:13:44: redis.reject_auth has no parameter 'match'; expected error, per, name, direction, probability, first, every or proxy",
        ])
        XCTAssertEqual(errors(yaml("      - redis.max_clients: { proxy: cache, match: {commands: [GET]} }")), [
            "s.yaml:13:44: redis.max_clients has no parameter 'match'; expected name, direction, probability, first, every or proxy",
        ])
    }

    func testAParameterBesideAndUnderMatchIsRefused() {
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, commands: GET, match: {commands: SET} }")), [
            "s.yaml:13:60: redis.hang: 'commands' is given twice (beside and under match:)",
        ])
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache, keys: \"a:*\", match: {keys: \"b:*\"} }")), [
            "s.yaml:13:58: redis.hang: 'keys' is given twice (beside and under match:)",
        ])
    }

    func testFaultParameterMistakesInAScenario() {
        XCTAssertEqual(errors(yaml("      - redis.error: { proxy: cache }")), [
            "s.yaml:13:9: missing parameter 'error' (required by redis.error)",
        ])
        XCTAssertEqual(errors(yaml("      - redis.error: { proxy: cache, error: MOVED, to: bad }")), [
            "s.yaml:13:56: redis.error parameter 'to': 'bad' is not host:port with a port from 1 to 65535",
        ])
        XCTAssertEqual(errors(yaml("      - redis.error: { proxy: cache, error: LOADING, to: \"h:1\" }")), [
            "s.yaml:13:58: redis.error parameter 'to': only goes with error=MOVED or error=ASK",
        ])
        XCTAssertEqual(errors(yaml("      - redis.error: { proxy: cache, error: \"ERR a\\nb\" }")), [
            "s.yaml:13:45: redis.error parameter 'error': 'ERR a\nb' holds a line break; an error reply is one line",
        ])
    }

    // MARK: protocols

    func testRedisFaultsNeedARedisProxy() {
        XCTAssertEqual(errors(yaml("      - redis.error: { proxy: plain, error: LOADING }")), [
            "s.yaml:13:9: redis.error needs a proxy with protocol: redis; proxy 'plain' speaks tcp",
        ])
        XCTAssertEqual(errors(yaml("      - redis.max_clients: { proxy: plain }")), [
            "s.yaml:13:9: redis.max_clients needs a proxy with protocol: redis; proxy 'plain' speaks tcp",
        ])
        XCTAssertEqual(errors(yaml("      - tcp.latency: { proxy: cache, ms: 10 }")), [], "a redis proxy takes tcp.* faults too")
    }

    func testRedisFaultsNeedARedisProxyEvenOnHTTP() {
        let http = Self.template.replacingOccurrences(of: "    protocol: redis", with: "    protocol: http")
            .replacingOccurrences(of: "FAULTS", with: "      - redis.error: { proxy: cache, error: LOADING }")
        XCTAssertEqual(errors(http), ["s.yaml:13:9: redis.error needs a proxy with protocol: redis; proxy 'cache' speaks http"])
        XCTAssertEqual(ProxyProtocol.available, [.tcp, .redis, .http])
        XCTAssertEqual(try ProxyProtocol.parse("redis"), .redis)
    }

    // MARK: expectations

    func testRedisExpectationsLoad() throws {
        let scenario = try ScenarioLoader.load(yaml: yaml("      - redis.reject_auth: { proxy: cache, first: 3 }") + """
            expect:
              - during: outage
                proxy: cache
                max_auth_attempts: 4
              - proxy: cache
                max_requests: {limit: 3, command: AUTH}
              - proxy: cache
                no_request: {command: FLUSHALL}
              - proxy: cache
                max_requests: {limit: 10, match: "GET session:*"}
            """, file: "s.yaml")
        XCTAssertEqual(scenario.expectationSpecs, [
            ExpectationSpec(kind: "max_auth_attempts", proxy: "cache", scope: .during("outage"), parameters: ["limit": .number(4)]),
            ExpectationSpec(kind: "max_requests", proxy: "cache", scope: .whole,
                            parameters: ["limit": .number(3), "command": .text("AUTH")]),
            ExpectationSpec(kind: "no_request", proxy: "cache", scope: .whole, parameters: ["command": .text("FLUSHALL")]),
            ExpectationSpec(kind: "max_requests", proxy: "cache", scope: .whole,
                            parameters: ["limit": .number(10), "match": .text("GET session:*")]),
        ])
        XCTAssertEqual(scenario.expectations[0].parameterPositions, ["limit": SourcePosition(line: 17, column: 24)])
        XCTAssertEqual(scenario.expectations[1].parameterPositions["command"], SourcePosition(line: 19, column: 39))
        XCTAssertEqual(scenario.expectationSpecs.map(\.label), [
            "max_auth_attempts: 4 (during: outage, proxy: cache)",
            #"max_requests: {limit: 3, command: "AUTH"} (proxy: cache)"#,
            #"no_request: {command: "FLUSHALL"} (proxy: cache)"#,
            #"max_requests: {limit: 10, match: "GET session:*"} (proxy: cache)"#,
        ])
    }

    func testRedisExpectationMistakes() {
        XCTAssertEqual(errors(yaml("      - redis.hang: { proxy: cache }") + """
            expect:
              - { proxy: cache, max_auth_attempts: many }
              - { proxy: cache, max_requests: {limit: 3, comand: AUTH} }
              - { proxy: cache, no_request: {command: [AUTH]} }
            """), [
            "s.yaml:15:40: max_auth_attempts: expected a whole number ≥ 0 such as 4, found 'many'",
            "s.yaml:16:46: max_requests has no parameter 'comand' (did you mean 'command'?)",
            "s.yaml:17:43: command: expected a text such as AUTH, found a list",
        ])
    }
}
