@testable import Faultline
import XCTest

/// Every kind of mistake gives its exact `file:line:col: message`, and a file with several
/// mistakes gives all of them in document order.
final class ScenarioErrorTests: XCTestCase {
    /// A valid scenario's head: two proxies and two phases, for the snippets below to add to.
    /// Lines 1–10; anything appended starts at line 11.
    private static let head = """
        proxies:
          redis:
            listen: 127.0.0.1:16379
            upstream: 127.0.0.1:6379
          api:
            listen: 127.0.0.1:18080
            upstream: 127.0.0.1:8080
        timeline:
          - { phase: healthy, for: 5s }
          - { phase: outage, for: 30s }

        """

    private func errors(_ yaml: String, file: String = "s.yaml") -> [String] {
        do {
            _ = try ScenarioLoader.load(yaml: yaml, file: file)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    func testUnknownKeysSuggestTheClosest() {
        XCTAssertEqual(errors("proxies: {}\ntimelin: []\n"), [
            "s.yaml:1:1: proxies: expected at least one proxy",
            "s.yaml:1:1: missing key 'timeline' (the phases to play, in order)",
            "s.yaml:2:1: unknown key 'timelin' in the scenario (did you mean 'timeline'?)",
        ])
        XCTAssertEqual(errors(Self.head + "colour: blue\n"), [
            "s.yaml:11:1: unknown key 'colour' in the scenario; expected name, description, seed, proxies, timeline, faults or expect",
        ])
        XCTAssertEqual(errors(Self.head.replacingOccurrences(of: "    upstream: 127.0.0.1:8080", with: "    upstrem: 127.0.0.1:8080")), [
            "s.yaml:5:3: missing key 'upstream' (where the proxy forwards, e.g. 127.0.0.1:6379)",
            "s.yaml:7:5: unknown key 'upstrem' in proxy 'api' (did you mean 'upstream'?)",
        ])
        XCTAssertEqual(errors(Self.head + "  - { phase: late, for: 1s, fualts: [] }\n"), [
            "s.yaml:11:29: unknown key 'fualts' in phase 'late' (did you mean 'faults'?)",
        ])
    }

    func testWrongTypes() {
        XCTAssertEqual(errors("- a\n"), ["s.yaml:1:1: scenario: expected a mapping with proxies and timeline, found a list"])
        XCTAssertEqual(errors("proxies: [redis]\ntimeline: healthy\n"), [
            "s.yaml:1:10: proxies: expected a mapping of proxy names to proxies, found a list",
            "s.yaml:2:11: timeline: expected a list of phases, found 'healthy'",
        ])
        XCTAssertEqual(errors(Self.head + "seed: lucky\nfaults: { tcp.latency: {} }\n"), [
            "s.yaml:11:7: seed: expected a whole number ≥ 0, found 'lucky'",
            "s.yaml:12:9: faults: expected a list of fault entries such as - tcp.latency: { ms: 100 }, found a mapping",
        ])
        XCTAssertEqual(errors(Self.head + "  - phase: [x]\n    for: {}\n"), [
            "s.yaml:11:12: phase: expected a text, found a list",
            "s.yaml:12:10: for: expected a duration such as 250ms, 2s or 1m, found a mapping",
        ])
    }

    func testCountsAreWholeNumbers() {
        let yaml = Self.head + "expect:\n  - max_connection_attempts: 6.5\n  - quiet_after_failures: { failures: 2.5, quiet: 1s }\n  - max_rate: 2.5\n"
        XCTAssertEqual(errors(yaml), [
            "s.yaml:12:30: max_connection_attempts: expected a whole number ≥ 0 such as 6, found '6.5'",
            "s.yaml:13:39: failures: expected a whole number ≥ 1 such as 5, found '2.5'",
        ])
    }

    func testWrongTypesInsideEntries() {
        let yaml = Self.head
            .replacingOccurrences(of: "  api:\n    listen: 127.0.0.1:18080\n    upstream: 127.0.0.1:8080\n", with: "  api: 127.0.0.1:18080\n")
            .replacingOccurrences(of: "    upstream: 127.0.0.1:6379\n", with: "    upstream: 127.0.0.1:6379\n    protocol: [tcp]\n")
        XCTAssertEqual(errors(yaml + "  - { phase: \"\", for: 1s, faults: [{}, tcp.down] }\nexpect: [max_rate]\n"), [
            "s.yaml:5:15: protocol: expected tcp, redis or http, found a list",
            "s.yaml:6:8: proxy 'api': expected a mapping with listen and upstream, found '127.0.0.1:18080'",
            "s.yaml:10:14: phase: expected a text, found an empty text",
            "s.yaml:10:36: a fault: expected a fault entry LAYER.KIND: {params}, found an empty mapping",
            "s.yaml:10:40: a fault: expected a fault entry LAYER.KIND: {params}, found 'tcp.down'",
            "s.yaml:11:10: expect: expected an expectation such as { during: outage, max_rate: 10 }, found 'max_rate'",
        ])
    }

    func testBadDurationsAndAddresses() {
        XCTAssertEqual(errors(Self.head + "  - { phase: a, for: 5 }\n  - { phase: b, for: soon }\n  - { phase: c, for: 0s }\n"), [
            "s.yaml:11:22: for: expected a duration such as 250ms, 2s or 1m, found '5' (add a unit, e.g. 5s)",
            "s.yaml:12:22: for: expected a duration such as 250ms, 2s or 1m, found 'soon'",
            "s.yaml:13:22: for: expected a duration above 0",
        ])
        let addresses = Self.head
            .replacingOccurrences(of: "listen: 127.0.0.1:16379", with: "listen: 127.0.0.1:99999")
            .replacingOccurrences(of: "upstream: 127.0.0.1:8080", with: "upstream: ::1:8080")
        XCTAssertEqual(errors(addresses), [
            "s.yaml:3:13: listen: invalid address '127.0.0.1:99999': port '99999' is not a number from 0 to 65535",
            "s.yaml:7:15: upstream: invalid address '::1:8080': write IPv6 addresses in brackets, as [::1]:port",
        ])
        let clash = Self.head.replacingOccurrences(of: "127.0.0.1:18080", with: "127.0.0.1:16379")
        XCTAssertEqual(errors(clash), ["s.yaml:6:13: listen: 127.0.0.1:16379 is already where proxy 'redis' listens"])
        XCTAssertEqual(errors(Self.head.replacingOccurrences(of: "  api:\n", with: "  api:\n    protocol: resp\n")), [
            "s.yaml:6:15: protocol: 'resp' is not a protocol; expected tcp, redis or http",
        ])
    }

    func testUnknownProxiesAndPhases() {
        XCTAssertEqual(errors(Self.head + """
            faults:
              - tcp.latency: { proxy: redsi, ms: 10 }
              - tcp.latency: { ms: 10 }
            expect:
              - { during: outgae, proxy: redis, max_rate: 1 }
              - { after: nowhere, proxy: db, max_rate: 1 }
            """), [
            "s.yaml:12:27: unknown proxy 'redsi' (did you mean 'redis'?)",
            "s.yaml:13:5: missing key 'proxy' (the scenario has 2 proxies: redis and api)",
            "s.yaml:15:15: during: unknown phase 'outgae' (did you mean 'outage'?)",
            "s.yaml:16:14: after: unknown phase 'nowhere'; expected healthy or outage",
            "s.yaml:16:30: unknown proxy 'db'; expected redis or api",
        ])
    }

    func testFaultKindsAndParameters() {
        XCTAssertEqual(errors(Self.head + """
            faults:
              - tcp.latncy: { proxy: redis }
              - redis.latency: { proxy: redis }
              - tcp.latency: { proxy: redis, jiter: 5, ms: fast, probability: 2 }
              - tcp.limit_data: { proxy: api }
              - tcp.cutoff: { proxy: api, how: fin }
              - tcp.latency: [10]
              - tcp.down: {}
                mode: reset
            """), [
            "s.yaml:12:5: unknown fault kind 'tcp.latncy' (did you mean 'tcp.latency'?)",
            "s.yaml:13:5: unknown fault kind 'redis.latency' (did you mean 'tcp.latency'?)",
            "s.yaml:14:34: tcp.latency has no parameter 'jiter' (did you mean 'jitter'?)",
            "s.yaml:14:48: tcp.latency parameter 'ms': 'fast' is not a duration such as 250ms or 2s",
            "s.yaml:14:67: tcp.latency parameter 'probability': '2' is out of range: probabilities go from 0 to 1",
            "s.yaml:15:5: missing parameter 'bytes' (required by tcp.limit_data)",
            "s.yaml:16:5: tcp.cutoff needs after or idle (or both) above 0",
            "s.yaml:17:18: tcp.latency: expected a mapping of parameters such as { ms: 100 }, found a list",
            "s.yaml:18:5: missing key 'proxy' (the scenario has 2 proxies: redis and api)",
            "s.yaml:19:5: 'mode' is beside 'tcp.down': indent it under 'tcp.down' to make it a parameter",
        ])
    }

    func testDuplicateNames() {
        XCTAssertEqual(errors("""
            proxies:
              redis: { listen: 127.0.0.1:16379, upstream: 127.0.0.1:6379 }
              redis: { listen: 127.0.0.1:16380, upstream: 127.0.0.1:6380 }
            timeline:
              - phase: outage
                for: 1s
                faults:
                  - tcp.latency: { ms: 1 }
                  - tcp.latency: { ms: 2 }
                  - tcp.latency: { ms: 3, name: slow }
              - { phase: outage, for: 2s, for: 3s }
            faults:
              - tcp.latency: { ms: 4, name: slow }
            """), [
            "s.yaml:3:3: duplicate key 'redis' (first at 2:3)",
            "s.yaml:9:9: duplicate fault name 'tcp.latency_downstream' on proxy 'redis' (first at 8:9); give one of them a name:",
            "s.yaml:11:14: duplicate phase name 'outage' (first at 5:12)",
            "s.yaml:11:31: duplicate key 'for' (first at 11:22)",
            "s.yaml:13:5: duplicate fault name 'slow' on proxy 'redis' (first at 10:9); give one of them a name:",
        ])
    }

    /// A repeated key the composer cannot find again (written with an escape) is reported
    /// at its first occurrence; nothing else can be checked then.
    func testDuplicateKeyThatCannotBeLocated() {
        XCTAssertEqual(errors("proxies:\n  redis: {}\n  \"re\\x64is\": {}\n"), [
            "s.yaml:2:3: key 'redis' is given more than once in this mapping",
        ])
    }

    func testEmptyOrMissingTimelineAndEmptyFile() {
        XCTAssertEqual(errors(""), ["s.yaml:1:1: the file is empty: a scenario needs at least proxies and timeline"])
        XCTAssertEqual(errors("# nothing yet\n"), ["s.yaml:1:1: the file is empty: a scenario needs at least proxies and timeline"])
        XCTAssertEqual(errors("proxies: { a: { listen: 127.0.0.1:1, upstream: 127.0.0.1:2 } }\ntimeline:\n"), [
            "s.yaml:2:1: timeline: expected at least one phase, such as - phase: outage, for: 30s",
        ])
        XCTAssertEqual(errors("proxies: { a: { listen: 127.0.0.1:1, upstream: 127.0.0.1:2 } }\n"), [
            "s.yaml:1:1: missing key 'timeline' (the phases to play, in order)",
        ])
        XCTAssertEqual(errors("proxies: { a: { listen: 127.0.0.1:1, upstream: 127.0.0.1:2 } }\ntimeline: [{ for: 1s }]\n"), [
            "s.yaml:2:12: missing key 'phase' (the phase's name)",
        ])
    }

    func testExpectations() {
        XCTAssertEqual(errors(Self.head + """
            expect:
              - { proxy: redis, max_connection_attempts: many }
              - { proxy: redis, max_rat: 10 }
              - { proxy: redis }
              - { during: healthy, after: outage, backoff: yes }
              - { proxy: redis, quiet_after_failures: 5 }
              - { proxy: redis, quiet_after_failures: { failures: 5 } }
              - { proxy: redis, probe_after: { quiet: 30, within: 5s, after: 1s } }
              - { proxy: redis, max_rate: 5, backoff: true }
              - { proxy: redis, first_success_within: 10s, within: 5s }
            """), [
            "s.yaml:12:46: max_connection_attempts: expected a whole number ≥ 0 such as 6, found 'many'",
            "s.yaml:13:21: unknown key 'max_rat' in an expectation (did you mean 'max_rate'?)",
            "s.yaml:14:5: missing check: an expectation needs one of max_connection_attempts, max_requests, max_auth_attempts, max_rate, "
                + "backoff, quiet_after_failures, probe_after, first_success_within, no_request or client_rejects_certificate",
            "s.yaml:15:24: an expectation takes during: or after:, not both",
            "s.yaml:15:48: backoff: expected true or false, found 'yes'",
            "s.yaml:16:43: quiet_after_failures: expected a mapping such as {failures: 5, quiet: 10s}, found '5'",
            "s.yaml:17:21: missing parameter 'quiet' for quiet_after_failures (how long the client then stays silent, at least)",
            "s.yaml:18:43: quiet: expected a duration such as 250ms, 2s or 1m, found '30' (add a unit, e.g. 30s)",
            "s.yaml:18:59: probe_after has no parameter 'after'; expected quiet or within",
            "s.yaml:19:34: one check per expectation: start 'backoff' with its own '-'",
            "s.yaml:20:48: 'within' is a parameter of first_success_within: write first_success_within: {within: 35s}",
        ])
    }

    func testYAMLSyntaxErrorsHaveThePositionToo() {
        XCTAssertEqual(errors("proxies: [a, b\n"), [
            "s.yaml:2:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at 1:10)",
        ])
        XCTAssertEqual(errors("proxies:\n\tredis: {}\n"), [
            "s.yaml:2:1: invalid YAML: found character that cannot start any token "
                + "(while scanning for the next token at 2:1); YAML indents with spaces, not tabs",
        ])
        XCTAssertEqual(errors("name: a: b\n"), ["s.yaml:1:8: invalid YAML: mapping values are not allowed in this context"])
    }

    /// The point of the loader: one run of `check` lists everything, in file order, even when
    /// the file's own order makes the walk meet them out of order (expectations before phases).
    func testSeveralErrorsAllReportedInDocumentOrder() {
        XCTAssertEqual(errors("""
            expect:
              - { during: later, max_rate: 1 }
            name: [not, text]
            proxies:
              p: { listen: 127.0.0.1:1, upstream: nowhere, colour: red }
            timeline:
              - { phase: first, for: 2 }
              - { phase: first, for: 1s, faults: [{ tcp.cutoff: { after: soon } }] }
            seed: 1.5
            """, file: "scenarios/x.yaml"), [
            "scenarios/x.yaml:2:15: during: unknown phase 'later'; expected first",
            "scenarios/x.yaml:3:7: name: expected a text, found a list",
            "scenarios/x.yaml:5:39: upstream: invalid address 'nowhere': expected host:port (IPv6 as [::1]:port)",
            "scenarios/x.yaml:5:48: unknown key 'colour' in proxy 'p'; expected listen, upstream, protocol, tls or upstream_tls",
            "scenarios/x.yaml:7:26: for: expected a duration such as 250ms, 2s or 1m, found '2' (add a unit, e.g. 2s)",
            "scenarios/x.yaml:8:14: duplicate phase name 'first' (first at 7:14)",
            "scenarios/x.yaml:8:62: tcp.cutoff parameter 'after': 'soon' is not a duration such as 250ms or 2s",
            "scenarios/x.yaml:9:7: seed: expected a whole number ≥ 0, found '1.5'",
        ])
    }

    func testSuggestionsNeedACloseName() {
        XCTAssertEqual(Suggestion.closest(to: "tsl", in: ["listen", "tls"]), "tls", "a swap is one edit")
        XCTAssertNil(Suggestion.closest(to: "x", in: ["p"]), "one letter is no typo of another")
        XCTAssertNil(Suggestion.closest(to: "colour", in: ["listen", "upstream", "protocol"]))
    }
}
