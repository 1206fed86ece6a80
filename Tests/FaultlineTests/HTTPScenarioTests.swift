@testable import Faultline
import XCTest

/// Scenario files with `protocol: http`: `match:` on http faults (its `headers` are the
/// request's), `.fields` mappings, the expectations that count HTTP requests by method and
/// path, and every mistake's exact `file:line:col: message`.
final class HTTPScenarioTests: XCTestCase {
    /// An HTTP proxy `api`, a TCP proxy `plain` and a Redis proxy `cache`; the fault entries
    /// under test follow `faults:` and start at line 17, their `LAYER.KIND` key at column 9.
    private static let proxies = """
          api:
            listen: 127.0.0.1:18080
            upstream: 127.0.0.1:8080
            protocol: http
          plain:
            listen: 127.0.0.1:18081
            upstream: 127.0.0.1:8081
          cache:
            listen: 127.0.0.1:16379
            upstream: 127.0.0.1:6379
            protocol: redis
        """

    private func yaml(_ faults: String) -> String { InputCheck.scenario(proxies: Self.proxies, faults: faults) }

    private func errors(_ faults: String) -> [String] { InputCheck.errors(yaml(faults)) }

    private func faults(_ entries: String) throws -> [Fault] {
        try ScenarioLoader.load(yaml: yaml(entries), file: "s.yaml").timeline[0].faults.map(\.fault)
    }

    /// The one fault `entry` loads.
    private func fault(_ entry: String, file: StaticString = #filePath, line: UInt = #line) throws -> Fault {
        let loaded = try faults(entry)
        XCTAssertEqual(loaded.count, 1, file: file, line: line)
        return try XCTUnwrap(loaded.first, file: file, line: line)
    }

    private func matches(_ fault: Fault, _ method: String, _ target: String, _ fields: [String] = []) throws -> Bool {
        try XCTUnwrap(HTTPRule(fault)).match.matches(HTTPMatchTests.head(method, target, fields))
    }

    // MARK: match

    func testAFullMatchLoads() throws {
        let scenario = try ScenarioLoader.load(yaml: yaml("""
                  - http.respond:
                      proxy: api
                      status: 404
                      match: {method: [GET, POST], path: "/api/v2/*", headers: {X-Api-Version: "2", Authorization: true}, query: {debug: false}}
                  - http.delay: { proxy: api, delay: 5s, match: { path: "/api/v1/*", headers: { X-Tenant: "acme" } } }
            """), file: "s.yaml")
        XCTAssertEqual(scenario.proxy(named: "api")?.protocol, .http)
        let entries = scenario.timeline[0].faults
        XCTAssertEqual(entries.map(\.proxy), ["api", "api"])
        XCTAssertEqual(entries.map(\.position), [SourcePosition(line: 17, column: 9), SourcePosition(line: 21, column: 9)])
        let respond = entries[0].fault
        XCTAssertEqual(respond.values, [
            "status": .count(404), "method": .word("GET POST"), "path": .word("/api/v2/*"),
            "request_headers": .word("X-Api-Version: 2\nAuthorization: true"), "query": .word("debug: false"),
        ])
        let fields = ["X-Api-Version: 2", "Authorization: Bearer t"]
        XCTAssertTrue(try matches(respond, "POST", "/api/v2/users/7", fields))
        XCTAssertFalse(try matches(respond, "GET", "/api/v2/users?debug=1", fields))
        XCTAssertFalse(try matches(respond, "GET", "/api/v2/users", ["X-Api-Version: 2"]))
        XCTAssertEqual(entries[1].fault.values, [
            "delay": .duration(.seconds(5)), "before": .word("response"), "path": .word("/api/v1/*"),
            "request_headers": .word("X-Tenant: acme"),
        ])
    }

    func testMatchKeysBesideMatchAndResponseHeaders() throws {
        XCTAssertEqual(try fault("      - http.abort: { proxy: api, method: GET, path: \"/x\", query: {q: \"regex:^a\"} }").values,
                       ["how": .word("rst"), "method": .word("GET"), "path": .word("/x"), "query": .word("q: regex:^a")])
        XCTAssertEqual(try fault("      - http.abort: { proxy: api, method: \"GET|HEAD\", request_headers: \"X-A:1|X-B:2\" }").values,
                       ["how": .word("rst"), "method": .word("GET HEAD"), "request_headers": .word("X-A: 1\nX-B: 2")])
        // Beside the parameters `headers` are http.respond's own: the response's.
        let respond = try fault("      - http.respond: { proxy: api, status: 200, body: \"<p>hi</p>\", headers: {Content-Type: text/html}, "
                                + "match: {headers: {Accept: \"text/html\"}} }")
        XCTAssertEqual(respond.values["headers"], .word("Content-Type: text/html"))
        XCTAssertEqual(respond.values["request_headers"], .word("Accept: text/html"))
    }

