import Foundation
import XCTest

/// `http.respond` as clients meet it: faultline answers matching requests itself, on the
/// client's keep-alive connection, while the others reach the upstream (aiohttp's server and
/// nginx) on that same connection; the presets (405 Allow, 429 Retry-After) work with the
/// clients that read them; HEAD, HTTP/1.0 and `Connection: close` get what a server sends;
/// `match` picks by method, path, query and headers, and first/every count matching requests.
final class HTTPProtocolRespondTests: HTTPProtocolCase {
    private static let v2NotFound = "http.respond:status=404,method=GET,path=/api/v2/*"
    private static let notFoundBody = #"{"error":"Not Found","status":404}"#

    /// curl fetches v1, v2, v1 on one connection ("Re-using existing connection", one connect):
    /// 200 from the upstream, faultline's 404, 200 again; the upstream saw the two v1 requests
    /// on one connection. requests.Session does the same.
    func testV2IsAnswered404OnTheConnectionThatReachesV1() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, [Self.v2NotFound])
            let run = try curl(port: proxy.port, ["/api/v1/users", "/api/v2/users", "/api/v1/users"],
                               ["-v", "-w", "\n%{http_code} %{num_connects}\n"])
            XCTAssertEqual(run.exitCode, 0, "\(upstream): \(run)")
            XCTAssertEqual(run.stdout, "\(HTTPUpstream.usersV1)\n200 1\n\(Self.notFoundBody)\n404 0\n\(HTTPUpstream.usersV1)\n200 0\n",
                           "\(upstream)")
            XCTAssertEqual(run.stderr.components(separatedBy: "Re-using existing connection").count - 1, 2, "\(upstream): \(run)")
            let seen = upstream.waitForSeen(2)
            XCTAssertEqual(seen.map { "\($0.method) \($0.path)" }, ["GET /api/v1/users", "GET /api/v1/users"], "\(upstream)")
            XCTAssertEqual(Set(seen.map(\.connection)).count, 1, "\(upstream): \(seen)")

            let lines = try python("requests", port: proxy.port, paths: ["/api/v2/users", "/api/v1/users", "/api/v2/users/7"])
            XCTAssertEqual(lines.map { $0.status }, [404, 200, 404], "\(upstream): \(lines)")
            XCTAssertEqual(lines.map { $0.body }, [Self.notFoundBody, HTTPUpstream.usersV1, Self.notFoundBody], "\(upstream)")
            XCTAssertEqual(lines[0].header("content-type"), "application/json")
            XCTAssertEqual(lines[0].string("reason"), "Not Found")
            let after = upstream.waitForSeen(3)
            XCTAssertEqual(after.count, 3, "\(upstream): the v2 requests reached it: \(after)")
            XCTAssertEqual(Set(after.dropFirst(2).map(\.connection)).count, 1)
        }
    }

    /// A 405 with `Allow: GET, HEAD` for POST; the GET beside it goes through.
    func testPostGets405WithAllow() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.respond:status=405,method=POST,path=/api/v1/users"])
        let post = try pythonOne("requests", port: proxy.port, path: "/api/v1/users", ["--method", "POST", "--data-size", "10"])
        XCTAssertEqual(post.status, 405, "\(post)")
        XCTAssertEqual(post.string("reason"), "Method Not Allowed")
        XCTAssertEqual(post.header("allow"), "GET, HEAD", "\(post)")
        XCTAssertEqual(post.body, #"{"error":"Method Not Allowed","status":405}"#)
        let get = try pythonOne("httpx", port: proxy.port, path: "/api/v1/users")
        XCTAssertEqual(get.status, 200, "\(get)")
        XCTAssertEqual(upstream.waitForSeen(1).map(\.method), ["GET"])

        // `allow` overrides the preset; in --fault a comma inside a value is written \,
        let own = try startProxy(upstream, [#"http.respond:status=405,allow=GET\, POST,method=DELETE"#])
        let delete = try pythonOne("requests", port: own.port, path: "/api/v1/users", ["--method", "DELETE"])
        XCTAssertEqual(delete.status, 405, "\(delete)")
        XCTAssertEqual(delete.header("allow"), "GET, POST", "\(delete)")
    }

    /// urllib3's Retry with respect_retry_after_header waits the 429's Retry-After (2 s) before
    /// asking again, and the second request reaches the upstream. 503's preset says 1 s.
    func testRetryAfterIsHonouredByUrllib3() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.respond:status=429,retry_after=2,path=/api/v1/users,first=1",
                                              "http.respond:status=503,path=/api/v2/users,name=unavailable"])
        let answer = try pythonOne("requests", port: proxy.port, path: "/api/v1/users", ["--retries", "2"])
        XCTAssertEqual(answer.status, 200, "\(answer)")
        XCTAssertEqual(answer.body, HTTPUpstream.usersV1)
        let waited = try XCTUnwrap(answer.seconds())
        XCTAssertGreaterThanOrEqual(waited, 2.0, "Retry-After: 2 was not honoured")
        XCTAssertLessThan(waited, 4.5)
        XCTAssertEqual(upstream.waitForSeen(1).count, 1)

        let unavailable = try pythonOne("requests", port: proxy.port, path: "/api/v2/users")
        XCTAssertEqual(unavailable.status, 503)
        XCTAssertEqual(unavailable.header("retry-after"), "1", "\(unavailable)")
        XCTAssertEqual(unavailable.body, #"{"error":"Service Unavailable","status":503}"#)
    }

    /// The OpenTelemetry OTLP/HTTP exporter: a 405 on POST /v1/traces drops the batch with
    /// "Failed to export spans batch code: 405, reason: Method Not Allowed"; a first 503 is
    /// retried after its Retry-After (1 s) and the batch reaches the upstream; with no fault it
    /// is exported through the proxy to either upstream.
    func testOTLPExporterMeets405And503() throws {
        for upstream in try bothUpstreams() {
            let clean = try startProxy(upstream)
            let exported = try python("otlp", port: clean.port, paths: ["/v1/traces"], ["--timeout", "5"])
            XCTAssertEqual(exported.map { $0.string("export") }, ["SUCCESS"], "\(upstream): \(exported)")
        }
        let upstream = try pythonUpstream()
        let refusing = try startProxy(upstream, ["http.respond:status=405,method=POST,path=/v1/traces"])
        let dropped = try python("otlp", port: refusing.port, paths: ["/v1/traces"], ["--timeout", "5"])
        XCTAssertEqual(dropped.map { $0.string("message") ?? $0.string("export") },
                       ["Failed to export spans batch code: 405, reason: Method Not Allowed", "FAILURE"], "\(dropped)")
        XCTAssertEqual(dropped.first?.string("logged"), "ERROR")

        let unavailable = try startProxy(upstream, ["http.respond:status=503,path=/v1/traces,first=1"])
        let retried = try python("otlp", port: unavailable.port, paths: ["/v1/traces"], ["--timeout", "5"])
        XCTAssertEqual(retried.map { $0.string("message") ?? $0.string("export") },
                       ["Transient error Service Unavailable encountered while exporting spans batch, retrying in 1.00s.", "SUCCESS"],
                       "\(retried)")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(retried.last?.seconds()), 1.0)
        XCTAssertEqual(upstream.waitForSeen(1).map { "\($0.method) \($0.path)" }, ["POST /v1/traces"])
    }

    /// Response headers and a body of the fault's own.
    func testOwnHeadersAndBody() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.respond:status=200,body=cached,headers=X-Cache:HIT|Cache-Control:no-store"])
        let answer = try pythonOne("aiohttp", port: proxy.port, path: "/anything")
        XCTAssertEqual(answer.status, 200, "\(answer)")
        XCTAssertEqual(answer.body, "cached")
        XCTAssertEqual(answer.header("x-cache"), "HIT")
        XCTAssertEqual(answer.header("cache-control"), "no-store")
        XCTAssertEqual(answer.header("content-type"), "text/plain; charset=utf-8")
        XCTAssertEqual(upstream.seen.count, 0)
    }

    /// HEAD gets the head alone, whoever answers it (faultline's 404, or the upstream's 200
    /// whose Content-Length announces 5000 bytes that never come); the GET after it on the same
    /// connection is read whole.
    func testHEADGetsNoBody() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.respond:status=404,path=/api/v2/*"])
            let download = try upstream.download(size: 5000, chunked: false)
            let raw = try RawHTTP(port: proxy.port)
            try raw.send(httpRequest("HEAD", "/api/v2/users") + httpRequest("HEAD", download) + httpRequest("GET", "/api/v1/users"))
            let refused = try raw.response(toHEAD: true)
            XCTAssertEqual(refused.status, 404, "\(upstream)")
            XCTAssertEqual(refused.header("content-length"), "\(Self.notFoundBody.utf8.count)", "\(upstream): \(refused.head)")
            let head = try raw.response(toHEAD: true)
            XCTAssertEqual(head.status, 200, "\(upstream)")
            XCTAssertEqual(head.header("content-length"), "5000", "\(upstream): \(head.head)")
            let users = try raw.response()
            XCTAssertEqual(users.status, 200, "\(upstream): the HEAD responses carried bytes: \(users)")
            XCTAssertEqual(users.text, HTTPUpstream.usersV1, "\(upstream)")
            XCTAssertEqual(raw.readToEnd(timeout: 0.3).end, "open", "\(upstream)")

            let curled = try curl(port: proxy.port, ["/api/v2/users"], ["-I"])
            XCTAssertEqual(curled.exitCode, 0, "\(curled)")
            XCTAssertTrue(curled.stdout.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(curled)")
        }
    }

    /// An HTTP/1.0 client: faultline's answer and the upstream's both reach it, and the
    /// connection closes after each unless it asked for keep-alive; a 1.1 request with
    /// `Connection: close` gets `Connection: close` and the end.
    func testHTTP10AndConnectionClose() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, [Self.v2NotFound])
            for path in ["/api/v2/users", "/api/v1/users"] {
                let run = try curl(port: proxy.port, [path], ["--http1.0", "-w", "\n%{http_code}"])
                let expected = path.contains("v2") ? "\(Self.notFoundBody)\n404" : "\(HTTPUpstream.usersV1)\n200"
                XCTAssertEqual(run.stdout, expected, "\(upstream) \(path): \(run)")

                let raw = try RawHTTP(port: proxy.port)
                try raw.send("GET \(path) HTTP/1.0\r\n\r\n")
                let answer = try raw.response()
                XCTAssertEqual(answer.status, path.contains("v2") ? 404 : 200, "\(upstream) \(path)")
                XCTAssertEqual(raw.readToEnd(timeout: 3).end, "EOF", "\(upstream) \(path): an HTTP/1.0 connection stayed open")
            }
            let keepAlive = try RawHTTP(port: proxy.port)
            try keepAlive.send("GET /api/v2/users HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let first = try keepAlive.response()
            XCTAssertEqual(first.status, 404)
            XCTAssertEqual(first.header("connection")?.lowercased(), "keep-alive", "\(upstream): \(first.head)")
            try keepAlive.send("GET /api/v2/users HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            XCTAssertEqual(try keepAlive.response().status, 404, "\(upstream)")

            let closing = try RawHTTP(port: proxy.port)
            try closing.send(httpRequest("GET", "/api/v2/users", ["Connection: close"]))
            let last = try closing.response()
            XCTAssertEqual(last.status, 404)
            XCTAssertEqual(last.header("connection"), "close", "\(upstream): \(last.head)")
            XCTAssertEqual(closing.readToEnd(timeout: 3).end, "EOF", "\(upstream)")
        }
    }

    /// After a response to a request with `Connection: close` the connection ends: a request
    /// the client pipelined behind it gets no answer, not even faultline's (http-bugs.md 6),
    /// whoever answered the first.
    func testNothingIsAnsweredAfterConnectionClose() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, [Self.v2NotFound])
        for first in ["/api/v1/users", "/api/v2/users"] {
            let raw = try RawHTTP(port: proxy.port)
            try raw.send(httpRequest("GET", first, ["Connection: close"]) + httpRequest("GET", "/api/v2/users"))
            let answer = try raw.response()
            XCTAssertEqual(answer.status, first.contains("v1") ? 200 : 404, first)
            XCTAssertEqual(answer.header("connection"), "close", first)
            let (rest, end) = raw.readToEnd(timeout: 5)
            XCTAssertEqual(String(decoding: rest, as: UTF8.self), "", "\(first): answered after Connection: close")
            XCTAssertEqual(end, "EOF", first)
        }
    }

    /// A client using faultline as its HTTP proxy sends the absolute form (`GET
    /// http://host/api/v2/users`), which a server must accept: `path` matches its path
    /// (http-bugs.md 7).
    func testAbsoluteFormTargetIsMatchedByItsPath() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, [Self.v2NotFound])
        let raw = try RawHTTP(port: proxy.port)
        try raw.send("GET http://\(upstream.address)/api/v2/users HTTP/1.1\r\nHost: \(upstream.address)\r\n\r\n")
        let answer = try raw.response()
        XCTAssertEqual(answer.status, 404)
        XCTAssertEqual(answer.text, Self.notFoundBody)
        try raw.send("GET http://\(upstream.address)/api/v1/users HTTP/1.1\r\nHost: \(upstream.address)\r\n\r\n")
        XCTAssertEqual(try raw.response().text, HTTPUpstream.usersV1)
    }

    /// Each match key picks the request it names and leaves its twin alone (the twin reaches
    /// the upstream): query present/absent/equal/regex, header present/absent/equal (any case
    /// of the name)/regex, methods, a glob over segments and a path regex.
    func testMatchByQueryHeadersMethodAndPath() throws {
        let upstream = try pythonUpstream()
        let cases: [(match: String, hit: [String], miss: [String])] = [
            ("query=debug:true", ["/api/v1/users?debug=1"], ["/api/v1/users?page=1"]),
            ("query=debug:false", ["/api/v1/users?page=1"], ["/api/v1/users?debug"]),
            ("query=page:2", ["/api/v1/users?page=2"], ["/api/v1/users?page=3"]),
            ("query=id:regex:^[0-9]+$", ["/api/v1/users?id=42"], ["/api/v1/users?id=4x"]),
            ("request_headers=Authorization:true", ["/api/v1/users", "-H", "Authorization: Bearer t"], ["/api/v1/users"]),
            ("request_headers=Authorization:false", ["/api/v1/users"], ["/api/v1/users", "-H", "Authorization: Bearer t"]),
            ("request_headers=X-Api-Version:2", ["/api/v1/users", "-H", "x-api-version: 2"], ["/api/v1/users", "-H", "X-Api-Version: 3"]),
            ("request_headers=User-Agent:regex:^curl/", ["/api/v1/users"], ["/api/v1/users", "-A", "python-requests/2"]),
            ("method=POST|DELETE", ["/api/v1/users", "-X", "DELETE"], ["/api/v1/users"]),
            ("path=/api/v2/*", ["/api/v2/users/7/memories"], ["/api/v1/users"]),
            ("path=regex:^/api/v[0-9]+/users$", ["/api/v1/users"], ["/api/v1/users/7"]),
        ]
        for (match, hit, miss) in cases {
            let proxy = try startProxy(upstream, ["http.respond:status=418,body=matched,\(match)"])
            for (request, matched) in [(hit, true), (miss, false)] {
                let run = try curl(port: proxy.port, [request[0]], Array(request.dropFirst()) + ["-w", " %{http_code}"])
                if matched {
                    XCTAssertEqual(run.stdout, "matched 418", "\(match) should pick \(request): \(run)")
                } else {
                    XCTAssertFalse(run.stdout.hasPrefix("matched"), "\(match) picked \(request): \(run)")
                }
            }
            proxy.process.stop()
        }
    }

    /// probability picks requests from the seed: the same seed picks the same requests (about
    /// half of them), whatever connections they come on; another seed picks others.
    func testProbabilityIsReproducibleFromTheSeed() throws {
        let upstream = try pythonUpstream()
        let paths = Array(repeating: "/api/v1/users", count: 24)
        func statuses(seed: UInt64) throws -> [Int?] {
            let proxy = try startProxy(upstream, ["http.respond:status=503,probability=0.5"], seed: seed)
            defer { proxy.process.stop() }
            let first = try python("requests", port: proxy.port, paths: Array(paths[..<12])).map { $0.status }
            return try first + python("httpx", port: proxy.port, paths: Array(paths[12...])).map { $0.status }
        }
        let one = try statuses(seed: 7)
        XCTAssertEqual(try statuses(seed: 7), one)
        XCTAssertNotEqual(try statuses(seed: 8), one)
        XCTAssertTrue((6...18).contains(one.filter { $0 == 503 }.count), "\(one)")
        XCTAssertEqual(Set(one), [200, 503])
    }

    /// first and every count the matching requests over the proxy, whatever connection they
    /// come on; requests the fault does not match do not count.
    func testFirstAndEveryCountMatchingRequests() throws {
        let upstream = try pythonUpstream()
        let first = try startProxy(upstream, ["http.respond:status=503,path=/api/v1/users,first=2"])
        let one = try python("requests", port: first.port, paths: ["/api/v1/users", "/api/v2/users", "/api/v2/users", "/api/v1/users"])
        let two = try python("requests", port: first.port, paths: ["/api/v1/users", "/api/v1/users"])
        XCTAssertEqual((one + two).map { $0.status }, [503, 200, 200, 503, 200, 200])

        let every = try startProxy(upstream, ["http.respond:status=503,path=/api/v1/users,every=3"])
        let paths = ["/api/v1/users", "/api/v2/users", "/api/v1/users", "/api/v1/users", "/api/v2/users", "/api/v1/users",
                     "/api/v1/users", "/api/v1/users"]
        let statuses = try python("httpx", port: every.port, paths: paths).map { $0.status }
        XCTAssertEqual(statuses, [200, 200, 200, 503, 200, 200, 200, 503])
    }
}
