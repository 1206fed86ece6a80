import Foundation
import Glibc
import XCTest

/// Nothing a client sends stops or stalls `faultline serve`'s API: raw sockets sending garbage
/// (random bytes, a request line without a version, a 100 KB header, a header without a colon,
/// broken framing), requests that stall (a chunked body that never ends, a Content-Length never
/// reached, a slowloris sending a byte a second), 200 idle connections, 100,000 nested `[`, a
/// YAML alias bomb, invalid UTF-8 and lone surrogates in names, `%00` in paths. After each, `GET
/// /version` answers within 1 s and the process runs; at the end its stderr shows no crash and
/// no libevent warning, and SIGTERM ends it with 0. Each test starts its own serve (127.0.0.1:0).
final class ControlAPIRobustnessTests: IntegrationCase {
    private var serve: ServeProcess!

    override func setUpWithError() throws {
        try super.setUpWithError()
        serve = try ServeProcess.start()
    }

    override func tearDown() {
        if let serve {
            let log = serve.process.stderrText
            XCTAssertTrue(serve.process.isRunning, "faultline serve ended during the test:\n\(log)")
            let crash = log.split(separator: "\n").filter {
                $0.contains("Fatal error") || $0.contains("crashed") || $0.hasPrefix("[warn]") || $0.hasPrefix("[err]")
            }
            XCTAssertEqual(crash, [], "faultline serve's stderr:\n\(log)")
            XCTAssertEqual(serve.process.stop(grace: 5), .exited(0), "faultline serve on SIGTERM; its log:\n\(log)")
        }
        super.tearDown()
    }

    private var log: String { "--- faultline serve stderr\n\(serve.process.stderrText)" }

    /// The server runs and answers `GET /version` 200 within 1 s.
    private func assertAlive(_ after: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(serve.process.isRunning, "faultline serve died after \(after)\n\(log)", file: file, line: line)
        do {
            let reply = try serve.request("GET", "/version", timeout: 2)
            XCTAssertEqual(reply.status, 200, "after \(after): \(reply)", file: file, line: line)
            XCTAssertLessThan(reply.seconds, 1.0, "after \(after): \(reply)", file: file, line: line)
        } catch {
            XCTFail("GET /version after \(after): \(error)\n\(log)", file: file, line: line)
        }
    }

    /// Sends `bytes` on a new connection (a send the server cuts short is fine) and reads until
    /// it closes or `wait` passes: the answer's status line (or "") and how the connection ended.
    private func exchange(_ bytes: [UInt8], wait: Double = 3) throws -> (status: String, end: String, seconds: Double) {
        let fd = try Sock.connect(port: serve.port, timeout: 5)
        defer { Sock.close(fd) }
        let started = monotonicSeconds()
        try? Sock.sendAll(fd, bytes)
        let (answer, end) = Sock.readUntilClosed(fd, timeout: wait)
        let text = String(decoding: answer, as: UTF8.self)
        return (text.components(separatedBy: "\r\n").first ?? "", end, monotonicSeconds() - started)
    }

