import Foundation
import Glibc
import XCTest

/// The control API as a user meets it with the real `curl` binary (`curl -s -i`): for every
/// endpoint and every error path, the exact status line, Content-Type and body, and the
/// request id on routed answers (absent on 404/405). Each test starts its own `faultline
/// serve` (--api 127.0.0.1:0, the port read from its log); proxies listen on 24700-24759.
/// Also what `serve` refuses at start (exit 2) and `--config` proxies listening at once.
final class ControlAPICurlTests: IntegrationCase {
    private static let json = "application/json"
    private static let text = "text/plain; charset=utf-8"
    private static let nothing = "127.0.0.1:24759"  // an upstream nobody listens on
    private var serve: ServeProcess!
    private var curlPath = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard let curl = ScenarioRunCase.which("curl") else { throw XCTSkip("curl is not installed") }
        curlPath = curl
    }

    override func tearDown() {
        if let serve {
            let log = serve.process.stderrText
            XCTAssertTrue(serve.process.isRunning, "faultline serve ended during the test:\n\(log)")
            XCTAssertEqual(serve.process.stop(grace: 5), .exited(0), "faultline serve on SIGTERM; its log:\n\(log)")
        }
        super.tearDown()
    }

    // MARK: - curl

    /// What `curl -s -i` printed: the last status line (after any 100 Continue), the header
    /// fields, the body.
    struct CurlAnswer: CustomStringConvertible {
        let statusLine: String
        let fields: [(name: String, value: String)]
        let body: String
        let raw: String

        init(_ raw: String) {
            self.raw = raw
            var rest = Substring(raw)
            var head = Substring("")
            while rest.hasPrefix("HTTP/"), let end = rest.range(of: "\r\n\r\n") {
                head = rest[..<end.lowerBound]
                rest = rest[end.upperBound...]
                if !(head.split(separator: " ").dropFirst().first?.hasPrefix("1") ?? false) { break }
            }
            let lines = head.components(separatedBy: "\r\n")
            statusLine = lines.first ?? ""
            fields = lines.dropFirst().compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            body = String(rest)
        }

        func header(_ name: String) -> String? { fields.last { $0.name.lowercased() == name.lowercased() }?.value }
        var description: String { "curl printed:\n\(raw)" }
    }

    /// `curl -s -i --max-time 10 ARGUMENTS`.
    private func curl(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CurlAnswer {
        let (ended, stdout, stderr) = try runCommand(curlPath, ["-s", "-i", "--max-time", "10"] + arguments, timeout: 20)
        XCTAssertEqual(ended, .exited(0), "curl \(arguments): \(stderr)", file: file, line: line)
        return CurlAnswer(stdout)
    }

    /// `curl -X METHOD [--data-binary BODY] EXTRA http://127.0.0.1:PORT/PATH`.
    private func call(_ method: String, _ path: String, _ body: String? = nil, _ extra: [String] = [],
                      port: UInt16? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> CurlAnswer {
        var arguments = method == "GET" ? [] : ["-X", method]
        if let body { arguments += ["--data-binary", body] }
        return try curl(arguments + extra + ["http://127.0.0.1:\(port ?? serve.port)\(path)"], file: file, line: line)
    }

    /// Asserts the status line, Content-Type (nil: none), body, and the request id (on every
    /// routed answer: 20 characters of 0-9a-v; none on 404/405 of the router).
    private func expect(_ answer: CurlAnswer, _ statusLine: String, _ contentType: String?, _ body: String,
                        routed: Bool = true, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(answer.statusLine, statusLine, "\(answer)", file: file, line: line)
        XCTAssertEqual(answer.header("Content-Type"), contentType, "\(answer)", file: file, line: line)
        XCTAssertEqual(answer.body, body, "\(answer)", file: file, line: line)
        if contentType == Self.text {
            XCTAssertEqual(answer.header("X-Content-Type-Options"), "nosniff", "\(answer)", file: file, line: line)
        }
        let id = answer.header("X-Toxiproxy-Request-Id")
        if routed {
            XCTAssertNotNil(id?.wholeMatch(of: /[0-9a-v]{20}/), "request id \(id ?? "missing")\n\(answer)", file: file, line: line)
        } else {
            XCTAssertNil(id, "\(answer)", file: file, line: line)
        }
    }

    private static func error(_ message: String, _ status: Int) -> String { #"{"error":"\#(message)","status":\#(status)}"# + "\n" }
    private static func proxy(_ name: String, _ port: Int, upstream: String = nothing, enabled: Bool = true, toxics: String = "") -> String {
        #"{"name":"\#(name)","listen":"127.0.0.1:\#(port)","upstream":"\#(upstream)","enabled":\#(enabled),"toxics":[\#(toxics)]}"#
    }
    private static func latency(_ name: String, _ ms: Int, jitter: Int = 0, toxicity: String = "1") -> String {
        #"{"attributes":{"latency":\#(ms),"jitter":\#(jitter)},"name":"\#(name)","type":"latency","stream":"downstream","toxicity":\#(toxicity)}"#
    }

    private static func connectErrno(_ port: UInt16) -> Int32 {
        do { Sock.close(try Sock.connect(port: port, timeout: 2)); return 0 } catch let failure as SystemCallFailure { return failure.code } catch { return -1 }
    }

    // MARK: - Toxiproxy's endpoints

    func testVersionAndProxyEndpoints() throws {
        serve = try ServeProcess.start()
        let version = try runCommand(try faultlineBinary(), ["--version"], timeout: 10).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        expect(try call("GET", "/version"), "HTTP/1.1 200 OK", "application/json;charset=utf-8", #"{"version": "\#(version)"}"# + "\n")
        expect(try call("GET", "/proxies"), "HTTP/1.1 200 OK", Self.json, "{}")

        let created = Self.proxy("redis", 24701)
        let body = #"{"name":"redis","listen":"127.0.0.1:24701","upstream":"\#(Self.nothing)","enabled":true}"#
        expect(try call("POST", "/proxies", body), "HTTP/1.1 201 Created", Self.json, created)
        expect(try call("POST", "/proxies", body), "HTTP/1.1 409 Conflict", Self.text, Self.error("proxy already exists", 409))
        expect(try call("GET", "/proxies"), "HTTP/1.1 200 OK", Self.json, #"{"redis":\#(created)}"#)
        expect(try call("GET", "/proxies/redis"), "HTTP/1.1 200 OK", Self.json, created)

        // Toggle as toxiproxy-cli does (POST), and back with PATCH: the port really follows.
        expect(try call("POST", "/proxies/redis", #"{"enabled":false}"#), "HTTP/1.1 200 OK", Self.json, Self.proxy("redis", 24701, enabled: false))
        XCTAssertEqual(Self.connectErrno(24701), ECONNREFUSED)
        expect(try call("PATCH", "/proxies/redis", #"{"enabled":true}"#), "HTTP/1.1 200 OK", Self.json, created)
        XCTAssertEqual(Self.connectErrno(24701), 0)
        expect(try call("POST", "/proxies/redis", #"{"upstream":"127.0.0.1:24758"}"#), "HTTP/1.1 200 OK", Self.json,
               Self.proxy("redis", 24701, upstream: "127.0.0.1:24758"))
        expect(try call("PATCH", "/proxies/nope", #"{"enabled":true}"#), "HTTP/1.1 404 Not Found", Self.text, Self.error("proxy not found", 404))

        expect(try call("DELETE", "/proxies/redis"), "HTTP/1.1 204 No Content", nil, "")
        expect(try call("GET", "/proxies/redis"), "HTTP/1.1 404 Not Found", Self.text, Self.error("proxy not found", 404))
        expect(try call("DELETE", "/proxies/redis"), "HTTP/1.1 404 Not Found", Self.text, Self.error("proxy not found", 404))
        expect(try call("POST", "/proxies", #"{"upstream":"\#(Self.nothing)"}"#), "HTTP/1.1 400 Bad Request", Self.text,
               Self.error("missing required field: name", 400))
    }

    func testToxicEndpoints() throws {
        serve = try ServeProcess.start()
        _ = try call("POST", "/proxies", #"{"name":"t","listen":"127.0.0.1:24702","upstream":"\#(Self.nothing)"}"#)
        expect(try call("GET", "/proxies/t/toxics"), "HTTP/1.1 200 OK", Self.json, "[]")
        let add = #"{"name":"lat","type":"latency","attributes":{"latency":300}}"#
        expect(try call("POST", "/proxies/t/toxics", add), "HTTP/1.1 200 OK", Self.json, Self.latency("lat", 300))
        expect(try call("POST", "/proxies/t/toxics", add), "HTTP/1.1 409 Conflict", Self.text, Self.error("toxic already exists", 409))
        expect(try call("GET", "/proxies/t/toxics"), "HTTP/1.1 200 OK", Self.json, "[\(Self.latency("lat", 300))]")
        expect(try call("GET", "/proxies/t/toxics/lat"), "HTTP/1.1 200 OK", Self.json, Self.latency("lat", 300))
        expect(try call("GET", "/proxies/t"), "HTTP/1.1 200 OK", Self.json, Self.proxy("t", 24702, toxics: Self.latency("lat", 300)))

        // Updates merge attributes (POST as the clients send it, PATCH too).
        expect(try call("POST", "/proxies/t/toxics/lat", #"{"attributes":{"jitter":10}}"#), "HTTP/1.1 200 OK", Self.json,
               Self.latency("lat", 300, jitter: 10))
        expect(try call("PATCH", "/proxies/t/toxics/lat", #"{"toxicity":0.5}"#), "HTTP/1.1 200 OK", Self.json,
               Self.latency("lat", 300, jitter: 10, toxicity: "0.5"))
        expect(try call("PATCH", "/proxies/t/toxics/lat", #"{"attributes":{"latency":"slow"}}"#), "HTTP/1.1 400 Bad Request", Self.text,
               Self.error("bad request body: attributes.latency must be a whole number, not text", 400))
        expect(try call("GET", "/proxies/t/toxics/lat"), "HTTP/1.1 200 OK", Self.json, Self.latency("lat", 300, jitter: 10, toxicity: "0.5"))

        expect(try call("DELETE", "/proxies/t/toxics/lat"), "HTTP/1.1 204 No Content", nil, "")
        for method in ["GET", "DELETE", "PATCH"] {
            expect(try call(method, "/proxies/t/toxics/lat", method == "PATCH" ? "{}" : nil), "HTTP/1.1 404 Not Found", Self.text,
                   Self.error("toxic not found", 404))
        }
        expect(try call("POST", "/proxies/t/toxics", #"{"type":"noop"}"#), "HTTP/1.1 400 Bad Request", Self.text, Self.error("invalid toxic type", 400))
        expect(try call("POST", "/proxies/t/toxics", #"{"type":"latency","stream":"sideways"}"#), "HTTP/1.1 400 Bad Request", Self.text,
               Self.error("stream was invalid, can be either upstream or downstream", 400))
        expect(try call("GET", "/proxies/nope/toxics"), "HTTP/1.1 404 Not Found", Self.text, Self.error("proxy not found", 404))
        expect(try call("POST", "/proxies/nope/toxics", add), "HTTP/1.1 404 Not Found", Self.text, Self.error("proxy not found", 404))
    }

    func testPopulateAndReset() throws {
        serve = try ServeProcess.start()
        func entry(_ name: String, _ port: Int, _ upstream: String = Self.nothing) -> String {
            #"{"name":"\#(name)","listen":"127.0.0.1:\#(port)","upstream":"\#(upstream)"}"#
        }
        expect(try call("POST", "/populate", "[\(entry("a", 24703)),\(entry("b", 24704))]"), "HTTP/1.1 201 Created", Self.json,
               #"{"proxies":[\#(Self.proxy("a", 24703)),\#(Self.proxy("b", 24704))]}"#)
        _ = try call("POST", "/proxies/a/toxics", #"{"name":"lat","type":"latency","attributes":{"latency":300}}"#)
        _ = try call("POST", "/proxies/b", #"{"enabled":false}"#)
        // The same listen and upstream: kept, toxics and all; another upstream: replaced.
        expect(try call("POST", "/populate", "[\(entry("a", 24703)),\(entry("c", 24705, "127.0.0.1:24758"))]"), "HTTP/1.1 201 Created", Self.json,
               #"{"proxies":[\#(Self.proxy("a", 24703, toxics: Self.latency("lat", 300))),\#(Self.proxy("c", 24705, upstream: "127.0.0.1:24758"))]}"#)
        expect(try call("POST", "/populate", "[\(entry("d", 24706)),{\"name\":\"e\",\"listen\":\"127.0.0.1:24707\"}]"), "HTTP/1.1 400 Bad Request",
               Self.json, #"{"error":"missing required field: upstream at proxy 2","status":400,"proxies":null}"#)
        expect(try call("GET", "/proxies/d"), "HTTP/1.1 404 Not Found", Self.text, Self.error("proxy not found", 404))

        expect(try call("POST", "/reset"), "HTTP/1.1 204 No Content", nil, "")
        expect(try call("GET", "/proxies"), "HTTP/1.1 200 OK", Self.json,
               #"{"a":\#(Self.proxy("a", 24703)),"b":\#(Self.proxy("b", 24704)),"c":\#(Self.proxy("c", 24705, upstream: "127.0.0.1:24758"))}"#)
        XCTAssertEqual(Self.connectErrno(24704), 0, "reset must enable b again")
    }

    // MARK: - faultline's endpoints

    func testScenarioEndpoints() throws {
        serve = try ServeProcess.start()
        let folder = NSTemporaryDirectory() + "faultline-curl-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let yaml = """
            name: curl-demo
            seed: 7
            proxies:
              redis:
                listen: 127.0.0.1:24710
                upstream: \(Self.nothing)
                protocol: redis
            timeline:
              - phase: healthy
                for: 1s
              - phase: outage
                for: 20s
                faults:
                  - redis.error: { error: LOADING }
            expect:
              - during: outage
                proxy: redis
                max_requests: 5
            """
        try yaml.write(toFile: "\(folder)/scenario.yaml", atomically: true, encoding: .utf8)
        expect(try call("GET", "/scenarios/current"), "HTTP/1.1 404 Not Found", Self.text, Self.error("no scenario has been started", 404))

        let started = try call("POST", "/scenarios", "@\(folder)/scenario.yaml")
        let phases = #""phases":[{"name":"healthy","start":0.000,"for":1.000,"state":"running"},{"name":"outage","start":1.000,"for":20.000,"state":"pending"}]"#
        let pending = #""verdicts":[{"label":"max_requests: 5 (during: outage, proxy: redis)","kind":"max_requests","status":"pending","observed":"phase outage has not started","final":false}]"#
        expect(started, "HTTP/1.1 201 Created", Self.json,
               #"{"name":"curl-demo","state":"running","seed":7,"elapsed":E,"duration":21.000,"phase":"healthy",\#(phases),"proxies":["redis"],\#(pending)}"#
                   .replacingOccurrences(of: "E", with: Self.elapsed(started.body)))
        XCTAssertEqual(Self.connectErrno(24710), 0, "the scenario's proxy listens once POST answered")
        let shown = try call("GET", "/scenarios/current")
        expect(shown, "HTTP/1.1 200 OK", Self.json, #"{"name":"curl-demo","state":"running","seed":7,"elapsed":E,"duration":21.000,"phase":"healthy",\#(phases),"proxies":["redis"],\#(pending)}"#
                .replacingOccurrences(of: "E", with: Self.elapsed(shown.body)))
        expect(try call("GET", "/proxies/redis"), "HTTP/1.1 200 OK", Self.json,
               #"{"name":"redis","listen":"127.0.0.1:24710","upstream":"\#(Self.nothing)","enabled":true,"toxics":[],"protocol":"redis"}"#)
        expect(try call("POST", "/scenarios", "@\(folder)/scenario.yaml"), "HTTP/1.1 409 Conflict", Self.text,
               Self.error("scenario curl-demo is running; DELETE /scenarios/current stops it", 409))

        let stopped = try call("DELETE", "/scenarios/current")
        let cut = #""phases":[{"name":"healthy","start":0.000,"for":1.000,"state":"cut"},{"name":"outage","start":1.000,"for":20.000,"state":"pending"}]"#
        expect(stopped, "HTTP/1.1 200 OK", Self.json,
               #"{"name":"curl-demo","state":"stopped","seed":7,"elapsed":E,"duration":21.000,"phase":null,\#(cut),"proxies":["redis"],"verdicts":[{"label":"max_requests: 5 (during: outage, proxy: redis)","kind":"max_requests","status":"error","observed":"phase 'outage' never started","final":true}]}"#
                .replacingOccurrences(of: "E", with: Self.elapsed(stopped.body)))
        expect(try call("DELETE", "/scenarios/current"), "HTTP/1.1 404 Not Found", Self.text, Self.error("no scenario is running", 404))
        XCTAssertTrue(waitUntil(timeout: 3) { Self.connectErrno(24710) == ECONNREFUSED }, "the stopped scenario's proxy still listens")
        expect(try call("GET", "/proxies"), "HTTP/1.1 200 OK", Self.json, "{}")

        // The same scenario as JSON; then one with two mistakes, each with its line and column.
        let json = #"{"name":"curl-json","proxies":{"api":{"listen":"127.0.0.1:24711","upstream":"\#(Self.nothing)"}},"timeline":[{"phase":"only","for":"10s"}]}"#
        let fromJSON = try call("POST", "/scenarios", json, ["-H", "Content-Type: application/json"])
        XCTAssertEqual(fromJSON.statusLine, "HTTP/1.1 201 Created", "\(fromJSON)")
        XCTAssertEqual(fromJSON.header("Content-Type"), Self.json)
        XCTAssertTrue(fromJSON.body.hasPrefix(#"{"name":"curl-json","state":"running","seed":"#), "\(fromJSON)")
        expect(try call("DELETE", "/scenarios/current"), "HTTP/1.1 200 OK", Self.json, try call("GET", "/scenarios/current").body)
        let bad = "name: bad\nproxies:\n  r:\n    listen: 127.0.0.1:24712\ntimeline:\n  - phase: a\n    for: xs\n"
        expect(try call("POST", "/scenarios", bad), "HTTP/1.1 400 Bad Request", Self.text,
               #"{"error":"the scenario has 2 errors: scenario:3:3: missing key 'upstream' (where the proxy forwards, e.g. 127.0.0.1:6379)","status":400,"errors":["scenario:3:3: missing key 'upstream' (where the proxy forwards, e.g. 127.0.0.1:6379)","scenario:7:10: for: expected a duration such as 250ms, 2s or 1m, found 'xs'"]}"# + "\n")
    }

    /// The `elapsed` value of a scenario answer (the rest is compared exactly).
    private static func elapsed(_ body: String) -> String {
        body.firstMatch(of: /"elapsed":(\d+\.\d{3}),/).map { String($0.1) } ?? "missing"
    }

    func testMetricsEndpoint() throws {
        serve = try ServeProcess.start()
        _ = try call("POST", "/proxies", #"{"name":"m","listen":"127.0.0.1:24713","upstream":"\#(Self.nothing)"}"#)
        let metrics = try call("GET", "/metrics")
        expect(metrics, "HTTP/1.1 200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.body)
        for line in ["# TYPE faultline_proxy_enabled gauge",
                     #"faultline_proxy_enabled{proxy="m",listen="127.0.0.1:24713",upstream="\#(Self.nothing)",protocol="tcp"} 1"#,
                     "# TYPE faultline_connections_total counter", #"faultline_connections_total{proxy="m"} 0"#] {
            XCTAssertTrue(metrics.body.split(separator: "\n").contains(Substring(line)), "no line \(line)\n\(metrics)")
        }
        let status = try runCommand(curlPath, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:\(serve.port)/metrics"], timeout: 20)
        XCTAssertEqual(status.stdout, "405")
    }

    // MARK: - errors

    func testBodyErrorsNameTheProblem() throws {
        serve = try ServeProcess.start()
        let cases: [(String, String)] = [
            (#"{"name":"x",}"#, "invalid JSON at line 1, column 13: a key in double quotes was expected"),
            (#"{"name" "x"}"#, #"invalid JSON at line 1, column 9: ':' was expected after the key \"name\""#),
            (#"{"name":"x"} extra"#, "invalid JSON at line 1, column 14: unexpected text after the JSON value"),
            (#"{"name":"x","upstream":"\#(Self.nothing)","enabeld":true}"#,
             "unknown field 'enabeld' (did you mean 'enabled'?); known fields: name, listen, upstream, enabled, toxics, Logger, protocol, tls, upstream_tls"),
            (#"{"name":"x","upstream":"\#(Self.nothing)","enabled":"yes"}"#, "enabled must be true or false, not text"),
            (#"{"name":"x","upstream":"\#(Self.nothing)","listen":5}"#, "listen must be text, not a number"),
        ]
        for (body, message) in cases {
            expect(try call("POST", "/proxies", body), "HTTP/1.1 400 Bad Request", Self.text, Self.error("bad request body: \(message)", 400))
        }
        expect(try call("POST", "/proxies", ""), "HTTP/1.1 400 Bad Request", Self.text, Self.error("bad request body: EOF", 400))

        // A port someone else holds: Toxiproxy's 500 and Go's words.
        let held = try Sock.listen(port: 24714)
        defer { Sock.close(held.fd) }
        expect(try call("POST", "/proxies", #"{"name":"clash","listen":"127.0.0.1:24714","upstream":"\#(Self.nothing)"}"#),
               "HTTP/1.1 500 Internal Server Error", Self.text, Self.error("listen tcp 127.0.0.1:24714: bind: address already in use", 500))
        expect(try call("GET", "/proxies"), "HTTP/1.1 200 OK", Self.json, "{}")
    }

    func testRoutingErrorsAndBodyLimit() throws {
        serve = try ServeProcess.start()
        for path in ["/nothing", "/proxies/a/b", "/proxies/a/toxics/b/c", "/"] {
            expect(try call("GET", path), "HTTP/1.1 404 Not Found", Self.text, "404 page not found\n", routed: false)
        }
        for (method, path) in [("DELETE", "/version"), ("PUT", "/proxies"), ("GET", "/reset"), ("POST", "/events"), ("PATCH", "/scenarios/current")] {
            expect(try call(method, path), "HTTP/1.1 405 Method Not Allowed", nil, "", routed: false)
        }
        // Over 1 MiB: read whole and answered 413 in the API's form (before routing: no id).
        let folder = NSTemporaryDirectory() + "faultline-curl-\(getpid())-big.json"
        try String(repeating: " ", count: (1 << 20) + 1).write(toFile: folder, atomically: true, encoding: .utf8)
        defer { unlink(folder) }
        expect(try call("POST", "/proxies", "@\(folder)"), "HTTP/1.1 413 Request Entity Too Large", Self.text,
               Self.error("request body too large: 1048577 bytes, at most 1048576", 413), routed: false)
        XCTAssertEqual(try call("GET", "/version").statusLine, "HTTP/1.1 200 OK")
    }

    func testBrowserRequestsAreRefused() throws {
        serve = try ServeProcess.start()
        expect(try call("GET", "/proxies", nil, ["-A", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"]),
               "HTTP/1.1 403 Forbidden", Self.text, "User agent not allowed\n")
        expect(try call("POST", "/proxies", #"{"name":"x","upstream":"\#(Self.nothing)"}"#, ["-H", "Origin: http://evil.example"]),
               "HTTP/1.1 403 Forbidden", Self.text, "Cross-origin requests not allowed (Origin: http://evil.example)\n")
        expect(try call("POST", "/reset", nil, ["-H", "Sec-Fetch-Site: cross-site"]),
               "HTTP/1.1 403 Forbidden", Self.text, "Browser requests not allowed (Sec-Fetch-Site: cross-site)\n")
        expect(try call("GET", "/proxies"), "HTTP/1.1 200 OK", Self.json, "{}")
        // The API's own origin is not cross-origin.
        expect(try call("GET", "/proxies", nil, ["-H", "Origin: http://127.0.0.1:\(serve.port)"]), "HTTP/1.1 200 OK", Self.json, "{}")
    }

    func testBearerToken() throws {
        let token = "0123456789abcdef0123456789abcdef"
        serve = try ServeProcess.start(["--token", token])
        XCTAssertTrue(serve.process.stderrText.contains("API listening on http://127.0.0.1:\(serve.port) (bearer token required)"))
        let refusal = Self.error("missing or wrong bearer token: send Authorization: Bearer TOKEN", 401)
        for extra in [[], ["-H", "Authorization: Bearer 0123456789abcdef0123456789abcdeX"], ["-H", "Authorization: \(token)"]] {
            let answer = try call("GET", "/proxies", nil, extra)
            expect(answer, "HTTP/1.1 401 Unauthorized", Self.text, refusal, routed: false)
            XCTAssertEqual(answer.header("WWW-Authenticate"), #"Bearer realm="faultline""#, "\(answer)")
        }
        expect(try call("GET", "/proxies", nil, ["-H", "Authorization: Bearer \(token)"]), "HTTP/1.1 200 OK", Self.json, "{}")
        expect(try call("GET", "/nothing", nil, ["-H", "Authorization: Bearer wrong"]), "HTTP/1.1 401 Unauthorized", Self.text, refusal, routed: false)
    }

    /// `--insecure-no-token`: an API beyond loopback without a token, said in the log; Toxiproxy's
    /// clients (which cannot send a token) reach it as they reach Toxiproxy.
    func testInsecureNoTokenServesBeyondLoopbackWithAWarning() throws {
        let process = try ChildProcess.spawn(try faultlineBinary(), ["serve", "--api", "0.0.0.0:24743", "--insecure-no-token"])
        defer { _ = process.stop() }
        XCTAssertTrue(process.waitForStderr(containing: "API listening on http://0.0.0.0:24743", timeout: 10), process.stderrText)
        XCTAssertTrue(process.stderrText.contains(
            "warning faultline: [Faultline] the API on 0.0.0.0:24743 takes requests from anyone who can reach it, without a token (--insecure-no-token)"),
            process.stderrText)
        let (status, stdout, _) = try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:24743/proxies"], timeout: 10)
        XCTAssertEqual(status, .exited(0))
        XCTAssertEqual(stdout, "200")
    }

    // MARK: - serve at start

    func testServeRefusesUnsafeOrBrokenStarts() throws {
        let exposed = try runFaultline(["serve", "--api", "0.0.0.0:24740"], in: NSTemporaryDirectory(), timeout: 10)
        XCTAssertEqual(exposed.0, .exited(2), exposed.stderr)
        XCTAssertEqual(exposed.stderr, "faultline: --api: 0.0.0.0:24740 is reachable from other hosts: give --token (at least 16 characters) so only holders of it can drive the proxies, or listen on 127.0.0.1 (in a container whose clients cannot send a token, e.g. Toxiproxy's, --insecure-no-token)\n")
        let both = try runFaultline(["serve", "--api", "0.0.0.0:24740", "--insecure-no-token", "--token", String(repeating: "a", count: 16)],
                                    in: NSTemporaryDirectory(), timeout: 10)
        XCTAssertEqual(both.0, .exited(2), both.stderr)
        XCTAssertEqual(both.stderr, "faultline: --insecure-no-token: and a token (--token or FAULTLINE_API_TOKEN) contradict each other; give one\n")
        let short = try runFaultline(["serve", "--api", "127.0.0.1:24741", "--token", "fifteen-chars15"], in: NSTemporaryDirectory(), timeout: 10)
        XCTAssertEqual(short.0, .exited(2), short.stderr)
        XCTAssertEqual(short.stderr, "faultline: --token: the token must be at least 16 characters without spaces (e.g. openssl rand -hex 16)\n")

        let path = NSTemporaryDirectory() + "faultline-curl-\(getpid())-broken.json"
        try #"[{"name":"cfg","listen":"127.0.0.1:24742""#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let broken = try runFaultline(["serve", "--api", "127.0.0.1:24741", "--config", path], in: NSTemporaryDirectory(), timeout: 10)
        XCTAssertEqual(broken.0, .exited(2), broken.stderr)
        XCTAssertTrue(broken.stderr.hasPrefix("faultline: --config: \(path): bad request body: invalid JSON at line 1, column 42: "), broken.stderr)
        XCTAssertFalse(broken.stderr.contains("API listening"), broken.stderr)
    }

    func testConfigFileProxiesListenAtStart() throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let path = NSTemporaryDirectory() + "faultline-curl-\(getpid())-good.json"
        try #"[{"name":"cfg","listen":"127.0.0.1:24743","upstream":"127.0.0.1:\#(echo.port)","enabled":true}]"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        serve = try ServeProcess.start(["--config", path])
        // Before any API call: the proxy carries data.
        let fd = try Sock.connect(port: 24743, timeout: 2)
        defer { Sock.close(fd) }
        XCTAssertLessThan(try Sock.roundTrip(fd, Array("hello".utf8)), 0.5)
        expect(try call("GET", "/proxies"), "HTTP/1.1 200 OK", Self.json,
               #"{"cfg":\#(Self.proxy("cfg", 24743, upstream: "127.0.0.1:\(echo.port)"))}"#)
    }
}
