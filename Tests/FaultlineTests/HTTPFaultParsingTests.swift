@testable import Faultline
import XCTest

/// The `http.*` faults as `--fault` values: each kind with its defaults, the match parameters
/// (method, path, query, request_headers), the checks across parameters with their exact
/// texts (statuses, bodies, presets, close codes and reasons, regular expressions, `.fields`
/// syntax), and how `faultline faults` lists them.
final class HTTPFaultParsingTests: XCTestCase {
    private func fault(_ text: String) throws -> Fault {
        try Fault(parsing: FaultSpec(parsing: text))
    }

    private func message(_ text: String) -> String { InputCheck.faultMessage(text) }

    /// `--fault TEXT`'s error: `invalid fault 'KIND': parameter 'PARAMETER': MESSAGE`.
    private func assertRefused(_ text: String, _ parameter: String, _ expected: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        let kind = text.prefix { $0 != ":" }
        XCTAssertEqual(message(text), "invalid fault '\(kind)': parameter '\(parameter)': \(expected)", file: file, line: line)
    }

    // MARK: kinds and defaults

    func testEveryKindParsesWithItsDefaults() throws {
        let respond = try fault("http.respond")
        XCTAssertEqual(respond.name, "http.respond", "no direction in the name: HTTP faults act on requests")
        XCTAssertEqual(respond.values, ["status": .count(503)])
        XCTAssertTrue(respond.kind.selectsCommands, "first/every/probability count requests")
        XCTAssertFalse(respond.kind.directional)

        XCTAssertEqual(try fault("http.delay:delay=500").values,
                       ["delay": .duration(.milliseconds(500)), "before": .word("response")], "bare numbers are ms")
        XCTAssertEqual(try fault("http.delay:delay=5s,before=request").values,
                       ["delay": .duration(.seconds(5)), "before": .word("request")])
        XCTAssertEqual(try fault("http.drip:rate=100B").values, ["rate": .count(100)])
        XCTAssertEqual(try fault("http.drip:rate=2").values, ["rate": .count(2048)], "a bare rate is KB/s")
        XCTAssertEqual(try fault("http.truncate:after=1KB").values, ["after": .count(1024)])
        XCTAssertEqual(try fault("http.truncate:after=0").values, ["after": .count(0)], "no body byte at all")
        XCTAssertEqual(try fault("http.abort").values, ["how": .word("rst")])
        XCTAssertEqual(try fault("http.abort:how=fin,after=10").values, ["how": .word("fin"), "after": .count(10)])
        XCTAssertEqual(try fault("http.status:status=500").values, ["status": .count(500)])
        XCTAssertEqual(try fault("http.ws_reject").values, ["status": .count(403)])
        XCTAssertEqual(try fault("http.ws_close:after=2s").values, ["after": .duration(.seconds(2)), "code": .count(1011)])
        XCTAssertEqual(try fault("http.ws_close:after=250,code=1001,reason=bye").values,
                       ["after": .duration(.milliseconds(250)), "code": .count(1001), "reason": .word("bye")])

        for kind in HTTPFaults.kinds {
            XCTAssertEqual(try fault(kind.example).kind.name, kind.name, kind.example)
            XCTAssertTrue(kind.selectsCommands, kind.name)
        }
        XCTAssertEqual(HTTPFaults.kinds.map(\.name), [
            "http.respond", "http.delay", "http.drip", "http.truncate", "http.abort", "http.status", "http.ws_reject", "http.ws_close",
        ])
    }

    func testRequiredParameters() {
        for (text, parameter) in [("http.delay", "delay"), ("http.drip", "rate"), ("http.truncate", "after"),
                                  ("http.status", "status"), ("http.ws_close", "after"), ("http.delay:path=/x", "delay")] {
            assertRefused(text, parameter, "is required by \(text.prefix { $0 != ":" })")
        }
    }

