import Foundation
import XCTest

/// The faults that act on a response's body and its connection, as requests, curl and a raw
/// socket report them, in front of aiohttp's server and nginx: http.truncate (an incomplete
/// body, then FIN), http.abort at the request (RST or FIN, the upstream never asked) and
/// mid-body, http.drip (the body at a rate), http.status (the status rewritten, the rest kept).
final class HTTPProtocolBodyFaultTests: HTTPProtocolCase {
    /// A chunked and a Content-Length body cut after 1 KB: requests raises ChunkedEncodingError
    /// (IncompleteRead), curl exits 18, and the raw bytes end with a FIN after the head and
    /// 1,000 bytes of body (chunk lines count).
    func testTruncatedResponses() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.truncate:after=1KB"])
            let chunked = try upstream.download(size: 40_000, chunked: true)
            let sized = try upstream.download(size: 40_000, chunked: false)

            let cut = try pythonOne("requests", port: proxy.port, path: chunked)
            XCTAssertEqual(cut.error, "ChunkedEncodingError", "\(upstream): \(cut)")
            XCTAssertTrue(cut.message?.hasPrefix("('Connection broken: IncompleteRead(") == true, "\(upstream): \(cut)")
            let short = try pythonOne("requests", port: proxy.port, path: sized)
            XCTAssertEqual(short.error, "ChunkedEncodingError", "\(upstream): \(short)")
            XCTAssertEqual(short.message, "('Connection broken: IncompleteRead(1024 bytes read, 38976 more expected)', "
                           + "IncompleteRead(1024 bytes read, 38976 more expected))", "\(upstream)")

