import Foundation
import XCTest

/// WebSocket through `--protocol http` with the `websockets` client in front of aiohttp's echo
/// endpoint: after the 101 the link carries frames both ways; http.ws_reject answers the
/// upgrade itself (websockets raises InvalidStatus with that status, the upstream never sees
/// the request, and the connection is HTTP again); http.ws_close sends a close frame with its
/// code and reason at its time.
final class HTTPProtocolWebSocketTests: HTTPProtocolCase {
    /// Three messages echoed, with no fault and with an http fault active (the session frames
    /// the upgrade, then tunnels).
    func testEchoThroughTheProxy() throws {
        let upstream = try pythonUpstream()
        for faults in [[], ["http.respond:status=404,path=/api/v2/*"]] {
            let proxy = try startProxy(upstream, faults)
            let events = try python("websocket", port: proxy.port, paths: ["/ws"], ["--messages", "3", "--wait", "0.5"])
            XCTAssertEqual(events.map { $0.string("event") }, ["open", "echo", "echo", "echo", "still open"], "\(faults): \(events)")
            XCTAssertEqual(events.compactMap { $0.string("text") }, ["hello 0", "hello 1", "hello 2"])
        }
        XCTAssertEqual(upstream.waitForSeen(2).map { "\($0.method) \($0.path)" }, ["GET /ws", "GET /ws"])
    }