    func testMatchParametersAndCounting() throws {
        let respond = try fault("http.respond:status=404,method=GET|post,path=/api/v2/*,query=debug:true|page:2,"
                                + "request_headers=X-Api-Version: 2|Authorization:true,first=3,every=2,probability=0.5,name=v2")
        XCTAssertEqual(respond.name, "v2")
        XCTAssertEqual(respond.values, [
            "status": .count(404), "method": .word("GET post"), "path": .word("/api/v2/*"),
            "query": .word("debug: true\npage: 2"), "request_headers": .word("X-Api-Version: 2\nAuthorization: true"),
        ])
        XCTAssertEqual(respond.first, 3)
        XCTAssertEqual(respond.every, 2)
        XCTAssertEqual(respond.probability, 0.5)
        // Every kind takes the match parameters.
        for kind in HTTPFaults.kinds {
            XCTAssertEqual(Array(kind.parameters.map(\.name).suffix(4)), ["method", "path", "query", "request_headers"], kind.name)
        }
        XCTAssertEqual(try fault("http.delay:delay=1s,path=regex:^/api/v[0-9]+/").values["path"], .word("regex:^/api/v[0-9]+/"))
    }

    // MARK: statuses and presets

    func testStatusesOutOfRange() throws {
        for status in ["199", "600", "101", "0"] {
            assertRefused("http.respond:status=\(status)", "status", "\(status) is not a status from 200 to 599")
            assertRefused("http.status:status=\(status)", "status", "\(status) is not a status from 200 to 599")
        }
        for status in ["200", "302", "399", "600", "101"] {
            assertRefused("http.ws_reject:status=\(status)", "status", "\(status) is not a status from 400 to 599")
        }
        for status in [200, 599] {
            XCTAssertEqual(try fault("http.respond:status=\(status)").values["status"], .count(status))
            XCTAssertEqual(try fault("http.status:status=\(status)").values["status"], .count(status))
        }
        XCTAssertEqual(try fault("http.ws_reject:status=400").values["status"], .count(400))
        XCTAssertEqual(try fault("http.ws_reject:status=599").values["status"], .count(599))
        assertRefused("http.respond:status=abc", "status", "'abc' is not a whole number ≥ 0")
    }

    func testNoBodyOn204And304() throws {
        assertRefused("http.respond:status=204,body=x", "body", "a 204 response has no body")
        assertRefused("http.respond:status=304,body={}", "body", "a 304 response has no body")
        XCTAssertEqual(try fault("http.respond:status=204").values, ["status": .count(204)])
        XCTAssertEqual(try fault("http.respond:status=200,body=ok").values["body"], .word("ok"))
        assertRefused("http.respond:status=404,body=", "body", "'' is not a non-empty text")
    }

    func testAllowOnlyWith405() throws {
        assertRefused("http.respond:status=404,allow=GET", "allow", "only goes with status 405")
        assertRefused("http.respond:allow=GET", "allow", "only goes with status 405")
        XCTAssertEqual(try fault("http.respond:status=405,allow=POST").values["allow"], .word("POST"))
    }

    func testRetryAfterOnlyWith429Or503() throws {
        assertRefused("http.respond:status=404,retry_after=5", "retry_after", "only goes with status 429 or 503")
        assertRefused("http.respond:status=500,retry_after=0", "retry_after", "only goes with status 429 or 503")
        XCTAssertEqual(try fault("http.respond:status=429,retry_after=30").values["retry_after"], .count(30))
        XCTAssertEqual(try fault("http.respond:retry_after=7").values["retry_after"], .count(7), "the default status is 503")
    }

    // MARK: WebSocket close

    func testCloseCodesAServerMaySend() throws {
        for code in [1004, 1005, 1006, 1015, 999, 5000, 0] {
            assertRefused("http.ws_close:after=1s,code=\(code)", "code",
                          "\(code) is not a code a server may send (1000–4999 except 1004, 1005, 1006, 1015)")
        }
        for code in [1000, 1001, 1011, 3000, 4999] {
            XCTAssertEqual(try fault("http.ws_close:after=1s,code=\(code)").values["code"], .count(code))
        }
    }

