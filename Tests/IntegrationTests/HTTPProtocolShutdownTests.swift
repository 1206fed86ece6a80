import Foundation
import Glibc
import XCTest

/// SIGTERM to `faultline proxy --protocol http` while requests are held: what was read goes
/// on, as the proxy's help promises ("lets open connections finish writing what was already
/// read, 2 s at most"): a response held by http.delay reaches its client at once, and a
/// request held by `before: request` goes to the upstream and its response to the client.
final class HTTPProtocolShutdownTests: HTTPProtocolCase {
    /// Sends `path` on a new connection, then reads everything until the end.
    private func pending(_ port: UInt16, _ path: String) throws -> Worker<(bytes: [UInt8], end: String, seconds: Double)> {
        let raw = try RawHTTP(port: port)
        try raw.send(httpRequest("GET", path))
        let box = UncheckedSendable(raw)
        return Worker("client \(path)") {
            let started = monotonicSeconds()
            let (bytes, end) = box.value.readToEnd(timeout: 8)
            return (bytes, end, monotonicSeconds() - started)
        }
    }

    /// In front of nginx and of aiohttp's server (which answers nothing once its client sent a
    /// FIN, so the proxy must not half-close the upstream while answers are owed).
    func testHeldResponsesAndRequestsAreDeliveredOnSIGTERM() throws {
        for upstream in try bothUpstreams() {
            let proxy = try startProxy(upstream, ["http.delay:delay=10s,path=/api/v1/users",
                                                  "http.delay:delay=10s,before=request,path=/api/v2/users,name=held_request"])
            let heldResponse = try pending(proxy.port, "/api/v1/users")
            let heldRequest = try pending(proxy.port, "/api/v2/users")
            usleep(500_000)
            XCTAssertEqual(upstream.seen.map(\.path), ["/api/v1/users"], "\(upstream): only the request whose response is held")
            proxy.process.signal(SIGTERM)
            XCTAssertEqual(proxy.process.waitForExit(timeout: 5), .exited(0), proxy.process.stderrText)

            let response = try heldResponse.join(timeout: 10)
            XCTAssertTrue(String(decoding: response.bytes, as: UTF8.self).hasSuffix("\r\n\r\n" + HTTPUpstream.usersV1),
                          "\(upstream): \(response)")
            XCTAssertLessThan(response.seconds, 2.5, "\(upstream): the held response waited for its delay")
            let request = try heldRequest.join(timeout: 10)
            XCTAssertTrue(String(decoding: request.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"),
                          "\(upstream): the held request's response was lost (http-bugs.md 3): \(request.bytes.count) bytes, \(request.end)")
            XCTAssertEqual(request.end, "EOF", "\(upstream)")
        }
    }
}