            for path in [chunked, sized] {
                let run = try curl(port: proxy.port, [path], ["-o", "/dev/null"])
                XCTAssertEqual(run.exitCode, 18, "\(upstream) \(path): \(run)")
                XCTAssertTrue(run.stderr.contains("curl: (18) transfer closed with"), "\(upstream): \(run)")

                let raw = try RawHTTP(port: proxy.port)
                try raw.send(httpRequest("GET", path))
                let (bytes, end) = raw.readToEnd()
                XCTAssertEqual(end, "EOF", "\(upstream) \(path)")
                let headLength = try XCTUnwrap(bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound)
                XCTAssertEqual(bytes.count - headLength, 1024, "\(upstream) \(path): body bytes before the cut")
            }
            XCTAssertEqual(upstream.waitForSeen(6).count, 6, "\(upstream)")
            assertNoLibeventWarnings(proxy)
        }
    }

    /// http.abort at the request: how=rst is requests' "Connection reset by peer" and curl's
    /// exit 56, how=fin is "Remote end closed connection without response" and curl's 52
    /// (empty reply); the upstream never sees either request.
    func testAbortAtTheRequest() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.abort:how=rst,path=/api/v1/users", "http.abort:how=fin,path=/api/v2/users,name=fin"])
            let reset = try pythonOne("requests", port: proxy.port, path: "/api/v1/users")
            XCTAssertEqual(reset.error, "ConnectionError", "\(upstream): \(reset)")
            XCTAssertEqual(reset.message, "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")
            let closed = try pythonOne("requests", port: proxy.port, path: "/api/v2/users")
            XCTAssertEqual(closed.error, "ConnectionError", "\(upstream): \(closed)")
            XCTAssertEqual(closed.message, "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))")

            let curlReset = try curl(port: proxy.port, ["/api/v1/users"])
            XCTAssertEqual(curlReset.exitCode, 56, "\(upstream): \(curlReset)")
            XCTAssertTrue(curlReset.stderr.contains("Connection reset by peer"), "\(curlReset)")
            let curlClosed = try curl(port: proxy.port, ["/api/v2/users"])
            XCTAssertEqual(curlClosed.exitCode, 52, "\(upstream): \(curlClosed)")
            XCTAssertTrue(curlClosed.stderr.contains("curl: (52) Empty reply from server"), "\(curlClosed)")

            usleep(300_000)
            XCTAssertEqual(upstream.seen.count, 0, "\(upstream) saw aborted requests: \(upstream.seen)")
        }
    }

    /// http.abort after 5,000 body bytes: the request reached the upstream, the client got the
    /// head and 5,000 bytes, then the RST (how=rst) or a FIN (how=fin); requests calls both a
    /// broken connection.
    func testAbortMidResponse() throws {
        for upstream in try bothUpstreams() {
            let sized = try upstream.download(size: 40_000, chunked: false)
            for how in ["rst", "fin"] {
                let proxy = try startProxy(upstream, ["http.abort:how=\(how),after=5000"])
                let raw = try RawHTTP(port: proxy.port)
                try raw.send(httpRequest("GET", sized))
                let (bytes, end) = raw.readToEnd()
                XCTAssertEqual(end, how == "rst" ? "RST" : "EOF", "\(upstream) \(how)")
                let headLength = bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound ?? 0
                // An RST can overtake bytes still in flight: at most 5,000 arrive.
                how == "rst" ? XCTAssertLessThanOrEqual(bytes.count - headLength, 5000, "\(upstream)")
                    : XCTAssertEqual(bytes.count - headLength, 5000, "\(upstream)")

                let broken = try pythonOne("requests", port: proxy.port, path: sized)
                XCTAssertEqual(broken.error, "ChunkedEncodingError", "\(upstream) \(how): \(broken)")
                let expected = how == "rst" ? "Connection broken: ConnectionResetError(104, 'Connection reset by peer')"
                    : "Connection broken: IncompleteRead(5000 bytes read, 35000 more expected)"
                XCTAssertTrue(broken.message?.contains(expected) == true, "\(upstream) \(how): \(broken)")
                proxy.process.stop()
            }
            XCTAssertEqual(upstream.waitForSeen(4).count, 4, "\(upstream)")
        }
    }

    /// http.drip at 1 KB/s: 2,000 bytes of body take about 2 s, whole (raw, in front of both
    /// upstreams; httpx, against the upstream's own digest).
    func testDripDeliversTheBodyAtItsRate() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.drip:rate=1KB"])
            let path = try upstream.download(size: 2000, chunked: false)
            let raw = try RawHTTP(port: proxy.port)
            let started = monotonicSeconds()
            try raw.send(httpRequest("GET", path))
            let answer = try raw.response()
            XCTAssertEqual(answer.body.count, 2000, "\(upstream)")
            XCTAssertEqual(monotonicSeconds() - started, 2.0, accuracy: 0.6, "\(upstream): 2,000 bytes at 1 KB/s")
            guard upstream.kind == .python else { continue }
            let dripped = try pythonOne("httpx", port: proxy.port, path: path)
            XCTAssertEqual(dripped.string("sha256"), dripped.header("x-body-sha256"), "\(dripped)")
            XCTAssertEqual(try XCTUnwrap(dripped.seconds()), 2.0, accuracy: 0.6, "\(dripped)")
        }
    }

    /// The head of a dripped response is not held back: a client sees the status at once.
    func testDripSendsTheHeadAtOnce() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.drip:rate=100B"])
        let fd = try Sock.connect(port: proxy.port)
        defer { Sock.close(fd) }
        let started = monotonicSeconds()
        try Sock.sendAll(fd, Array(httpRequest("GET", try upstream.download(size: 2000, chunked: false)).utf8))
        XCTAssertTrue(Sock.waitReadable(fd, timeout: 5))
        let first = Sock.receiveOnce(fd).bytes
        XCTAssertLessThan(monotonicSeconds() - started, 0.5, "the head waited for the drip")
        XCTAssertTrue(String(decoding: first, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    /// http.status 500: the status line is the only change; the upstream's headers and body
    /// come whole, and the connection goes on.
    func testStatusRewriteKeepsHeadersAndBody() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.status:status=500,path=/api/v1/users"])
            let lines = try python("requests", port: proxy.port, paths: ["/api/v1/users", "/api/v2/users"])
            XCTAssertEqual(lines.map { $0.status }, [500, 200], "\(upstream): \(lines)")
            let rewritten = lines[0]
            XCTAssertEqual(rewritten.string("reason"), "Internal Server Error")
            XCTAssertEqual(rewritten.body, HTTPUpstream.usersV1, "\(upstream)")
            XCTAssertEqual(rewritten.header("server")?.hasPrefix(upstream.kind == .nginx ? "nginx/" : "Python/"), true, "\(rewritten)")
            XCTAssertEqual(rewritten.header("content-length"), "\(HTTPUpstream.usersV1.utf8.count)")
            XCTAssertNotNil(rewritten.header("date"), "\(rewritten)")
            XCTAssertEqual(Set(upstream.waitForSeen(2).map(\.connection)).count, 1, "\(upstream)")
        }
    }
}