    func testCloseReasonFitsAFrame() throws {
        let tooLong = "is longer than 123 bytes (a close frame holds 125)"
        assertRefused("http.ws_close:after=1s,reason=\(String(repeating: "r", count: 124))", "reason", tooLong)
        XCTAssertEqual(try fault("http.ws_close:after=1s,reason=\(String(repeating: "r", count: 123))").values["reason"],
                       .word(String(repeating: "r", count: 123)))
        // Bytes, not characters: 62 × é is 124 bytes.
        assertRefused("http.ws_close:after=1s,reason=\(String(repeating: "é", count: 62))", "reason", tooLong)
        XCTAssertNoThrow(try fault("http.ws_close:after=1s,reason=\(String(repeating: "é", count: 61))"))
    }

    // MARK: regular expressions

    func testBadRegularExpressionsNameTheirParameter() throws {
        func refusal(_ text: String) -> String { InputCheck.regexDetailCut(message(text)) }
        XCTAssertEqual(refusal("http.respond:path=regex:("),
                       "invalid fault 'http.respond': parameter 'path': not a regular expression: …")
        XCTAssertEqual(refusal("http.delay:delay=1s,query=page:regex:[0-"),
                       "invalid fault 'http.delay': parameter 'query': page: not a regular expression: …")
        XCTAssertEqual(refusal("http.abort:path=/x,query=a:1|b:regex:(?<"),
                       "invalid fault 'http.abort': parameter 'query': b: not a regular expression: …")
        // In `--fault` the request's headers are `request_headers`; `headers` is http.respond's
        // own (the response's), so an error there must name the one written.
        XCTAssertEqual(refusal("http.respond:status=404,request_headers=User-Agent:regex:("),
                       "invalid fault 'http.respond': parameter 'request_headers': User-Agent: not a regular expression: …")
        XCTAssertEqual(refusal("http.delay:delay=1s,request_headers=X:regex:*"),
                       "invalid fault 'http.delay': parameter 'request_headers': X: not a regular expression: …")
        XCTAssertNotEqual(message("http.respond:path=regex:("), refusal("http.respond:path=regex:("), "the engine says what is wrong")
        // Only `regex:` values are compiled: a `(` elsewhere is a literal.
        XCTAssertNoThrow(try fault("http.delay:delay=1s,path=/a(b,query=q:(,request_headers=X:(true"))
        XCTAssertNoThrow(try fault("http.respond:headers=X-Pattern:regex:("), "response headers are sent, not compiled")
    }

    // MARK: fields

    func testFieldsTextSyntax() throws {
        XCTAssertEqual(try fault("http.respond:headers=X-A:1|X-B: two words |Cache-Control:no-store").values["headers"],
                       .word("X-A: 1\nX-B: two words\nCache-Control: no-store"), "names and values trimmed")
        XCTAssertEqual(try fault("http.respond:headers=X-Url:http://h:80/x").values["headers"], .word("X-Url: http://h:80/x"),
                       "the first colon ends the name")
        XCTAssertEqual(try fault("http.respond:headers=X-Empty:").values["headers"], .word("X-Empty: "))
        XCTAssertEqual(try fault("http.respond:headers=X-Tab:a\tb").values["headers"], .word("X-Tab: a\tb"), "a tab is no control")
        assertRefused("http.respond:headers=X-A", "headers", "'X-A' is not Name:value")
        assertRefused("http.respond:headers=X-A:1|X-B", "headers", "'X-B' is not Name:value")
        assertRefused("http.respond:headers=X A:1", "headers", "'X A' is not a field name (letters, digits and !#$%&'*+-.^_`|~)")
        assertRefused("http.respond:headers=:1", "headers", "'' is not a name (empty, or a control character)")
        assertRefused("http.respond:headers=X-Ü:1", "headers", "'X-Ü' is not a field name (letters, digits and !#$%&'*+-.^_`|~)")
        for control in ["\u{1}", "\r", "\u{7F}", "\u{0}"] {
            assertRefused("http.respond:headers=X-A:a\(control)b", "headers", "the value of X-A holds a control character")
        }
        assertRefused("http.respond:headers=", "headers", "'' is not a list of Name:value entries")
        assertRefused("http.respond:headers=|", "headers", "'|' is not a list of Name:value entries")
        assertRefused("http.delay:delay=1s,query=debug", "query", "'debug' is not Name:value")
        assertRefused("http.delay:delay=1s,request_headers=X A:1", "request_headers",
                      "'X A' is not a field name (letters, digits and !#$%&'*+-.^_`|~)")
        XCTAssertEqual(ParameterType.fields.name, "name: value, …")
    }

