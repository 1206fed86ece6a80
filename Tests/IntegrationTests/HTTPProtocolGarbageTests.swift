import Foundation
import XCTest

/// Bytes faultline cannot forward as HTTP/1.1 unambiguously: each request smuggling shape,
/// garbage, an HTTP/2 preface and an oversize head get faultline's 400 (505, 431) with
/// `Connection: close` after the responses owed, then the end; the upstream never sees them,
/// with and without an active fault (the session's fast path and its framed path); the proxy
/// keeps serving its other connections. An upstream that sends garbage loses only its link.
final class HTTPProtocolGarbageTests: HTTPProtocolCase {
    private static func refusal(_ status: Int, _ reason: String) -> String {
        let body = #"{"error":"\#(reason)","status":\#(status)}"#
        return "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n\(body)"
    }

    private static let badRequest = refusal(400, "Bad Request")

    /// Each shape after a sound request in the same write: the sound one's 200, then 400 and
    /// the FIN; only the sound request reached the upstream.
    func testSmugglingShapesAreRefusedAndNeverForwarded() throws {
        let upstream = try pythonUpstream()
        let shapes = [
            "CL and TE": "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
            "two CL": "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nContent-Length: 5\r\n\r\nhello!",
            "obs-fold": "GET /api/v1/users HTTP/1.1\r\nHost: x\r\nX-Long: a\r\n folded\r\n\r\n",
            "space before colon": "GET /api/v1/users HTTP/1.1\r\nHost : x\r\n\r\n",
            "TE not chunked last": "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        ]
        for faults in [[], ["http.respond:status=404,path=/nowhere"]] {
            let proxy = try startProxy(upstream, faults)
            for (shape, bytes) in shapes.sorted(by: { $0.key < $1.key }) {
                let before = upstream.seen.count
                let raw = try RawHTTP(port: proxy.port)
                try raw.send(httpRequest("GET", "/api/v1/users") + bytes)
                let sound = try raw.response()
                XCTAssertEqual(sound.status, 200, "\(shape), faults \(faults)")
                let (rest, end) = raw.readToEnd(timeout: 5)
                XCTAssertEqual(String(decoding: rest, as: UTF8.self), Self.badRequest, "\(shape), faults \(faults)")
                XCTAssertEqual(end, "EOF", "\(shape), faults \(faults)")
                usleep(100_000)
                XCTAssertEqual(upstream.seenLines.dropFirst(before), ["GET /api/v1/users"], "\(shape), faults \(faults)")
            }
            XCTAssertTrue(waitForLog(proxy, "(both Content-Length and Transfer-Encoding); answering 400 and closing"), proxy.process.stderrText)
            assertNoLibeventWarnings(proxy)
        }
    }

    /// A chunked body that turns malformed after its head went on (a bare LF after the chunk
    /// size): the upstream holds half a request and will never answer it, so the client must
    /// get its 400 and the end now, not wait behind that response (http-bugs.md 2).
    func testMalformedBodyAfterAForwardedHeadIsRefused() throws {
        let upstream = try pythonUpstream()
        for faults in [[], ["http.respond:status=404,path=/nowhere"]] {
            let proxy = try startProxy(upstream, faults)
            let raw = try RawHTTP(port: proxy.port)
            try raw.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n")
            let (bytes, end) = raw.readToEnd(timeout: 5)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), Self.badRequest, "faults \(faults)")
            XCTAssertEqual(end, "EOF", "faults \(faults)")
        }
    }

    /// Garbage, a TLS ClientHello to the plain port, HTTP/2 (its preface and a 2.0 request
    /// line), a 70 KB head and 129 header fields: each gets its status and the end, and a
    /// keep-alive connection opened before goes on being served.
    func testGarbageAndOversizeHeadsAreRefusedWhileOthersAreServed() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream)
        let bystander = try RawHTTP(port: proxy.port)
        try bystander.send(httpRequest("GET", "/api/v1/users"))
        XCTAssertEqual(try bystander.response().status, 200)
        let fields = (0..<129).map { "X-Field-\($0): \($0)" }
        let inputs: [(String, [UInt8], String)] = [
            ("junk", Array("\u{1}\u{2}hello there\r\n\r\n".utf8), Self.badRequest),
            ("TLS ClientHello", [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 13, 10, 13, 10], Self.badRequest),
            ("HTTP/2 preface", Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8), Self.refusal(505, "HTTP Version Not Supported")),
            ("HTTP/2.0 request line", Array("GET / HTTP/2.0\r\nHost: x\r\n\r\n".utf8), Self.refusal(505, "HTTP Version Not Supported")),
            ("70 KB head", Array(httpRequest("GET", "/api/v1/users", ["X-Big: " + String(repeating: "b", count: 70_000)]).utf8),
             Self.refusal(431, "Request Header Fields Too Large")),
            ("129 fields", Array(httpRequest("GET", "/api/v1/users", fields).utf8), Self.refusal(431, "Request Header Fields Too Large")),
        ]
        for (name, bytes, answer) in inputs {
            let raw = try RawHTTP(port: proxy.port)
            try raw.send(bytes)
            let (got, end) = raw.readToEnd(timeout: 5)
            XCTAssertEqual(String(decoding: got, as: UTF8.self), answer, name)
            XCTAssertEqual(end, "EOF", name)
            try bystander.send(httpRequest("GET", "/api/v1/users"))
            XCTAssertEqual(try bystander.response().text, HTTPUpstream.usersV1, "after \(name)")
        }
        let curled = try curl(port: proxy.port, ["/api/v1/users"], ["--http2-prior-knowledge", "-w", "%{http_code}"])
        XCTAssertNotEqual(curled.exitCode, 0, "\(curled)")
        XCTAssertEqual(upstream.seenLines, Array(repeating: "GET /api/v1/users", count: 7), "garbage reached the upstream")
        assertNoLibeventWarnings(proxy)
    }

    /// The upstream answers with bytes that are not HTTP: that client's connection ends (curl:
    /// empty reply; requests: RemoteDisconnected), a whole response sent before the garbage
    /// arrives first, faultline says why in its log, and another client's keep-alive
    /// connection is not touched.
    func testUpstreamGarbageEndsOnlyItsLink() throws {
        let upstream = try pythonUpstream()
        for faults in [[], ["http.respond:status=404,path=/nowhere"]] {
            let proxy = try startProxy(upstream, faults)
            let bystander = try RawHTTP(port: proxy.port)
            try bystander.send(httpRequest("GET", "/api/v1/users"))
            XCTAssertEqual(try bystander.response().status, 200)

            let run = try curl(port: proxy.port, ["/garbage"])
            XCTAssertEqual(run.exitCode, 52, "faults \(faults): \(run)")
            XCTAssertTrue(run.stderr.contains("curl: (52) Empty reply from server"), "\(run)")
            let broken = try pythonOne("requests", port: proxy.port, path: "/garbage")
            XCTAssertEqual(broken.message, "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))",
                           "faults \(faults): \(broken)")

            let raw = try RawHTTP(port: proxy.port)
            try raw.send(httpRequest("GET", "/garbage?after=ok"))
            let whole = try raw.response()
            XCTAssertEqual(whole.status, 200, "faults \(faults)")
            XCTAssertEqual(whole.text, "ok")
            let (rest, end) = raw.readToEnd(timeout: 5)
            XCTAssertEqual(rest, [], "faults \(faults): the garbage reached the client")
            XCTAssertEqual(end, "EOF", "faults \(faults)")

            XCTAssertTrue(waitForLog(proxy, "upstream sent bytes that are not HTTP"), proxy.process.stderrText)
            try bystander.send(httpRequest("GET", "/api/v1/users"))
            XCTAssertEqual(try bystander.response().text, HTTPUpstream.usersV1, "faults \(faults)")
            assertNoLibeventWarnings(proxy)
            proxy.process.stop()
        }
    }

    /// Waits until the proxy logged a line containing `needle`.
    private func waitForLog(_ proxy: ProxyProcess, _ needle: String) -> Bool {
        proxy.process.waitForStderr(containing: needle, timeout: 5)
    }
}
