@testable import Faultline
import XCTest

/// Which requests an `http.*` fault acts on (`HTTPMatch`), with heads framed by
/// `HTTPFramer(.request)` as the proxy frames them: methods, paths (exact, glob, regex; the
/// query left out), query parameters and headers (equal, present, absent, regex), all keys
/// together; what each rule does (`HTTPRule.Action`), and the bytes of faultline's own answers
/// (`HTTPAnswer`).
final class HTTPMatchTests: XCTestCase {
    /// The head of `METHOD TARGET HTTP/1.1` with `Host` and `fields`, framed.
    static func head(_ method: String = "GET", _ target: String, _ fields: [String] = [], version: String = "HTTP/1.1",
                     file: StaticString = #filePath, line: UInt = #line) -> HTTPHead {
        let text = "\(method) \(target) \(version)\r\nHost: example.com\r\n" + fields.map { "\($0)\r\n" }.joined() + "\r\n"
        let bytes = Array(text.utf8)
        let framer = HTTPFramer(.request)
        XCTAssertEqual(bytes.withUnsafeBytes { framer.scan($0) }, .message(consumed: bytes.count), file: file, line: line)
        return framer.head
    }

    /// The rule of a `--fault` text.
    static func rule(_ spec: String, file: StaticString = #filePath, line: UInt = #line) throws -> HTTPRule {
        try XCTUnwrap(HTTPRule(Fault(parsing: FaultSpec(parsing: spec))), file: file, line: line)
    }