    func testARegexAlternationInAHeaderValueStaysOneEntry() throws {
        let fault = try fault("""
                  - http.abort:
                      proxy: api
                      match:
                        headers: { User-Agent: "regex:curl|wget" }
                        query: { format: "regex:^(json|xml)$" }
            """)
        XCTAssertEqual(fault.values["request_headers"], .word("User-Agent: regex:curl|wget"))
        XCTAssertEqual(fault.values["query"], .word("format: regex:^(json|xml)$"))
        XCTAssertTrue(try matches(fault, "GET", "/?format=xml", ["User-Agent: Wget/1.21 wget"]))
        XCTAssertTrue(try matches(fault, "GET", "/?format=json", ["User-Agent: curl/8.5.0"]))
        XCTAssertFalse(try matches(fault, "GET", "/?format=json", ["User-Agent: Mozilla/5.0"]))
        XCTAssertFalse(try matches(fault, "GET", "/?format=yaml", ["User-Agent: curl/8.5.0"]))
    }

    func testAMisspeltMatchKeySuggestsTheRightOne() {
        XCTAssertEqual(errors("      - http.delay: { proxy: api, delay: 1s, match: {heders: {X-A: \"1\"}} }"), [
            "s.yaml:17:54: match has no key 'heders' (did you mean 'headers'?)",
        ])
        XCTAssertEqual(errors("      - http.delay:\n          proxy: api\n          delay: 1s\n          match:\n            methods: GET"), [
            "s.yaml:21:13: match has no key 'methods' (did you mean 'method'?)",
        ])
        XCTAssertEqual(errors("      - http.abort: { proxy: api, match: {commands: [GET]} }"), [
            "s.yaml:17:43: match has no key 'commands'; expected method, path, query or headers",
        ])
        XCTAssertEqual(errors("      - http.abort: { proxy: api, match: \"GET /x\" }"), [
            "s.yaml:17:42: match: expected a mapping such as { method: GET, path: \"/api/v2/*\" }, found 'GET /x'",
        ])
        XCTAssertEqual(errors("      - http.abort: { proxy: api, match: {} }"), [
            "s.yaml:17:42: match: expected a mapping such as { method: GET, path: \"/api/v2/*\" }, found an empty mapping",
        ])
        XCTAssertEqual(errors("      - http.delay: { proxy: api, delay: 1s, headers: {X-A: \"1\"} }"), [
            "s.yaml:17:46: http.delay has no parameter 'headers'; expected delay, before, method, path, query, request_headers, "
                + "name, direction, probability, first, every or proxy",
        ])
    }

    func testAParameterBesideAndUnderMatchIsRefused() {
        XCTAssertEqual(errors("      - http.abort: { proxy: api, path: \"/a\", match: {path: \"/b\"} }"), [
            "s.yaml:17:55: http.abort: 'path' is given twice (beside and under match:)",
        ])
        XCTAssertEqual(errors("      - http.abort: { proxy: api, method: GET, match: {method: [POST]} }"), [
            "s.yaml:17:56: http.abort: 'method' is given twice (beside and under match:)",
        ])
        XCTAssertEqual(errors("      - http.abort: { proxy: api, request_headers: {X-A: \"1\"}, match: {headers: {X-A: \"2\"}} }"), [
            "s.yaml:17:72: http.abort: 'request_headers' is given twice (beside and under match:)",
        ])
    }

    // MARK: fields

    /// Under match: the request's headers are `headers`, as the user wrote them and as the
    /// loader's own messages about the mapping call them.
    func testFieldsMistakesPointAtTheirValue() {
        XCTAssertEqual(errors("      - http.abort: { proxy: api, match: {headers: {}} }"), [
            "s.yaml:17:52: headers: expected a mapping such as { X-Api-Version: \"2\" }, found an empty mapping",
        ])
        XCTAssertEqual(errors("      - http.abort: { proxy: api, match: {headers: {X-A: [1, 2]}} }"), [
            "s.yaml:17:58: headers.X-A: expected a text, true or false, found a list",
        ])
        XCTAssertEqual(errors("      - http.abort: { proxy: api, match: {headers: {\"X A\": \"1\"}} }"), [
            "s.yaml:17:52: http.abort parameter 'headers': 'X A' is not a field name (letters, digits and !#$%&'*+-.^_`|~)",
        ])
        XCTAssertEqual(errors("      - http.respond: { proxy: api, headers: {X-A: \"a\\u0001b\"} }"), [
            "s.yaml:17:46: http.respond parameter 'headers': the value of X-A holds a control character",
        ])
    }

    /// A bad regex is reported at the value that holds it, whatever parameters sit beside.
    func testABadRegexPointsAtItsValue() {
        func cut(_ faults: String) -> [String] { errors(faults).map(InputCheck.regexDetailCut) }
        XCTAssertEqual(cut("      - http.abort: { proxy: api, match: {path: \"regex:(\"} }"), [
            "s.yaml:17:49: http.abort parameter 'path': not a regular expression: …",
        ])
        XCTAssertEqual(cut("      - http.abort: { proxy: api, match: {query: {q: \"regex:[\"}} }"), [
            "s.yaml:17:50: http.abort parameter 'query': q: not a regular expression: …",
        ])
        // Under match: the user wrote `headers`; the error is at that mapping, named so.
        XCTAssertEqual(cut("      - http.delay: { proxy: api, delay: 1s, match: {headers: {X-A: \"regex:(\"}} }"), [
            "s.yaml:17:63: http.delay parameter 'headers': X-A: not a regular expression: …",
        ])
        // Beside the response's own `headers` (which are fine): still at the request's.
        XCTAssertEqual(cut("      - http.respond: { proxy: api, headers: {X-B: \"1\"}, match: {headers: {X-A: \"regex:(\"}} }"), [
            "s.yaml:17:75: http.respond parameter 'headers': X-A: not a regular expression: …",
        ])
    }

