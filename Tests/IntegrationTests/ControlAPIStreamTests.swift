import Foundation
import Glibc
import XCTest

/// `GET /events` and `GET /metrics` of `faultline serve` read by real clients: httpx-sse
/// (Tests/clients/sse_client.py) following a scenario played against a real redis-server with
/// redis-cli traffic (events in order, with the fields docs/api.md shows; `?kind=` and `?proxy=`
/// filtering; an unknown kind refused with the list of kinds); a client that never reads
/// dropped once 4 MB wait for it while the API keeps answering; and prometheus_client's parser
/// reading /metrics after known traffic, the samples checked exactly. Ports: API on
/// 127.0.0.1:0, proxies 24760-24769, redis-server 24790.
final class ControlAPIStreamTests: IntegrationCase {
    private static let redisPort: UInt16 = 24790
    private var serve: ServeProcess!
    private var python = ""
    private var redisCLI = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard let server = ScenarioRunCase.which("redis-server") else { throw XCTSkip("redis-server is not installed") }
        guard let cli = ScenarioRunCase.which("redis-cli") else { throw XCTSkip("redis-cli is not installed") }
        guard let python = ScenarioRunCase.which("python3") else { throw XCTSkip("python3 is not installed") }
        let imports = try runCommand(python, ["-c", "import httpx, httpx_sse, prometheus_client"], timeout: 30)
        guard imports.0 == .exited(0) else {
            throw XCTSkip("python3 lacks httpx/httpx_sse/prometheus_client (pip install -r Tests/clients/requirements.txt): \(imports.stderr)")
        }
        self.python = python
        redisCLI = cli
        let redis = try ChildProcess.spawn(server, ["--port", "\(Self.redisPort)", "--bind", "127.0.0.1", "--save", "",
                                                   "--appendonly", "no", "--daemonize", "no"])
        guard waitUntil(timeout: 10, { (try? runCommand(cli, ["-p", "\(Self.redisPort)", "PING"], timeout: 2).stdout) == "PONG\n" }) else {
            throw RedisStartFailure(port: Self.redisPort, output: redis.stdoutText + redis.stderrText)
        }
        serve = try ServeProcess.start()
    }

    override func tearDown() {
        if let serve {
            let log = serve.process.stderrText
            XCTAssertTrue(serve.process.isRunning, "faultline serve ended during the test:\n\(log)")
            XCTAssertEqual(serve.process.stop(grace: 5), .exited(0), "faultline serve on SIGTERM; its log:\n\(log)")
        }
        super.tearDown()
    }

    private var log: String { "--- faultline serve stderr\n\(serve.process.stderrText)" }

    /// `redis-cli -h 127.0.0.1 -p PORT ARGUMENTS`: its stdout.
    @discardableResult
    private func cli(_ port: UInt16, _ arguments: String...) throws -> String {
        let (ended, stdout, stderr) = try runCommand(redisCLI, ["-h", "127.0.0.1", "-p", "\(port)"] + arguments, timeout: 10)
        XCTAssertEqual(ended, .exited(0), "redis-cli \(arguments): \(stderr)")
        return stdout
    }

    /// sse_client.py against this serve, running in the background.
    private func sse(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess.spawn(python, [ScenarioRunCase.packageRoot + "/Tests/clients/sse_client.py",
                                        "--url", "http://\(serve.api)"] + arguments)
    }

    /// The JSON lines a client printed.
    private static func lines(_ child: ChildProcess) -> [[String: Any]] {
        child.stdoutText.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    /// Waits until the client's stream is open (its answer head arrived: the server registered it).
    private func waitOpen(_ child: ChildProcess, file: StaticString = #filePath, line: UInt = #line) {
        let open = waitUntil(timeout: 15) { child.stdoutText.contains(#"{"connected": 200, "contentType": "text/event-stream"}"#) || !child.isRunning }
        XCTAssertTrue(open && child.isRunning, "sse_client did not connect: \(child.stdoutText)\(child.stderrText)", file: file, line: line)
    }

    /// The events a client printed, after it ended by itself (count or seconds).
    private func events(_ child: ChildProcess, end: String, file: StaticString = #filePath, line: UInt = #line) -> [[String: Any]] {
        XCTAssertEqual(child.waitForExit(timeout: 20), .exited(0), "sse_client: \(child.stdoutText)\(child.stderrText)", file: file, line: line)
        let all = Self.lines(child)
        XCTAssertEqual(all.last?["end"] as? String, end, "sse_client output:\n\(child.stdoutText)\(child.stderrText)", file: file, line: line)
        return all.filter { $0["event"] != nil }
    }

    private static func data(_ event: [String: Any]) -> [String: Any] { event["data"] as? [String: Any] ?? [:] }
    private static func summary(_ events: [[String: Any]]) -> String {
        events.map { "\($0["event"] ?? "?") \(data($0)["proxy"] ?? "-") \(data($0)["error"] ?? data($0)["name"] ?? "")" }.joined(separator: "\n")
    }

    // MARK: - events

    func testEventsFollowAScenarioInOrderAndFiltersFilter() throws {
        let other = try serve.request("POST", "/proxies", json: #"{"name":"other","listen":"127.0.0.1:24761","upstream":"127.0.0.1:\#(Self.redisPort)","protocol":"redis"}"#)
        XCTAssertEqual(other.status, 201, "\(other)")
        // A: four kinds, comma-separated, every proxy; B: two kinds, repeated, proxy redis; C: proxy other.
        let all = try sse(["--kind", "phaseStarted,faultOn,faultFired,requestAnswered", "--count", "9", "--seconds", "20"])
        let redisOnly = try sse(["--kind", "faultFired", "--kind", "requestAnswered", "--proxy", "redis", "--count", "5", "--seconds", "20"])
        let otherOnly = try sse(["--proxy", "other", "--kind", "requestAnswered,faultFired", "--count", "1", "--seconds", "20"])
        [all, redisOnly, otherOnly].forEach { waitOpen($0) }

        let started = try serve.request("POST", "/scenarios", json: """
            name: stream-demo
            seed: 5
            proxies:
              redis:
                listen: 127.0.0.1:24760
                upstream: 127.0.0.1:\(Self.redisPort)
                protocol: redis
            timeline:
              - phase: healthy
                for: 1500ms
              - phase: outage
                for: 1500ms
                faults:
                  - redis.error: { error: LOADING }
            expect:
              - during: outage
                proxy: redis
                max_requests: 5
            """)
        XCTAssertEqual(started.status, 201, "\(started)\n\(log)")
        XCTAssertEqual(try cli(24760, "SET", "k", "v"), "OK\n")
        XCTAssertTrue(waitUntil(timeout: 3) { (try? serve.request("GET", "/scenarios/current").object["phase"] as? String) == "outage" })
        XCTAssertEqual(try cli(24760, "GET", "k"), "LOADING Redis is loading the dataset in memory\n\n")
        XCTAssertEqual(try cli(24760, "GET", "k"), "LOADING Redis is loading the dataset in memory\n\n")
        XCTAssertEqual(try cli(24761, "PING"), "PONG\n")
        XCTAssertTrue(waitUntil(timeout: 5) { (try? serve.request("GET", "/scenarios/current").object["state"] as? String) == "passed" },
                      "\((try? serve.request("GET", "/scenarios/current"))?.text ?? "")")

        let seen = events(all, end: "count")
        print("events (kind filter only):\n\(Self.summary(seen))")
        XCTAssertEqual(seen.map { $0["event"] as? String ?? "?" },
                       ["phaseStarted", "requestAnswered", "phaseStarted", "faultOn", "faultFired", "requestAnswered",
                        "faultFired", "requestAnswered", "requestAnswered"], Self.summary(seen))
        guard seen.count == 9 else { return }
        let keys = seen.map { $0["keys"] as? [String] ?? [] }
        let answered = ["time", "kind", "proxy", "link", "byFaultline", "latency", "handshake"]
        let failed = ["time", "kind", "proxy", "link", "error", "byFaultline", "latency", "handshake"]
        let fired = ["time", "kind", "proxy", "link", "name", "faultKind", "action"]
        XCTAssertEqual(keys, [["time", "kind", "name"], answered, ["time", "kind", "name"], ["time", "kind", "proxy", "name", "faultKind"],
                              fired, failed, fired, failed, answered])
        let data = seen.map(Self.data)
        for (event, object) in zip(seen, data) { XCTAssertEqual(object["kind"] as? String, event["event"] as? String) }
        XCTAssertEqual(data.map { $0["proxy"] as? String ?? "-" }, ["-", "redis", "-", "redis", "redis", "redis", "redis", "redis", "other"])
        XCTAssertEqual(data[0]["name"] as? String, "healthy")
        XCTAssertEqual(data[2]["name"] as? String, "outage")
        for index in [3, 4, 6] {
            XCTAssertEqual(data[index]["name"] as? String, "redis.error")
            XCTAssertEqual(data[index]["faultKind"] as? String, "redis.error")
        }
        XCTAssertEqual(data[4]["action"] as? String, "answered")
        XCTAssertEqual(data[6]["action"] as? String, "answered")
        XCTAssertEqual([1, 5, 7, 8].map { data[$0]["byFaultline"] as? Bool }, [false, true, true, false])
        XCTAssertEqual([5, 7].map { data[$0]["error"] as? String }, ["LOADING", "LOADING"])
        XCTAssertTrue([1, 5, 7, 8].allSatisfy { data[$0]["handshake"] as? Bool == false })
        // Each redis-cli is its own connection; a fault and its answer share one.
        let links = [1, 4, 5, 6, 7].map { data[$0]["link"] as? Int ?? -1 }
        XCTAssertEqual(links[1], links[2])
        XCTAssertEqual(links[3], links[4])
        XCTAssertEqual(Set([links[0], links[1], links[3]]).count, 3, "links \(links)")
        let ids = seen.map { Int($0["id"] as? String ?? "") ?? -1 }
        XCTAssertEqual(ids, ids.sorted(), "ids must grow")
        XCTAssertEqual(Set(ids).count, ids.count)
        let times = data.map { $0["time"] as? Double ?? -1 }
        XCTAssertEqual(times, times.sorted(), "times must not go back")
        XCTAssertEqual(times[2] - times[0], 1.5, accuracy: 0.2, "the outage phase starts 1.5 s after healthy: \(times)")
        XCTAssertLessThan(times[3] - times[2], 0.05)

        let fromRedis = events(redisOnly, end: "count")
        XCTAssertEqual(fromRedis.map { $0["event"] as? String ?? "?" },
                       ["requestAnswered", "faultFired", "requestAnswered", "faultFired", "requestAnswered"], Self.summary(fromRedis))
        XCTAssertTrue(fromRedis.allSatisfy { Self.data($0)["proxy"] as? String == "redis" }, Self.summary(fromRedis))
        XCTAssertEqual(fromRedis.map { Self.data($0)["time"] as? Double ?? 0 }, [1, 4, 5, 6, 7].map { times[$0] })

        let fromOther = events(otherOnly, end: "count")
        XCTAssertEqual(fromOther.map { "\($0["event"] ?? "?") \(Self.data($0)["proxy"] ?? "-")" }, ["requestAnswered other"], Self.summary(fromOther))
    }

    func testUnknownKindIsRefusedWithTheKinds() throws {
        for (kind, hint) in [("bogus", ""), ("faultfired", " (did you mean 'faultFired'?)")] {
            let client = try sse(["--kind", "faultFired", "--kind", kind, "--seconds", "10"])
            XCTAssertEqual(client.waitForExit(timeout: 15), .exited(1), client.stdoutText + client.stderrText)
            let first = try XCTUnwrap(Self.lines(client).first, client.stderrText)
            XCTAssertEqual(first["connected"] as? Int, 400, client.stdoutText)
            XCTAssertEqual(first["contentType"] as? String, "text/plain; charset=utf-8")
            let body = first["body"] as? String ?? ""
            let prefix = #"{"error":"kind: '\#(kind)' is not an event kind\#(hint); kinds: "#
            XCTAssertTrue(body.hasPrefix(prefix), body)
            XCTAssertTrue(body.hasSuffix(#"","status":400}"# + "\n"), body)
            let listed = body.dropFirst(prefix.count).prefix { $0 != "\"" }.components(separatedBy: ", ")
            for documented in ["listening", "connectionOpened", "requestAnswered", "responseStarted", "connectionClosed", "faultOn",
                               "faultOff", "faultApplied", "faultFired", "phaseStarted", "phaseEnded"] {
                XCTAssertTrue(listed.contains(documented), "\(documented) not in the kinds listed: \(listed)")
            }
        }
        let filter = try serve.request("GET", "/events?proxy=redis&knd=faultOn")
        XCTAssertEqual(filter.status, 400)
        XCTAssertEqual(filter.text, #"{"error":"'knd' is not a filter of /events; filters: proxy, kind","status":400}"# + "\n")
    }

    // MARK: - a stuck reader

    /// A client that opens /events and never reads (a 4 KB receive buffer) while pipelined
    /// PINGs make about 25 MB of events: the server drops it once 4 MB wait (no event after
    /// that, and its connection closed within 3 s, not held open with the 4 MB), while GET
    /// /proxies answers within 1 s throughout and another stream goes on.
    func testStuckReaderIsDroppedAndTheAPIKeepsAnswering() throws {
        let created = try serve.request("POST", "/proxies", json: #"{"name":"flood","listen":"127.0.0.1:24762","upstream":"127.0.0.1:\#(Self.redisPort)","protocol":"redis"}"#)
        XCTAssertEqual(created.status, 201, "\(created)")
        let reader = try sse(["--kind", "faultOn", "--count", "1", "--seconds", "60"])
        waitOpen(reader)
        let stuck = try Sock.connect(port: serve.port, receiveBuffer: 4096)
        defer { Sock.close(stuck) }
        try Sock.sendAll(stuck, Array("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        let stuckPort = Sock.localPort(stuck)
        let rssBefore = serve.process.residentKB ?? 0

        let pings = 100_000
        let finished = Locked(false)
        let flood = Worker("PING flood") {
            defer { finished.update { $0 = true } }
            let fd = try Sock.connect(port: 24762)
            defer { Sock.close(fd) }
            let batch = Array(String(repeating: "*1\r\n$4\r\nPING\r\n", count: 1000).utf8)
            for _ in 0..<(pings / 1000) {
                try Sock.sendAll(fd, batch)
                _ = try Sock.readExactly(fd, 7 * 1000)  // 1000 × "+PONG\r\n"
            }
        }
        var slowest = 0.0
        var calls = 0
        while !finished.current {
            let reply = try serve.request("GET", "/proxies", timeout: 5)
            XCTAssertEqual(reply.status, 200)
            slowest = max(slowest, reply.seconds)
            calls += 1
            usleep(50_000)
        }
        try flood.join(timeout: 60)
        print("\(pings) pipelined PINGs; \(calls) GET /proxies meanwhile, the slowest in \(String(format: "%.1f ms", slowest * 1000)); serve RSS \(rssBefore) → \(serve.process.residentKB ?? 0) KB")
        XCTAssertLessThan(slowest, 1.0, "GET /proxies must answer within 1 s while events pile up\n\(log)")

        // Dropped: the server's end of the stuck connection is no longer established.
        let closed = waitUntil(timeout: 3) {
            !Sock.kernelSockets(ports: [serve.port]).contains { $0.localPort == serve.port && $0.remotePort == stuckPort }
        }
        XCTAssertTrue(closed, "the server still holds the stuck /events connection open 3 s after the flood (4 MB limit)\n\(log)")

        // What the stuck client finds when it reads at last: at most the 4 MB plus socket
        // buffers, then the end of the connection; if the closing comment made it, nothing after
        // it but the last chunk.
        let (bytes, end) = Sock.readUntilClosed(stuck, timeout: 5)
        let text = String(decoding: bytes, as: UTF8.self)
        let closing = ": closed: more than 4 MB of events unread\n\n"
        print("the stuck client read \(bytes.count) bytes, then \(end); closing comment: \(text.contains(closing))")
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"), String(text.prefix(300)))
        XCTAssertLessThan(bytes.count, 8 << 20, "far more than 4 MB reached the stuck client")
        if let comment = text.range(of: closing) {
            XCTAssertEqual(String(text[comment.upperBound...]), "\r\n0\r\n\r\n", "after the closing comment")
        }
        XCTAssertTrue(end == "EOF" || end == "RST", "the dropped connection is still \(end) after the client read everything\n\(log)")

        // Other streams are untouched: the reader gets the next faultOn.
        let toxic = try serve.request("POST", "/proxies/flood/toxics", json: #"{"type":"latency","attributes":{"latency":10}}"#)
        XCTAssertEqual(toxic.status, 200, "\(toxic)")
        let next = events(reader, end: "count")
        XCTAssertEqual(next.map { Self.data($0)["proxy"] as? String }, ["flood"], "\(next)")
        XCTAssertEqual(try serve.request("GET", "/version").status, 200)
    }

    // MARK: - metrics

    /// Known redis-cli traffic through a redis proxy with a toxic answering GET with LOADING;
    /// /metrics parsed by prometheus_client: the samples exactly.
    func testMetricsAfterTrafficParseWithPrometheusClient() throws {
        let created = try serve.request("POST", "/proxies", json: #"{"name":"m","listen":"127.0.0.1:24763","upstream":"127.0.0.1:\#(Self.redisPort)","protocol":"redis"}"#)
        XCTAssertEqual(created.status, 201, "\(created)")
        let toxic = try serve.request("POST", "/proxies/m/toxics", json: #"{"name":"loading","type":"redis.error","attributes":{"error":"LOADING","commands":["GET"]}}"#)
        XCTAssertEqual(toxic.status, 200, "\(toxic)")
        XCTAssertEqual(try cli(24763, "SET", "k", "v"), "OK\n")
        XCTAssertEqual(try cli(24763, "GET", "k"), "LOADING Redis is loading the dataset in memory\n\n")
        XCTAssertEqual(try cli(24763, "GET", "k"), "LOADING Redis is loading the dataset in memory\n\n")
        XCTAssertEqual(try cli(24763, "PING"), "PONG\n")
        XCTAssertTrue(waitUntil(timeout: 3) { (try? serve.request("GET", "/metrics").text.contains(#"faultline_connections_open{proxy="m"} 0"#)) == true })

        let metrics = try serve.request("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        let path = NSTemporaryDirectory() + "faultline-stream-\(getpid())-metrics.txt"
        try metrics.text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let families = try runCommand("/bin/sh", ["-c", #"exec "$0" "$1" < "$2""#, python,
                                                  ScenarioRunCase.packageRoot + "/Tests/clients/prometheus_parse.py", path], timeout: 30)
        XCTAssertEqual(families.0, .exited(0), "prometheus_parse.py: \(families.stderr)\n\(metrics.text)")
        XCTAssertTrue(families.stdout.contains("faultline_faults_fired counter"), families.stdout)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for sample in family.samples:
                    print(json.dumps({"name": sample.name, "labels": sample.labels, "value": sample.value}))
            """
        let parsed = try runCommand(python, ["-c", script, path], timeout: 30)
        XCTAssertEqual(parsed.0, .exited(0), parsed.stderr)
        let samples = parsed.stdout.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            samples.first { $0["name"] as? String == name && ($0["labels"] as? [String: String]) == labels }?["value"] as? Double
        }
        let expected: [(String, [String: String], Double)] = [
            ("faultline_connections_total", ["proxy": "m"], 4),
            ("faultline_connections_open", ["proxy": "m"], 0),
            ("faultline_requests_total", ["proxy": "m"], 4),
            ("faultline_requests_by_command_total", ["proxy": "m", "command": "GET"], 2),
            ("faultline_requests_by_command_total", ["proxy": "m", "command": "SET"], 1),
            ("faultline_requests_by_command_total", ["proxy": "m", "command": "PING"], 1),
            ("faultline_faults_fired_total", ["proxy": "m", "fault": "loading", "kind": "redis.error", "action": "answered"], 2),
            ("faultline_fault_active", ["proxy": "m", "fault": "loading", "kind": "redis.error"], 1),
            ("faultline_responses_total", ["proxy": "m", "outcome": "answered"], 2),
            ("faultline_responses_total", ["proxy": "m", "outcome": "error"], 2),
            ("faultline_responses_total", ["proxy": "m", "outcome": "abandoned"], 0),
            ("faultline_request_errors_total", ["proxy": "m", "error": "LOADING"], 2),
            ("faultline_request_latency_seconds_count", ["proxy": "m"], 4),
        ]
        for (name, labels, number) in expected {
            XCTAssertEqual(value(name, labels), number, "\(name)\(labels)\n\(metrics.text)")
        }
        XCTAssertEqual(samples.filter { $0["name"] as? String == "faultline_requests_by_command_total" }.count, 3, metrics.text)
    }
}
