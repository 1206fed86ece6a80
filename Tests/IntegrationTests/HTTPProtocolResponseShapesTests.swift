import Foundation
import Glibc
import XCTest

/// Response shapes aiohttp's server rarely sends, from a scripted upstream (one connection, its
/// bytes exactly as written) and nginx: interim 103 Early Hints before the 200, a 204 and a 304
/// (no body) with a response pipelined after them, a body that runs until the upstream closes
/// (cut by http.truncate, rewritten by http.status). Each reaches the client as a server
/// would have sent it.
final class HTTPProtocolResponseShapesTests: HTTPProtocolCase {
    private var upstreams: [ScriptedUpstream] = []

    override func tearDown() {
        upstreams.forEach { $0.close() }
        super.tearDown()
    }

    /// Reads from `fd` until `count` request heads arrived.
    private static func readRequests(_ fd: Int32, count: Int) -> String {
        var text = ""
        while text.components(separatedBy: "\r\n\r\n").count - 1 < count {
            let (bytes, outcome) = Sock.receiveOnce(fd)
            guard case .bytes = outcome else { break }
            text += String(decoding: bytes, as: UTF8.self)
        }
        return text
    }

    /// A faultline proxy (with `faults`) in front of a scripted upstream answering whatever
    /// `responses` says once it has read `requests` request heads, then closing.
    private func scripted(_ faults: [String], requests: Int, _ responses: [String]) throws -> (ProxyProcess, Worker<String>) {
        let upstream = try ScriptedUpstream()
        upstreams.append(upstream)
        let worker = upstream.serve { fd in
            let seen = Self.readRequests(fd, count: requests)
            for part in responses {
                try Sock.sendAll(fd, Array(part.utf8))
                usleep(50_000)
            }
            return seen
        }
        let proxy = try ProxyProcess.start(upstream: upstream.address, ["--protocol", "http"] + faults.flatMap { ["--fault", $0] })
        return (proxy, worker)
    }

    func testEarlyHintsThenTheResponse() throws {
        let (proxy, upstream) = try scripted(["http.respond:status=404,path=/nowhere"], requests: 1, [
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ])
        let run = try curl(port: proxy.port, ["/page"], ["-v"])
        XCTAssertEqual(run.stdout, "ok", "\(run)")
        XCTAssertTrue(run.stderr.contains("< HTTP/1.1 103 Early Hints"), "\(run)")
        XCTAssertTrue(run.stderr.contains("< Link: </style.css>; rel=preload"), "\(run)")
        _ = try upstream.join(timeout: 10)
    }

    /// A 204 has no body whatever follows it: the 200 pipelined after it is read whole.
    func testNoContentThenAPipelinedResponse() throws {
        let (proxy, upstream) = try scripted(["http.status:status=202,path=/second"], requests: 2, [
            "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        ])
        let raw = try RawHTTP(port: proxy.port)
        try raw.send(httpRequest("DELETE", "/first") + httpRequest("GET", "/second"))
        let empty = try raw.response()
        XCTAssertEqual(empty.status, 204)
        XCTAssertEqual(empty.body, [])
        let second = try raw.response()
        XCTAssertEqual(second.status, 202, "http.status rewrote the pipelined response")
        XCTAssertEqual(second.text, "hello")
        XCTAssertTrue(try upstream.join(timeout: 10).hasPrefix("DELETE /first HTTP/1.1\r\n"))
    }

    /// nginx's 304 to If-None-Match has no body; the GET behind it on the connection is whole.
    func testNotModifiedFromNginx() throws {
        let nginx = try nginxUpstream()
        let path = try nginx.download(size: 3000, chunked: false)
        let proxy = try startProxy(nginx, ["http.respond:status=404,path=/api/v2/*"])
        let raw = try RawHTTP(port: proxy.port)
        try raw.send(httpRequest("GET", path))
        let full = try raw.response()
        let etag = try XCTUnwrap(full.header("etag"), full.head)
        try raw.send(httpRequest("GET", path, ["If-None-Match: \(etag)"]) + httpRequest("GET", "/api/v1/users"))
        let notModified = try raw.response()
        XCTAssertEqual(notModified.status, 304, notModified.head)
        XCTAssertEqual(try raw.response().text, HTTPUpstream.usersV1)
    }

    /// A 200 without Content-Length or chunked runs until the upstream closes: whole to the
    /// client, then EOF; http.truncate cuts it; http.status rewrites its status alone.
    func testBodyUntilTheUpstreamCloses() throws {
        let body = String(repeating: "z", count: 5000)
        let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body
        for (fault, status, length) in [("http.respond:status=404,path=/nowhere", 200, 5000), ("http.truncate:after=1000", 200, 1000),
                                        ("http.status:status=500", 500, 5000)] {
            let (proxy, upstream) = try scripted([fault], requests: 1, [response])
            let raw = try RawHTTP(port: proxy.port)
            try raw.send(httpRequest("GET", "/stream"))
            let answer = try raw.response()
            XCTAssertEqual(answer.status, status, fault)
            XCTAssertEqual(answer.body.count, length, fault)
            XCTAssertEqual(raw.readToEnd(timeout: 2).end, "EOF", fault)
            _ = try upstream.join(timeout: 10)
        }
    }
}
