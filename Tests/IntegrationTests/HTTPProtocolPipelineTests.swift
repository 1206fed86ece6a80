import Foundation
import XCTest

/// What must pass through `--protocol http` unchanged, in front of aiohttp's server and nginx:
/// 50 pipelined requests answered in order while faultline answers some itself and holds
/// others; 16 MB uploads (Content-Length and chunked) and downloads intact by sha256, with and
/// without an active fault (the session's fast path and its framed path); Expect: 100-continue
/// through to the upstream, and a faulted request with Expect answered without the body.
final class HTTPProtocolPipelineTests: HTTPProtocolCase {
    /// Faults that leave the requests of these tests alone but keep the session framing them.
    private static let unrelated = ["http.respond:status=404,path=/nowhere"]

    /// 50 requests in one write: every third faultline's 404, every third a held upstream
    /// response (http.delay 20 ms), the rest downloads of 100+i bytes; 50 responses in order,
    /// each with its body, and the connection still open.
    func testFiftyPipelinedRequestsAnsweredInOrder() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.respond:status=404,path=/api/v2/*",
                                                  "http.delay:delay=20ms,path=/api/v1/users"])
            var requests = ""
            var expected: [(status: Int, body: String?, length: Int)] = []
            for index in 0..<50 {
                switch index % 3 {
                case 0:
                    requests += httpRequest("GET", "/api/v2/users")
                    expected.append((404, #"{"error":"Not Found","status":404}"#, 34))
                case 1:
                    requests += httpRequest("GET", "/api/v1/users")
                    expected.append((200, HTTPUpstream.usersV1, HTTPUpstream.usersV1.utf8.count))
                default:
                    requests += httpRequest("GET", try upstream.download(size: 100 + index, chunked: index % 2 == 0))
                    expected.append((200, nil, 100 + index))
                }
            }
            let raw = try RawHTTP(port: proxy.port)
            try raw.send(requests)
            for (index, want) in expected.enumerated() {
                let response = try raw.response()
                XCTAssertEqual(response.status, want.status, "\(upstream): response \(index)")
                XCTAssertEqual(response.body.count, want.length, "\(upstream): response \(index)")
                if let body = want.body { XCTAssertEqual(response.text, body, "\(upstream): response \(index)") }
            }
            XCTAssertEqual(raw.readToEnd(timeout: 0.3).end, "open", "\(upstream)")
            let seen = upstream.waitForSeen(33)
            XCTAssertEqual(seen.count, 33, "\(upstream): the 17 v2 requests must not reach it")
            XCTAssertEqual(Set(seen.map(\.connection)).count, 1, "\(upstream)")
        }
    }

    /// 300 requests at once from aiohttp over 32 connections, a third answered by faultline, a
    /// third held 50 ms, a third downloads of their own size: each gets its own answer.
    func testConcurrentConnectionsEachGetTheirOwnAnswers() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.respond:status=404,path=/api/v2/*", "http.delay:delay=50ms,path=/api/v1/users"])
            var paths: [String] = []
            var sizes: [String: Int] = [:]
            for index in 0..<300 {
                switch index % 3 {
                case 0: paths.append("/api/v2/users")
                case 1: paths.append("/api/v1/users")
                default:
                    let path = try upstream.download(size: 1000 + index, chunked: index % 2 == 0)
                    paths.append(path)
                    sizes[path] = 1000 + index
                }
            }
            let lines = try python("aiohttp", port: proxy.port, paths: paths, ["--concurrency", "32"])
            XCTAssertEqual(lines.count, 300, "\(upstream)")
            for line in lines {
                let path = line.string("path") ?? "?"
                let expected = path.hasPrefix("/api/v2") ? (404, 34) : path.hasPrefix("/api/v1") ? (200, 54) : (200, sizes[path] ?? -1)
                XCTAssertTrue(line.status == expected.0 && line.int("length") == expected.1, "\(upstream): \(line)")
            }
            let seen = upstream.waitForSeen(200)
            XCTAssertEqual(seen.count, 200, "\(upstream)")
            XCTAssertLessThanOrEqual(Set(seen.map(\.connection)).count, 32, "\(upstream)")
        }
    }

    /// A client that sends its FIN right after three pipelined requests (a 200, faultline's
    /// 404, a 200 held 300 ms) still gets all three, then the end, as nginx alone answers it
    /// (aiohttp closes on a half-closed client without answering, so nginx is the upstream).
    func testHalfClosedClientGetsEveryResponse() throws {
        let nginx = try nginxUpstream()
        let proxy = try startProxy(nginx, ["http.respond:status=404,path=/api/v2/*", "http.delay:delay=300ms,path=/status/404"])
        let fd = try Sock.connect(port: proxy.port)
        defer { Sock.close(fd) }
        try Sock.sendAll(fd, Array((httpRequest("GET", "/api/v1/users") + httpRequest("GET", "/api/v2/users")
                                    + httpRequest("GET", "/status/404")).utf8))
        Sock.shutdownWrite(fd)
        let (bytes, end) = Sock.readUntilClosed(fd, timeout: 5)
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertEqual(end, "EOF")
        // Each response's status line follows the body before it.
        let statusLines = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix { $0 != "\r\n" } }
        XCTAssertEqual(statusLines, ["200 OK", "404 Not Found", "404 Not Found"], text)
        XCTAssertTrue(text.hasSuffix(#"{"status": 404, "from": "upstream"}"#), text)
    }

    /// 16 MB POSTed with Content-Length and chunked by requests reach aiohttp whole (its sha256
    /// of what it read); PUT by curl reach nginx whole (the file it wrote).
    func testSixteenMegabyteUploads() throws {
        let size = 16 << 20
        let aiohttpServer = try pythonUpstream()
        for faults in [[], Self.unrelated] {
            let proxy = try startProxy(aiohttpServer, faults)
            for chunked in [false, true] {
                let lines = try python("requests", port: proxy.port, paths: ["/upload"],
                                       ["--method", "POST", "--data-size", "\(size)"] + (chunked ? ["--chunked"] : []))
                let sent = try XCTUnwrap(lines.first { $0.int("sent") != nil }, "\(lines)")
                let answer = try XCTUnwrap(lines.last, "\(lines)")
                XCTAssertEqual(answer.status, 200, "faults \(faults), chunked \(chunked): \(answer)")
                XCTAssertEqual(answer.body, #"{"length": \#(size), "sha256": "\#(sent.string("sha256") ?? "")"}"#,
                               "faults \(faults), chunked \(chunked)")
            }
        }
        let nginx = try nginxUpstream()
        let file = "\(folder)/upload.bin"
        let digest = try writePatternFile(file, size: size)
        for faults in [[], Self.unrelated] {
            let proxy = try startProxy(nginx, faults)
            for chunked in [false, true] {
                let name = "\(faults.count)-\(chunked)"
                let run = try curl(port: proxy.port, ["/upload/\(name)"], ["-X", "PUT", "--data-binary", "@\(file)", "-w", "%{http_code}"]
                                   + (chunked ? ["-H", "Transfer-Encoding: chunked"] : []))
                XCTAssertEqual(run.stdout, "201", "nginx, \(name): \(run)")
                XCTAssertEqual(try digestOfFile(try XCTUnwrap(nginx.uploaded(name))), digest, "nginx, \(name)")
            }
        }
    }

    /// 16 MB downloads, Content-Length and chunked, read by requests through the proxy, have
    /// the sha256 they have straight from the upstream.
    func testSixteenMegabyteDownloads() throws {
        for upstream in try bothUpstreams() {
            for chunked in [false, true] {
                let path = try upstream.download(size: 16 << 20, chunked: chunked)
                let expected = try directDigest(upstream, path)
                XCTAssertEqual(expected.length, 16 << 20, "\(upstream) \(path)")
                for faults in [[], Self.unrelated] {
                    let proxy = try startProxy(upstream, faults)
                    let answer = try pythonOne("requests", port: proxy.port, path: path)
                    XCTAssertEqual(answer.int("length"), expected.length, "\(upstream) \(path) \(faults): \(answer)")
                    XCTAssertEqual(answer.string("sha256"), expected.sha256, "\(upstream) \(path) \(faults)")
                    proxy.process.stop()
                }
            }
        }
    }

    /// curl -H 'Expect: 100-continue' sends its body after the upstream's 100 Continue, which
    /// faultline passes on: the upload arrives whole, with or without a fault on the proxy.
    func testExpectContinueReachesTheUpstream() throws {
        let file = "\(folder)/expect.bin"
        let digest = try writePatternFile(file, size: 1 << 20)
        let aiohttpServer = try pythonUpstream()
        let nginx = try nginxUpstream()
        for faults in [[], Self.unrelated] {
            for upstream in [aiohttpServer, nginx] {
                let proxy = try startProxy(upstream, faults)
                let put = upstream.kind == .nginx
                let target = put ? "/upload/expect-\(faults.count)" : "/upload"
                let run = try curl(port: proxy.port, [target], ["-v", "-H", "Expect: 100-continue", "--data-binary", "@\(file)"]
                                   + (put ? ["-X", "PUT"] : []) + ["-w", "\n%{http_code}"])
                XCTAssertTrue(run.stderr.contains("< HTTP/1.1 100 Continue"), "\(upstream) \(faults): \(run)")
                if put {
                    XCTAssertTrue(run.stdout.hasSuffix("\n201"), "\(run)")
                    XCTAssertEqual(try digestOfFile(try XCTUnwrap(nginx.uploaded("expect-\(faults.count)"))), digest)
                } else {
                    XCTAssertEqual(run.stdout, #"{"length": \#(digest.count), "sha256": "\#(digest.sha256)"}"# + "\n200", "\(faults): \(run)")
                }
            }
        }
    }

    /// A request with Expect: 100-continue that a fault answers (403) gets that answer at once,
    /// without a 100 Continue and without reading the body, and `Connection: close`; the
    /// upstream never sees it, and curl's next request goes through on a new connection.
    func testFaultedRequestWithExpectIsAnsweredWithoutItsBody() throws {
        let file = "\(folder)/expect.bin"
        _ = try writePatternFile(file, size: 1 << 20)
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.respond:status=403,path=/api/v2/*"])
        let run = try curl(port: proxy.port, ["/api/v2/users", "/upload"],
                           ["-v", "-H", "Expect: 100-continue", "--data-binary", "@\(file)", "-w", "\n%{http_code} %{time_total}\n"])
        XCTAssertEqual(run.exitCode, 0, "\(run)")
        XCTAssertEqual(run.stderr.components(separatedBy: "< HTTP/1.1 100 Continue").count - 1, 1, "\(run)")
        XCTAssertTrue(run.stderr.contains("< Connection: close"), "\(run)")
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, "\(run)")
        guard lines.count == 4 else { return }
        XCTAssertEqual(lines[0], #"{"error":"Forbidden","status":403}"#)
        let forbidden = lines[1].split(separator: " ")
        XCTAssertEqual(forbidden.first, "403")
        XCTAssertLessThan(Double(forbidden.last ?? "") ?? 9, 0.9, "curl waited for a 100 Continue that should not come")
        XCTAssertTrue(lines[3].hasPrefix("200 "), "\(run)")
        XCTAssertEqual(upstream.waitForSeen(1).map { "\($0.method) \($0.path)" }, ["POST /upload"])
    }
}