    /// Whether `spec` matches each target (GET, no fields), in order.
    private func matches(_ spec: String, _ targets: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [Bool] {
        let rule = try Self.rule(spec, file: file, line: line)
        return targets.map { rule.match.matches(Self.head("GET", $0, file: file, line: line)) }
    }

    /// Whether `spec` matches a `GET /` with each set of fields, in order.
    private func matches(_ spec: String, fields: [[String]], file: StaticString = #filePath, line: UInt = #line) throws -> [Bool] {
        let rule = try Self.rule(spec, file: file, line: line)
        return fields.map { rule.match.matches(Self.head("GET", "/", $0, file: file, line: line)) }
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: method

    func testMethodsInAnyCaseAndLists() throws {
        for spec in ["http.abort:method=GET", "http.abort:method=get", "http.abort:method=Get|HEAD"] {
            let rule = try Self.rule(spec)
            XCTAssertTrue(rule.match.matches(Self.head("GET", "/")), spec)
            XCTAssertFalse(rule.match.matches(Self.head("POST", "/")), spec)
            XCTAssertFalse(rule.match.matches(Self.head("GETX", "/")), "\(spec): a whole method, not a prefix")
        }
        let list = try Self.rule("http.abort:method=get|post")
        XCTAssertEqual(["GET", "POST", "PUT", "DELETE", "OPTIONS"].map { list.match.matches(Self.head($0, "/")) },
                       [true, true, false, false, false])
        let all = try Self.rule("http.abort")
        XCTAssertTrue(["GET", "POST", "PATCH", "OPTIONS"].allSatisfy { all.match.matches(Self.head($0, "/x")) }, "no method: every one")
    }

    // MARK: path

    func testExactPath() throws {
        XCTAssertEqual(try matches("http.abort:path=/api/v1/users",
                                   ["/api/v1/users", "/api/v1/users?page=2", "/api/v1/users/", "/api/v1/user", "/API/v1/users", "/"]),
                       [true, true, false, false, false, false])
    }

    func testGlobStarSpansSegments() throws {
        XCTAssertEqual(try matches("http.abort:path=/api/v2/*",
                                   ["/api/v2/users", "/api/v2/users/7", "/api/v2/", "/api/v20", "/api/v2", "/api/v1/users", "/x/api/v2/y"]),
                       [true, true, true, false, false, false, false])
        // Without the slash the star takes any text: `/api/v20` too.
        XCTAssertEqual(try matches("http.abort:path=/api/v2*", ["/api/v2", "/api/v20", "/api/v2/users/7", "/api/v1"]),
                       [true, true, true, false])
        XCTAssertEqual(try matches("http.abort:path=/a/*/c", ["/a/b/c", "/a/b/x/c", "/a//c", "/a/c", "/a/b/c/d"]),
                       [true, true, true, false, false])
        XCTAssertEqual(try matches("http.abort:path=*/users", ["/users", "/api/v2/users", "/api/v2/users/7"]), [true, true, false])
        XCTAssertEqual(try matches("http.abort:path=*", ["/", "/anything/at/all?x=1"]), [true, true])
        XCTAssertEqual(try matches("http.abort:path=/a*b*c", ["/aXbYbZc", "/aXbYbZ", "/abc"]), [true, false, true],
                       "backtracking to the last star")
    }

    func testTheQueryIsNotPartOfThePath() throws {
        XCTAssertEqual(try matches("http.abort:path=/api/v2/*", ["/api/v2/users?id=1", "/api/v2?x=/api/v2/y"]), [true, false])
        XCTAssertEqual(try matches("http.abort:path=*users", ["/users?x=1", "/x?users"]), [true, false])
        XCTAssertEqual(try matches("http.abort:path=/search?q=x", ["/search?q=x", "/search"]), [false, false],
                       "a `?` in a path pattern never matches")
        XCTAssertEqual(try matches("http.abort:path=regex:id=", ["/x?id=1", "/id=1"]), [false, true])
        XCTAssertEqual(try matches("http.abort:path=regex:users$", ["/api/users?page=2", "/api/users/7"]), [true, false])
    }

    func testPathRegex() throws {
        XCTAssertEqual(try matches("http.abort:path=regex:^/api/v[0-9]+/",
                                   ["/api/v1/x", "/api/v22/users", "/api/vx/", "/x/api/v1/", "/api/v1"]),
                       [true, true, false, false, false])
        XCTAssertEqual(try matches("http.abort:path=regex:users", ["/api/users/7", "/usersx", "/user"]), [true, true, false],
                       "a regex is searched, not anchored")
        XCTAssertEqual(try matches("http.abort:path=regex:^/a.*$", ["/a", "/a/b/c"]), [true, true])
        XCTAssertEqual(try matches("http.abort:path=/a.*", ["/a.x", "/a.", "/ab", "/a"]), [true, true, false, false],
                       "without regex: a dot is a dot, `*` a glob")
    }

    // MARK: query

    func testQueryEqualIsPercentDecoded() throws {
        XCTAssertEqual(try matches("http.abort:query=debug:1",
                                   ["/?debug=1", "/?a=2&debug=1", "/?debug=10", "/?debug", "/", "/?debug=0&debug=1",
                                    "/?%64ebug=%31", "/?Debug=1"]),
                       [true, true, false, false, false, true, true, false])
        XCTAssertEqual(try matches("http.abort:query=q:a b", ["/s?q=a%20b", "/s?q=a+b", "/s?q=a%2Bb", "/s?q=ab"]), [true, true, false, false])
        XCTAssertEqual(try matches("http.abort:query=tag:c++", ["/?tag=c%2B%2B", "/?tag=c++", "/?tag=c%2b%2b"]), [true, false, true],
                       "`+` is a space; %2B is a plus (hex in any case)")
        XCTAssertEqual(try matches("http.abort:query=q:100%", ["/?q=100%", "/?q=100%25", "/?q=100%2"]), [true, true, false],
                       "a `%` without two hex digits stays itself")
        XCTAssertEqual(try matches("http.abort:query=empty:", ["/?empty=", "/?empty", "/?empty=x"]), [true, true, false])
        XCTAssertEqual(try matches("http.abort:path=/x,query=debug:1", ["/x?debug=1", "/y?debug=1", "/x"]), [true, false, false])
    }

    func testQueryPresentAbsentAndRegex() throws {
        XCTAssertEqual(try matches("http.abort:query=debug:true",
                                   ["/?debug", "/?debug=", "/?debug=0", "/?x=1&debug=false", "/?debugx=1", "/", "/?x=debug"]),
                       [true, true, true, true, false, false, false])
        XCTAssertEqual(try matches("http.abort:query=debug:false", ["/", "/?x=1", "/?x=debug", "/?debug=0", "/?debug", "/?a=1&debug=1"]),
                       [true, true, true, false, false, false])
        XCTAssertEqual(try matches("http.abort:query=page:regex:^[0-9]+$", ["/?page=12", "/?page=x", "/?page=", "/?page=1&page=y"]),
                       [true, false, false, true])
        XCTAssertEqual(try matches("http.abort:query=q:regex:^a b$", ["/?q=a+b", "/?q=a%20b", "/?q=a_b"]), [true, true, false],
                       "a regex reads the decoded value")
        XCTAssertEqual(try matches("http.abort:query=a:1|b:true|c:false", ["/?a=1&b", "/?b&a=1&c=2", "/?a=1", "/?b=2&a=1&d"]),
                       [true, false, false, true], "several conditions all hold")
        let pairs = HTTPMatch.queryPairs(Array("a=1&&b=x%20y&c&=v&d==".utf8)[...])
        XCTAssertEqual(pairs.map { "\(text(Array($0.name)))=\(text(Array($0.value)))" },
                       ["a=1", "b=x y", "c=", "=v", "d=="])
    }

    /// Query names are not field names: `page[size]` (JSON:API, Rails, PHP) is a name clients send.
    func testQueryNamesWithBrackets() throws {
        XCTAssertEqual(try matches("http.abort:query=page[size]:10", ["/?page[size]=10", "/?page%5Bsize%5D=10", "/?page=10"]),
                       [true, true, false])
    }

    // MARK: headers

    func testHeaderNamesInAnyCase() throws {
        for spec in ["http.abort:request_headers=X-Api-Version:2", "http.abort:request_headers=x-api-version: 2",
                     "http.abort:request_headers=X-API-VERSION:2"] {
            XCTAssertEqual(try matches(spec, fields: [["X-Api-Version: 2"], ["x-API-version:2"], ["X-Api-Version:   2  "],
                                                      ["X-Api-Version: 20"], ["X-Api-Version: v2"], [], ["X-Api-Versions: 2"]]),
                           [true, true, true, false, false, false, false], spec)
        }
        XCTAssertEqual(try matches("http.abort:request_headers=Accept:a", fields: [["Accept: a, b"], ["Accept: A"]]), [false, false],
                       "a value is compared whole and in its case")
    }

    func testHeaderPresentAbsentRegexAndRepeats() throws {
        XCTAssertEqual(try matches("http.abort:request_headers=Authorization:true",
                                   fields: [["Authorization: Bearer x"], ["authorization:"], [], ["X-Authorization: x"]]),
                       [true, true, false, false])
        XCTAssertEqual(try matches("http.abort:request_headers=Authorization:false",
                                   fields: [[], ["X-Authorization: x"], ["Authorization: Bearer x"], ["AUTHORIZATION:"]]),
                       [true, true, false, false])
        XCTAssertEqual(try matches("http.abort:request_headers=User-Agent:regex:^curl/",
                                   fields: [["User-Agent: curl/8.5.0"], ["User-Agent: Mozilla curl/8"], ["User-Agent: Curl/8"], []]),
                       [true, false, false, false])
        XCTAssertEqual(try matches("http.abort:request_headers=X-Tenant:acme",
                                   fields: [["X-Tenant: a", "X-Tenant: acme"], ["X-Tenant: acme", "x-tenant: b"],
                                            ["X-Tenant: a", "X-Tenant: b"]]),
                       [true, true, false], "any of a repeated header's values")
        XCTAssertEqual(try matches("http.abort:request_headers=X-Api-Version:2|Authorization:true",
                                   fields: [["Authorization: t", "X-Api-Version: 2"], ["X-Api-Version: 2"], ["Authorization: t"]]),
                       [true, false, false])
        XCTAssertEqual(try matches("http.abort:request_headers=Host:example.com", fields: [[]]), [true], "Host is a header too")
    }

    // MARK: all keys together

    func testSeveralKeysMustAllHold() throws {
        let rule = try Self.rule("http.respond:status=404,method=GET|POST,path=/api/v2/*,query=debug:false,"
                                 + "request_headers=X-Api-Version:2|Authorization:true")
        let fields = ["X-Api-Version: 2", "Authorization: Bearer t"]
        XCTAssertTrue(rule.match.matches(Self.head("GET", "/api/v2/users", fields)))
        XCTAssertTrue(rule.match.matches(Self.head("POST", "/api/v2/users/7?page=1", fields)))
        XCTAssertFalse(rule.match.matches(Self.head("PUT", "/api/v2/users", fields)), "method")
        XCTAssertFalse(rule.match.matches(Self.head("GET", "/api/v1/users", fields)), "path")
        XCTAssertFalse(rule.match.matches(Self.head("GET", "/api/v2/users?debug=1", fields)), "query")
        XCTAssertFalse(rule.match.matches(Self.head("GET", "/api/v2/users", ["X-Api-Version: 1", "Authorization: t"])), "header value")
        XCTAssertFalse(rule.match.matches(Self.head("GET", "/api/v2/users", ["X-Api-Version: 2"])), "header presence")
        XCTAssertTrue(try Self.rule("http.abort").match.matches(Self.head("GET", "/anything?at=all", fields)), "no key: every request")
    }

    // MARK: actions

    func testEachKindsAction() throws {
        func action(_ spec: String) throws -> String {
            switch try Self.rule(spec).action {
            case .respond(let status, let body, let headers, let upgradesOnly):
                "respond \(status) \(body ?? "-") [\(headers.map { "\($0.name): \($0.value)" }.joined(separator: "; "))]"
                    + (upgradesOnly ? " upgrades" : "")
            case .delayRequest(let wait): "delay request \(wait)"
            case .delayResponse(let wait): "delay response \(wait)"
            case .drip(let rate): "drip \(rate)"
            case .truncate(let after): "truncate \(after)"
            case .abort(let reset, let after): "abort reset=\(reset) after=\(after.map(String.init) ?? "-")"
            case .status(let status): "status \(status)"
            case .wsClose(let after, let code, let reason): "ws_close \(after) \(code) \(reason)"
            }
        }
        XCTAssertEqual(try action("http.respond"), "respond 503 - [Retry-After: 1]")
        XCTAssertEqual(try action("http.respond:status=404,body=gone"), "respond 404 gone []")
        XCTAssertEqual(try action("http.respond:status=405"), "respond 405 - [Allow: GET, HEAD]")
        XCTAssertEqual(try action("http.respond:status=405,allow=POST"), "respond 405 - [Allow: POST]")
        XCTAssertEqual(try action("http.respond:status=405,headers=allow:PUT|X-A:1"), "respond 405 - [allow: PUT; X-A: 1]",
                       "an Allow given in headers replaces the preset")
        XCTAssertEqual(try action("http.respond:status=429,retry_after=30"), "respond 429 - [Retry-After: 30]")
        XCTAssertEqual(try action("http.respond:status=503,headers=Retry-After:120"), "respond 503 - [Retry-After: 120]")
        XCTAssertEqual(try action("http.ws_reject"), "respond 403 - [] upgrades")
        XCTAssertEqual(try action("http.ws_reject:status=503,body=later"), "respond 503 later [Retry-After: 1] upgrades")
        XCTAssertEqual(try action("http.delay:delay=5s"), "delay response \(Duration.seconds(5))")
        XCTAssertEqual(try action("http.delay:delay=250,before=request"), "delay request \(Duration.milliseconds(250))")
        XCTAssertEqual(try action("http.drip:rate=100B"), "drip 100")
        XCTAssertEqual(try action("http.truncate:after=1KB"), "truncate 1024")
        XCTAssertEqual(try action("http.abort"), "abort reset=true after=-")
        XCTAssertEqual(try action("http.abort:how=fin,after=10"), "abort reset=false after=10")
        XCTAssertEqual(try action("http.status:status=500"), "status 500")
        XCTAssertEqual(try action("http.ws_close:after=2s,reason=bye"), "ws_close \(Duration.seconds(2)) 1011 bye")
        XCTAssertNil(HTTPRule(try Fault(parsing: FaultSpec(parsing: "tcp.latency:ms=10"))))
        XCTAssertNil(HTTPRule(try Fault(parsing: FaultSpec(parsing: "redis.hang"))))
    }

    // MARK: faultline's answers

    /// The bytes faultline writes for `spec`'s answer to a request (no close, HTTP/1.1).
    private func answer(_ spec: String, close: Bool = false, keepAliveHTTP10: Bool = false, bodiless: Bool = false) throws -> String {
        guard case .respond(let status, let body, let headers, _) = try Self.rule(spec).action else {
            XCTFail("\(spec) does not answer")
            return ""
        }
        return text(HTTPAnswer.bytes(status: status, body: body, headers: headers, close: close,
                                     keepAliveHTTP10: keepAliveHTTP10, bodiless: bodiless))
    }

    func testAnswerBytesForThePresets() throws {
        XCTAssertEqual(try answer("http.respond:status=404"),
                       "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n"
                           + #"{"error":"Not Found","status":404}"#)
        XCTAssertEqual(try answer("http.respond:status=405"),
                       "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: 43\r\nAllow: GET, HEAD\r\n\r\n"
                           + #"{"error":"Method Not Allowed","status":405}"#)
        XCTAssertEqual(try answer("http.respond:status=429,retry_after=30"),
                       "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: 42\r\nRetry-After: 30\r\n\r\n"
                           + #"{"error":"Too Many Requests","status":429}"#)
        XCTAssertEqual(try answer("http.respond"),
                       "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 44\r\nRetry-After: 1\r\n\r\n"
                           + #"{"error":"Service Unavailable","status":503}"#)
        XCTAssertEqual(try answer("http.respond:status=204"), "HTTP/1.1 204 No Content\r\n\r\n")
        XCTAssertEqual(try answer("http.respond:status=599"),
                       "HTTP/1.1 599 Status 599\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n"
                           + #"{"error":"Status 599","status":599}"#)
    }

    func testAnswerBytesForTheRequest() throws {
        XCTAssertEqual(try answer("http.respond:status=404", bodiless: true),
                       "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n",
                       "HEAD: the head only, with the length the body would have")
        XCTAssertEqual(try answer("http.respond:status=404", close: true),
                       "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 34\r\nConnection: close\r\n\r\n"
                           + #"{"error":"Not Found","status":404}"#)
        XCTAssertEqual(try answer("http.respond:status=200,body=ok", keepAliveHTTP10: true),
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        XCTAssertEqual(try answer("http.respond:status=200,body=[1]"),
                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]")
        XCTAssertEqual(try answer("http.respond:status=200,body=é"),
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\né", "the length in bytes")
    }

    func testCustomHeadersReplaceTheDefaults() throws {
        XCTAssertEqual(try answer("http.respond:status=200,body=<p>hi</p>,headers=content-type:text/html|X-Served-By:faultline"),
                       "HTTP/1.1 200 OK\r\nContent-Length: 9\r\ncontent-type: text/html\r\nX-Served-By: faultline\r\n\r\n<p>hi</p>")
        XCTAssertEqual(try answer("http.respond:status=503,headers=Retry-After:120", close: true),
                       "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 44\r\nRetry-After: 120\r\n"
                           + "Connection: close\r\n\r\n" + #"{"error":"Service Unavailable","status":503}"#)
    }

    /// faultline's answers keep the connection alive because their length is right: headers
    /// given to `http.respond` may add or replace others, but an answer whose framing lies
    /// (a wrong Content-Length, a Transfer-Encoding it does not use) would make the client read
    /// the next response wrongly. Such a header is refused.
    func testCustomHeadersCannotBreakTheFraming() throws {
        for framing in ["Content-Length:0", "content-length:99", "Transfer-Encoding:chunked"] {
            let spec = "http.respond:status=200,body=hello,headers=\(framing)"
            let name = String(framing.prefix { $0 != ":" })
            XCTAssertThrowsError(try Fault(parsing: FaultSpec(parsing: spec))) { error in
                XCTAssertEqual("\(error)", "invalid fault 'http.respond': parameter 'headers': \(name) is faultline's to set (it frames the body it sends)")
            }
        }
    }

    func testRefusalsCloseAndNeverQuoteTheProblem() {
        XCTAssertEqual(text(HTTPAnswer.refusal(HTTPError(400, "both Content-Length and Transfer-Encoding"))),
                       "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 36\r\nConnection: close\r\n\r\n"
                           + #"{"error":"Bad Request","status":400}"#)
        XCTAssertEqual(text(HTTPAnswer.refusal(HTTPError(431, "head larger than 64 KB"))),
                       "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\nContent-Length: 56\r\n"
                           + "Connection: close\r\n\r\n" + #"{"error":"Request Header Fields Too Large","status":431}"#)
        XCTAssertTrue(text(HTTPAnswer.refusal(HTTPError(505, "version"))).hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
        XCTAssertTrue(text(HTTPAnswer.refusal(HTTPError(501, "coding"))).hasPrefix("HTTP/1.1 501 Not Implemented\r\n"))
        XCTAssertEqual(text(HTTPAnswer.statusLine(500, minorVersion: 0)), "HTTP/1.0 500 Internal Server Error\r\n")
        XCTAssertEqual(text(HTTPAnswer.statusLine(418, minorVersion: 1)), "HTTP/1.1 418 Status 418\r\n")
    }
}