    /// http.ws_reject status=403: websockets raises InvalidStatus "server rejected WebSocket
    /// connection: HTTP 403" with faultline's body; a request with the header the fault does
    /// not match is upgraded; the upstream saw only that one.
    func testRejectedUpgradeRaisesInvalidStatus() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.ws_reject:status=403,path=/ws,request_headers=X-Tenant:blocked"])
        let refused = try pythonOne("websocket", port: proxy.port, path: "/ws", ["--header", "X-Tenant:blocked"])
        XCTAssertEqual(refused.string("event"), "refused", "\(refused)")
        XCTAssertEqual(refused.error, "InvalidStatus")
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.message, "server rejected WebSocket connection: HTTP 403")
        XCTAssertEqual(refused.body, #"{"error":"Forbidden","status":403}"#)

        let allowed = try python("websocket", port: proxy.port, paths: ["/ws"], ["--header", "X-Tenant:acme", "--wait", "0.2"])
        XCTAssertEqual(allowed.map { $0.string("event") }, ["open", "echo", "still open"], "\(allowed)")
        XCTAssertEqual(upstream.waitForSeen(1).map { $0.headers["X-Tenant"] }, ["acme"])
        usleep(200_000)
        XCTAssertEqual(upstream.seen.count, 1, "the rejected upgrade reached the upstream: \(upstream.seen)")
    }

    /// After a refused upgrade the connection is HTTP again: the next request on it is framed
    /// and answered by the upstream.
    func testConnectionGoesOnAfterARefusedUpgrade() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.ws_reject:status=401,body=login first,path=/ws"])
        let raw = try RawHTTP(port: proxy.port)
        try raw.send(httpRequest("GET", "/ws", ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]))
        let refused = try raw.response()
        XCTAssertEqual(refused.status, 401)
        XCTAssertEqual(refused.text, "login first")
        try raw.send(httpRequest("GET", "/api/v1/users"))
        let next = try raw.response()
        XCTAssertEqual(next.status, 200)
        XCTAssertEqual(next.text, HTTPUpstream.usersV1)
        XCTAssertEqual(upstream.waitForSeen(1).map { "\($0.method) \($0.path)" }, ["GET /api/v1/users"])
    }

    /// While 1 MB messages are echoed back to back, http.ws_close's frame goes between two of
    /// the server's frames: every echo the client read is whole, then 1011 (never a framing
    /// error from a close frame inside a message).
    func testCloseFrameGoesBetweenLargeFrames() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.ws_close:after=300ms,code=1011"])
        let events = try python("websocket", port: proxy.port, paths: ["/ws"], ["--messages", "500", "--size", "\(1 << 20)", "--wait", "1"])
        let echoes = events.filter { $0.string("event") == "echo" }
        XCTAssertFalse(echoes.isEmpty, "\(events)")
        XCTAssertTrue(echoes.allSatisfy { $0.fields["same"] as? Bool == true && $0.int("length") == 1 << 20 }, "\(echoes)")
        XCTAssertEqual(events.last?.string("event"), "closed", "\(events.suffix(2))")
        XCTAssertEqual(events.last?.int("code"), 1011, "\(events.suffix(2))")
    }

    /// A WebSocket opened in a calm phase is closed when a phase with http.ws_close begins,
    /// `after` from then (1012 "restarting"), as a restarting server closes the ones it holds.
    func testOpenWebSocketsCloseWhenTheFaultStarts() throws {
        let upstream = try pythonUpstream()
        let listen = try Sock.freePort()
        let scenario = try httpScenario("restart", listen: listen, upstream: upstream, seed: 1, """
            timeline:
              - phase: calm
                for: 1500ms
              - phase: restart
                for: 1500ms
                faults:
                  - http.ws_close: { after: 500ms, code: 1012, reason: restarting }
            """)
        let run = try run(scenario, command: [try TLSTools.python(), client("http_client.py"), "websocket", "--base",
                                              "http://127.0.0.1:\(listen)", "--path", "/ws", "--wait", "6"])
        let events = run.stdout.split(separator: "\n").compactMap {
            ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]).map(ClientLine.init)
        }
        XCTAssertEqual(events.map { $0.string("event") }, ["open", "echo", "closed"], run.transcript)
        XCTAssertEqual(events.last?.int("code"), 1012)
        XCTAssertEqual(events.last?.string("reason"), "restarting")
        // The phase begins 1.5 s into the run and the client opened its socket after python's
        // start: the close comes 2 s into the run, well before the client's 6 s wait.
        XCTAssertLessThan(try XCTUnwrap(events.last?.seconds()), 3.5, run.transcript)
        XCTAssertGreaterThan(try XCTUnwrap(events.last?.seconds()), 0.5, run.transcript)
    }

    /// http.ws_close after=2s code=1011: the echoes work, then websockets reports the close
    /// frame "received 1011 (internal error) server restarting" about 2 s after the upgrade;
    /// code=1001 without a reason is "going away".
    func testCloseFrameAtItsTime() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.ws_close:after=2s,code=1011,reason=server restarting,path=/ws"])
        let events = try python("websocket", port: proxy.port, paths: ["/ws"], ["--messages", "2", "--wait", "6"])
        XCTAssertEqual(events.map { $0.string("event") }, ["open", "echo", "echo", "closed"], "\(events)")
        let closed = try XCTUnwrap(events.last)
        XCTAssertEqual(closed.int("code"), 1011, "\(closed)")
        XCTAssertEqual(closed.string("reason"), "server restarting")
        XCTAssertEqual(closed.error, "ConnectionClosedError")
        XCTAssertTrue(closed.message?.hasPrefix("received 1011 (internal error) server restarting") == true, "\(closed)")
        let at = try XCTUnwrap(closed.seconds())
        XCTAssertGreaterThanOrEqual(at, 1.95, "closed before its 2 s")
        XCTAssertLessThan(at, 3.2)

        let away = try startProxy(upstream, ["http.ws_close:after=300ms,code=1001"])
        let left = try python("websocket", port: away.port, paths: ["/ws"], ["--messages", "0", "--wait", "5"])
        let frame = try XCTUnwrap(left.last)
        XCTAssertEqual(frame.int("code"), 1001, "\(left)")
        XCTAssertEqual(frame.string("reason"), "")
        XCTAssertEqual(frame.error, "ConnectionClosedOK", "1001 is a normal closure to websockets: \(frame)")
    }
}