    /// Bytes from a fixed-seed generator (the same garbage every run).
    private static func garbage(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    // MARK: - garbage

    /// Each malformed request is answered 4xx and closed, at once; the server goes on.
    func testMalformedRequestsAreRefusedAtOnce() throws {
        let big = "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n"
        let manyFields = "GET /version HTTP/1.1\r\n" + (0..<20_000).map { "X-\($0): y\r\n" }.joined() + "\r\n"
        let cases: [(String, [UInt8])] = [
            ("4 KB of random bytes", Self.garbage(4096, seed: 1)),
            ("64 KB of random bytes", Self.garbage(65536, seed: 2)),
            ("a request line without a version", Array("GET /version\r\n\r\n".utf8)),
            ("a bare request line", Array("GET /\r\n".utf8)),
            ("an unknown HTTP version", Array("GET /version HTTP/9.9\r\nHost: x\r\n\r\n".utf8)),
            ("a 100 KB header", Array(big.utf8)),
            ("20,000 header fields", Array(manyFields.utf8)),
            ("a header without a colon", Array("GET /version HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n".utf8)),
            ("a NUL in the request line", Array("GET /ver\u{0}sion HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
            ("empty lines only", Array("\r\n\r\n\r\n".utf8)),
            ("a negative Content-Length", Array("POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".utf8)),
            ("a 20-digit Content-Length", Array("POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n".utf8)),
            ("Content-Length and chunked", Array("POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8)),
            ("a chunk size that is not hex", Array("POST /proxies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8)),
            ("a 2^64 chunk", Array("POST /proxies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n".utf8)),
        ]
        var seen: [String] = []
        for (name, bytes) in cases {
            let (status, end, seconds) = try exchange(bytes)
            seen.append("\(name): \(status.isEmpty ? "no answer" : status), \(end) in \(String(format: "%.0f ms", seconds * 1000))")
            XCTAssertTrue(status.hasPrefix("HTTP/1.1 4"), "\(name): \(status.isEmpty ? "no answer" : status)\n\(log)")
            XCTAssertTrue(end == "EOF" || end == "RST", "\(name): the connection stayed \(end)")
            XCTAssertLessThan(seconds, 1.0, "\(name)")
            assertAlive(name)
        }
        print(seen.joined(separator: "\n"))
    }

    // MARK: - stalls

    /// Requests that never complete are closed after the 15 s read timeout — the slowloris, who
    /// sends a byte a second, too — while `GET /version` answers within 1 s throughout.
    func testStalledRequestsAreClosedByTheReadTimeout() throws {
        let stalls: [(String, String, Bool)] = [
            ("a chunked body that never ends", "POST /proxies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", false),
            ("a Content-Length larger than sent", "POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"na", false),
            ("half a request head", "GET /version HTTP/1.1\r\nHo", false),
            ("a connection that sends nothing", "", false),
            ("a slowloris (a header byte a second)", "GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: ", true),
        ]
        let started = monotonicSeconds()
        let workers = stalls.map { name, head, drip in
            Worker<(String, Double)>(name) { [port = serve.port] in
                let fd = try Sock.connect(port: port, timeout: 5)
                defer { Sock.close(fd) }
                try Sock.sendAll(fd, Array(head.utf8))
                let opened = monotonicSeconds()
                guard drip else {
                    let (_, end) = Sock.readUntilClosed(fd, timeout: 19)
                    return (end, monotonicSeconds() - opened)
                }
                while monotonicSeconds() - opened < 19 {
                    if Sock.waitReadable(fd, timeout: 1) {
                        let (_, outcome) = Sock.receiveOnce(fd)
                        return ("\(outcome)", monotonicSeconds() - opened)
                    }
                    guard (try? Sock.sendAll(fd, [0x61])) != nil else { return ("send failed", monotonicSeconds() - opened) }
                }
                return ("open", monotonicSeconds() - opened)
            }
        }
        var slowest = 0.0
        var calls = 0
        while monotonicSeconds() - started < 20, workers.contains(where: { (try? $0.join(timeout: 0)) == nil }) {
            let reply = try serve.request("GET", "/version", timeout: 5)
            XCTAssertEqual(reply.status, 200)
            slowest = max(slowest, reply.seconds)
            calls += 1
            usleep(200_000)
        }
        print("\(calls) GET /version while stalled requests were open, the slowest in \(String(format: "%.1f ms", slowest * 1000))")
        XCTAssertLessThan(slowest, 1.0)
        for (worker, stall) in zip(workers, stalls) {
            let (end, seconds) = try worker.join(timeout: 5)
            print("\(stall.0): \(end) after \(String(format: "%.1f", seconds)) s")
            XCTAssertTrue(["EOF", "RST", "error Connection reset by peer (errno 104)"].contains(end) || end.hasSuffix(" bytes"),
                          "\(stall.0): \(end) after \(seconds) s (the read timeout is 15 s)\n\(log)")
            XCTAssertLessThan(seconds, 17, "\(stall.0): closed only after \(seconds) s (the read timeout is 15 s)")
            if !stall.2 { XCTAssertGreaterThan(seconds, 13, "\(stall.0): closed after \(seconds) s, before the 15 s read timeout") }
        }
        assertAlive("the stalled requests")
    }

    /// 200 connections opened and left idle: the API still answers within 1 s (reads and a
    /// change), and once they close the server holds no more descriptors than before.
    func testTwoHundredIdleConnections() throws {
        let before = try serve.process.settledDescriptors()
        let idle = try (0..<200).map { _ in try Sock.connect(port: serve.port, timeout: 5) }
        var closed = false
        defer { if !closed { idle.forEach(Sock.close) } }
        usleep(200_000)
        assertAlive("200 idle connections")
        let created = try serve.request("POST", "/proxies", json: #"{"name":"idle","listen":"127.0.0.1:24800","upstream":"127.0.0.1:24801"}"#)
        XCTAssertEqual(created.status, 201, "\(created)")
        XCTAssertLessThan(created.seconds, 1.0)
        let removed = try serve.request("DELETE", "/proxies/idle")
        XCTAssertEqual(removed.status, 204, "\(removed)")
        let during = serve.process.openDescriptors ?? 0
        idle.forEach(Sock.close)
        closed = true
        let after = try serve.process.settledDescriptors()
        print("API descriptors: \(before) before, \(during) with 200 idle connections, \(after) after they closed")
        XCTAssertGreaterThanOrEqual(during, before + 200, "the server did not accept the 200 connections")
        XCTAssertLessThanOrEqual(after, before, "descriptors left behind by closed idle connections (or the deleted proxy)")
        assertAlive("closing 200 idle connections")
    }

    // MARK: - hostile bodies and names

    /// Deep nesting, an alias bomb, invalid UTF-8 and lone surrogates in names: each a 400 in
    /// the API's words; `%00` and invalid UTF-8 in paths: 404s. Nothing is created.
    func testHostileBodiesAndNames() throws {
        let created = try serve.request("POST", "/proxies", json: #"{"name":"m","listen":"127.0.0.1:24802","upstream":"127.0.0.1:24801"}"#)
        XCTAssertEqual(created.status, 201, "\(created)")
        let deep = String(repeating: "[", count: 100_000)
        let nested = "bad request body: invalid JSON at line 1, column 65: nested deeper than 64 levels"
        let bodies: [(String, String, String, Int, String)] = [
            ("100,000 [ as a proxy", "/proxies", deep, 400, #"{"error":"\#(nested)","status":400}"# + "\n"),
            ("100,000 [ as a toxic", "/proxies/m/toxics", deep, 400, #"{"error":"\#(nested)","status":400}"# + "\n"),
            ("100,000 [ then ] to populate", "/populate", deep + String(repeating: "]", count: 100_000), 400,
             #"{"error":"\#(nested)","status":400,"proxies":null}"#),
            ("100,000 {\"a\": as a proxy", "/proxies", String(repeating: #"{"a":"#, count: 100_000), 400,
             #"{"error":"bad request body: invalid JSON at line 1, column 321: nested deeper than 64 levels","status":400}"# + "\n"),
            ("a lone surrogate in a name", "/proxies", #"{"name":"a\ud800b","upstream":"127.0.0.1:1"}"#, 400,
             #"{"error":"bad request body: invalid JSON at line 1, column 11: a lone surrogate \\ud800 (a pair is needed)","status":400}"# + "\n"),
            ("NUL in a name", "/proxies", #"{"name":"a\u0000b","upstream":"127.0.0.1:1"}"#, 400,
             #"{"error":"bad request body: name: 'a\u0000b' cannot name a proxy: use printable characters without '/', at most 200 bytes, not . or ..","status":400}"# + "\n"),
        ]
        for (name, path, body, status, answer) in bodies {
            let reply = try serve.request("POST", path, json: body)
            XCTAssertEqual(reply.status, status, "\(name): \(reply)")
            XCTAssertEqual(reply.text, answer, name)
            assertAlive(name)
        }
        // 100,000 [ as a scenario goes to the YAML reader: a 400 with its line and column.
        let scenario = try serve.request("POST", "/scenarios", json: deep)
        XCTAssertEqual(scenario.status, 400, "\(scenario)")
        XCTAssertTrue(scenario.text.hasPrefix(#"{"error":"the scenario has 1 error: scenario:1:1: invalid YAML: "#), "\(scenario)")
        assertAlive("100,000 [ as a scenario")
        // Aliases nine deep would expand to 10^9 nodes.
        var bomb = [#"l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#]
        for level in 1...8 { bomb.append("l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",") + "]") }
        let expanded = try serve.request("POST", "/scenarios", json: (bomb + ["name: *l8"]).joined(separator: "\n"))
        XCTAssertEqual(expanded.status, 400, "\(expanded)")
        XCTAssertLessThan(expanded.seconds, 2.0, "\(expanded)")
        assertAlive("a YAML alias bomb")

        // Invalid UTF-8 inside JSON text, sent as raw bytes.
        for (path, prefix, column) in [("/proxies", #"{"name":"a"#, 10), ("/proxies/m/toxics", #"{"type":"latency","name":"x"#, 27)] {
            let connection = try RawHTTP(port: serve.port)
            defer { connection.close() }
            let body = Array(prefix.utf8) + [0xFF, 0xFE] + Array(#"b","upstream":"127.0.0.1:1"}"#.utf8)
            try connection.send(Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
            let response = try connection.response()
            XCTAssertEqual(response.status, 400, "\(path): \(response.text)")
            XCTAssertEqual(response.text, #"{"error":"bad request body: invalid JSON at line 1, column \#(column): text that is not valid UTF-8","status":400}"# + "\n")
            assertAlive("invalid UTF-8 in a name for \(path)")
        }

        let missingProxy = #"{"error":"proxy not found","status":404}"# + "\n"
        let paths: [(String, String, Int, String)] = [
            ("GET", "/proxies/a%00b", 404, missingProxy),
            ("DELETE", "/proxies/a%00b", 404, missingProxy),
            ("DELETE", "/proxies/m%00", 404, missingProxy),
            ("GET", "/proxies/m/toxics/%00", 404, #"{"error":"toxic not found","status":404}"# + "\n"),
            ("DELETE", "/proxies/m/toxics/%00", 404, #"{"error":"toxic not found","status":404}"# + "\n"),
            ("GET", "/proxies/%ff%fe/toxics", 404, missingProxy),
            ("DELETE", "/proxies/%ff%fe", 404, missingProxy),
            ("GET", "/%00", 404, "404 page not found\n"),
            ("GET", "/version%00", 404, "404 page not found\n"),
            ("GET", "/proxies%00/m", 404, "404 page not found\n"),
        ]
        for (method, path, status, text) in paths {
            let reply = try serve.request(method, path)
            XCTAssertEqual(reply.status, status, "\(reply)")
            XCTAssertEqual(reply.text, text, "\(method) \(path)")
            assertAlive("\(method) \(path)")
        }
        let events = try serve.request("GET", "/events?kind=%ff%00")
        XCTAssertEqual(events.status, 400, "\(events)")
        XCTAssertTrue(events.text.hasPrefix(#"{"error":"kind: '"#), "\(events)")
        let all = try serve.request("GET", "/proxies")
        XCTAssertEqual(Array((all.object).keys), ["m"], "only m exists: \(all)")
        assertAlive("the hostile bodies and names")
    }
}