    // MARK: other mistakes

    func testOtherParameterMistakes() {
        assertRefused("http.delay:delay=1s,before=later", "before", "'later' is not one of request, response")
        assertRefused("http.abort:how=drop", "how", "'drop' is not one of fin, rst")
        assertRefused("http.respond:method=", "method", "'' is not a list of words such as GET|SET")
        assertRefused("http.respond:path=", "path", "'' is not a non-empty text")
        assertRefused("http.drip:rate=0", "rate", "'0' is out of range: rates go from 1B to 100GB per second")
        assertRefused("http.respond:stauts=404", "stauts", "http.respond has no such parameter (did you mean 'status'?); it takes "
                      + "status, body, headers, allow, retry_after, method, path, query, request_headers, "
                      + "name, direction, probability, first, every")
        XCTAssertEqual(message("http.respnd:status=404"), "invalid fault 'http.respnd': unknown fault kind (did you mean 'http.respond'?); "
                       + "known kinds: " + FaultRegistry.kinds.map(\.name).joined(separator: ", "))
    }

    // MARK: faultline faults

    func testCatalogListsEveryHTTPKind() {
        let lines = FaultCatalog.text().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for kind in HTTPFaults.kinds {
            guard let start = lines.firstIndex(of: kind.name) else { XCTFail("\(kind.name) is not listed"); continue }
            XCTAssertEqual(lines[start + 1], "  \(kind.summary)")
            let block = lines[start...].prefix { !$0.isEmpty }
            XCTAssertEqual(block.last, "  example: --fault \(kind.example)")
            for parameter in kind.parameters {
                XCTAssertTrue(block.contains { $0.hasPrefix("    \(parameter.name) ") && $0.hasSuffix(" \(parameter.help)") },
                              "\(kind.name) \(parameter.name)")
            }
        }
        XCTAssertTrue(lines.contains("    status         count, default 503             the status, 200 to 599"))
        XCTAssertTrue(lines.contains("    retry_after    count, optional                429, 503: Retry-After in seconds (default 1)"))
        XCTAssertTrue(lines.contains("    headers        name: value, …, optional       response headers to add (or replace): Name: value"))
        XCTAssertTrue(lines.contains("    code           count, default 1011            "
                                     + "the close code, 1000 to 4999 (1011: internal error, 1001: going away)"))
        XCTAssertTrue(lines.contains("    before         request|response, default response  "
                                     + "request: the request waits (and the ones after it); response: the response's first byte waits"))
    }

    /// http.* faults count and pick matching requests (docs/http.md): the rows every kind
    /// takes say so for them, not only for redis.* command faults.
    func testCommonRowsSpeakOfHTTPRequests() {
        let lines = FaultCatalog.text().split(separator: "\n").map(String.init)
        for name in ["probability", "first", "every"] {
            let row = lines.first { $0.hasPrefix("    \(name) ") } ?? ""
            XCTAssertTrue(row.contains("http"), row)
        }
    }
}
