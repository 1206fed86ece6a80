import Faultline
import Foundation
import Glibc
import XCTest

/// Nothing an HTTP link makes outlives it, in front of nginx: after each fault kind's links
/// (answers, held requests and responses the client left, drips cut short, cuts, aborts,
/// rewrites, refused and closed WebSockets, garbage, a pipeline never read) an in-process
/// proxy's live objects are back where they were; and 5,000 links through the binary, with no
/// fault (the fast path) and with every kind at once (each link meeting one), leave its RSS
/// where it was.
final class HTTPLinkMemoryTests: HTTPProtocolCase {
    private static let upgrade = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]

    /// Runs `script` against an in-process `protocol: http` proxy with `faults`, then checks
    /// that every link closed and left nothing behind within `seconds`.
    private func assertReleased(_ upstream: HTTPUpstream, _ faults: [String], within seconds: Double = 3,
                                file: StaticString = #filePath, line: UInt = #line, _ script: (UInt16) throws -> Void) throws {
        var options = ProxyOptions()
        options.protocol = .http
        let proxy = try InProcessProxy(upstream: upstream.address, path: .splice, options: options)
        defer { proxy.stop(file: file, line: line) }
        try proxy.setSeed(1)
        for fault in faults { try proxy.add(fault) }
        try script(proxy.port)
        XCTAssertTrue(waitUntil(timeout: seconds) { (try? proxy.stats.open) == 0 },
                      "links still open: \((try? proxy.stats.open) ?? -1)", file: file, line: line)
        // `open` can read 0 before the proxy accepted the script's connections: the objects get
        // the whole time too (a held request ends its link a second after the client left).
        proxy.assertLinkObjectsReleased(waiting: seconds, file: file, line: line)
    }

    /// Sends `requests` on a new connection and reads `responses` responses, then closes.
    private func exchange(_ port: UInt16, _ requests: String, responses: Int) throws -> [RawResponse] {
        let raw = try RawHTTP(port: port)
        try raw.send(requests)
        return try (0..<responses).map { _ in try raw.response() }
    }

    func testAnsweredAndRewrittenLinksReleaseEverything() throws {
        let nginx = try nginxUpstream()
        try assertReleased(nginx, ["http.respond:status=404,path=/api/v2/*", "http.status:status=500,path=/api/v1/users"]) { port in
            let answers = try exchange(port, httpRequest("GET", "/api/v2/users") + httpRequest("GET", "/api/v1/users"), responses: 2)
            XCTAssertEqual(answers.map(\.status), [404, 500])
        }
    }

    /// Held responses and a held request whose client left before they were due.
    func testHeldLinksTheClientLeftReleaseEverything() throws {
        let nginx = try nginxUpstream()
        try assertReleased(nginx, ["http.delay:delay=1s,path=/api/v1/users",
                                   "http.delay:delay=1s,before=request,path=/api/v2/users,name=held_request"], within: 4) { port in
            for path in ["/api/v1/users", "/api/v2/users"] {
                let raw = try RawHTTP(port: port)
                try raw.send(httpRequest("GET", path) + httpRequest("GET", path))
                raw.close()
            }
        }
    }

    /// A drip the client leaves half-way, a truncation, aborts at the request and mid-body.
    func testCutLinksReleaseEverything() throws {
        let nginx = try nginxUpstream()
        let download = try nginx.download(size: 40_000, chunked: false)
        let aborted = try nginx.download(size: 30_000, chunked: false)
        try assertReleased(nginx, ["http.drip:rate=2KB,path=/chunked/*", "http.truncate:after=1000,path=\(download)",
                                   "http.abort:how=rst,path=/api/v1/users", "http.abort:how=fin,after=100,path=\(aborted),name=fin"]) { port in
            let dripping = try RawHTTP(port: port)
            try dripping.send(httpRequest("GET", try nginx.download(size: 40_000, chunked: true)))
            usleep(300_000)
            dripping.close()
            for path in [download, "/api/v1/users", aborted] {
                let raw = try RawHTTP(port: port)
                try raw.send(httpRequest("GET", path))
                XCTAssertNotEqual(raw.readToEnd(timeout: 5).end, "open", path)
            }
        }
    }

    /// A refused upgrade, and a tunnel http.ws_close closes with its frame.
    func testWebSocketLinksReleaseEverything() throws {
        let nginx = try nginxUpstream()
        try assertReleased(nginx, ["http.ws_reject:status=403,path=/ws", "http.ws_close:after=50ms,path=/ws-accept"]) { port in
            XCTAssertEqual(try exchange(port, httpRequest("GET", "/ws", Self.upgrade), responses: 1).map(\.status), [403])
            let raw = try RawHTTP(port: port)
            try raw.send(httpRequest("GET", "/ws-accept", Self.upgrade))
            XCTAssertEqual(try raw.response().status, 101)
            let (frame, end) = raw.readToEnd(timeout: 5)
            XCTAssertEqual(Array(frame.prefix(4)), [0x88, 0x02, 0x03, 0xF3], "a close frame with 1011")
            XCTAssertEqual(end, "EOF")
        }
    }

    /// Client garbage after a sound request, and 200 pipelined requests the client never reads.
    func testGarbageAndUnreadPipelineLinksReleaseEverything() throws {
        let nginx = try nginxUpstream()
        try assertReleased(nginx, ["http.respond:status=404,path=/api/v2/*"]) { port in
            let raw = try RawHTTP(port: port)
            try raw.send(httpRequest("GET", "/api/v1/users") + "GET /api/v1/users HTTP/1.1\r\nHost : x\r\n\r\n")
            XCTAssertEqual(try raw.response().status, 200)
            XCTAssertEqual(raw.readToEnd(timeout: 5).end, "EOF")
            let unread = try RawHTTP(port: port)
            try unread.send(String(repeating: httpRequest("GET", "/api/v1/users") + httpRequest("GET", "/api/v2/users"), count: 100))
            usleep(200_000)
            unread.close()
        }
    }

    // MARK: RSS over thousands of links through the binary

    func testChurnWithoutFaults() throws {
        let nginx = try nginxUpstream()
        try churnLinks(upstream: nginx.port, ["--protocol", "http"], label: "http no fault",
                       message: Array(httpRequest("GET", "/api/v1/users").utf8))
    }

    /// Each link meets one kind in turn: respond, delay (both holds), drip, truncate, abort
    /// (rst, fin), status, ws_reject and ws_close.
    func testChurnThroughEveryKind() throws {
        let nginx = try nginxUpstream()
        let kinds = [
            ("/respond", "http.respond:status=404,path=/respond"),
            ("/api/v1/users", "http.delay:delay=1ms,path=/api/v1/users"),
            ("/api/v2/users", "http.delay:delay=1ms,before=request,path=/api/v2/users,name=held_request"),
            (try nginx.download(size: 2000, chunked: false), "http.drip:rate=1MB,path=/blob-2000"),
            (try nginx.download(size: 3000, chunked: false), "http.truncate:after=100,path=/blob-3000"),
            ("/rst", "http.abort:how=rst,path=/rst"),
            ("/fin", "http.abort:how=fin,path=/fin,name=fin"),
            ("/status/404", "http.status:status=500,path=/status/404"),
            ("/ws", "http.ws_reject:path=/ws"),
            ("/ws-accept", "http.ws_close:after=1ms,path=/ws-accept"),
        ]
        let messages = kinds.map { Array(httpRequest("GET", $0.0, $0.0.hasPrefix("/ws") ? Self.upgrade : []).utf8) }
        try churnLinks(upstream: nginx.port, ["--protocol", "http"] + kinds.flatMap { ["--fault", $0.1] }, label: "http every kind",
                       message: messages[0], alternates: Array(messages.dropFirst()))
    }
}