    // MARK: checks across parameters

    func testFaultParameterMistakesInAScenario() {
        XCTAssertEqual(errors("      - http.respond: { proxy: api, status: 204, body: \"x\" }"), [
            "s.yaml:17:56: http.respond parameter 'body': a 204 response has no body",
        ])
        XCTAssertEqual(errors("      - http.respond: { proxy: api, status: 700 }"), [
            "s.yaml:17:45: http.respond parameter 'status': 700 is not a status from 200 to 599",
        ])
        XCTAssertEqual(errors("      - http.respond: { proxy: api, status: 404, allow: \"GET, POST\" }"), [
            "s.yaml:17:57: http.respond parameter 'allow': only goes with status 405",
        ])
        XCTAssertEqual(errors("      - http.ws_close: { proxy: api, after: 1s, code: 1005 }"), [
            "s.yaml:17:55: http.ws_close parameter 'code': 1005 is not a code a server may send (1000–4999 except 1004, 1005, 1006, 1015)",
        ])
        XCTAssertEqual(errors("      - http.delay: { proxy: api }"), ["s.yaml:17:9: missing parameter 'delay' (required by http.delay)"])
        XCTAssertEqual(try faults("      - http.respond: { proxy: api, status: 405, allow: \"GET, POST\" }")[0].values["allow"],
                       .word("GET, POST"), "YAML can hold what --fault's commas cannot")
    }

    // MARK: protocols

    func testHTTPFaultsNeedAnHTTPProxy() {
        XCTAssertEqual(errors("      - http.respond: { proxy: plain, status: 404 }"), [
            "s.yaml:17:9: http.respond needs a proxy with protocol: http; proxy 'plain' speaks tcp",
        ])
        XCTAssertEqual(errors("      - http.delay: { proxy: cache, delay: 1s, match: {path: \"/x\"} }"), [
            "s.yaml:17:9: http.delay needs a proxy with protocol: http; proxy 'cache' speaks redis",
        ])
        XCTAssertEqual(errors("      - redis.hang: { proxy: api }"), [
            "s.yaml:17:9: redis.hang needs a proxy with protocol: redis; proxy 'api' speaks http",
        ])
        XCTAssertEqual(errors("      - tcp.latency: { proxy: api, ms: 10 }"), [], "an http proxy takes tcp.* faults too")
        XCTAssertEqual(try ProxyProtocol.parse("http"), .http)
    }

    // MARK: expectations

    func testHTTPExpectationsLoad() throws {
        let scenario = try ScenarioLoader.load(yaml: yaml("      - http.respond: { proxy: api, status: 404 }") + """
            expect:
              - during: outage
                proxy: api
                no_request: { method: GET, path: "/api/preferences/active" }
              - proxy: api
                max_requests: { limit: 1, match: "GET /api/v2/*" }
              - proxy: api
                max_requests: { limit: 3, method: post, path: "/api/*" }
            """, file: "s.yaml")
        XCTAssertEqual(scenario.expectationSpecs, [
            ExpectationSpec(kind: "no_request", proxy: "api", scope: .during("outage"),
                            parameters: ["method": .text("GET"), "path": .text("/api/preferences/active")]),
            ExpectationSpec(kind: "max_requests", proxy: "api", scope: .whole,
                            parameters: ["limit": .number(1), "match": .text("GET /api/v2/*")]),
            ExpectationSpec(kind: "max_requests", proxy: "api", scope: .whole,
                            parameters: ["limit": .number(3), "method": .text("post"), "path": .text("/api/*")]),
        ])
        XCTAssertEqual(scenario.expectations[0].parameterPositions["path"], SourcePosition(line: 21, column: 38))
        XCTAssertEqual(scenario.expectationSpecs.map(\.label), [
            #"no_request: {method: "GET", path: "/api/preferences/active"} (during: outage, proxy: api)"#,
            #"max_requests: {limit: 1, match: "GET /api/v2/*"} (proxy: api)"#,
            #"max_requests: {limit: 3, method: "post", path: "/api/*"} (proxy: api)"#,
        ])
    }

    func testHTTPExpectationMistakes() {
        XCTAssertEqual(InputCheck.errors(yaml("      - http.abort: { proxy: api }") + """
            expect:
              - { proxy: api, no_request: {methd: GET} }
              - { proxy: api, max_requests: {limit: 1, path: [/a]} }
            """), [
            "s.yaml:19:32: no_request has no parameter 'methd' (did you mean 'method'?)",
            "s.yaml:20:50: path: expected a text such as \"/api/preferences/active\", found a list",
        ])
    }
}
