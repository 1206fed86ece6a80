import Foundation
import XCTest

/// The key HTTP cases again with faultline terminating TLS (profile valid for localhost and
/// 127.0.0.1, its CA trusted by each client): requests and httpx with verify=CA, curl
/// --cacert, aiohttp and websockets with an SSL context; ALPN offers http/1.1. And nginx
/// serving HTTPS behind `--upstream-tls`.
final class HTTPProtocolTLSTests: HTTPProtocolCase {
    private static let faults = ["http.respond:status=404,path=/api/v2/*", "http.truncate:after=1KB,path=/bytes",
                                 "http.abort:how=fin,path=/fin", "http.abort:how=rst,path=/rst,name=rst"]

    /// faultline's 404 and the upstream's 200 on one verified TLS connection, for every client.
    func testRespondOnOneVerifiedConnection() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, Self.faults, tls: true)
        for mode in ["requests", "httpx", "httpx-async", "aiohttp"] {
            let lines = try python(mode, port: proxy.port, tls: true, paths: ["/api/v1/users", "/api/v2/users", "/api/v1/users"])
            XCTAssertEqual(lines.map { $0.status }, [200, 404, 200], "\(mode): \(lines)")
            XCTAssertEqual(lines.map { $0.body }, [HTTPUpstream.usersV1, #"{"error":"Not Found","status":404}"#, HTTPUpstream.usersV1], mode)
        }
        let run = try curl(port: proxy.port, tls: true, ["/api/v1/users", "/api/v2/users"], ["-v", "-w", "\n%{http_code}\n"])
        XCTAssertEqual(run.exitCode, 0, "\(run)")
        XCTAssertTrue(run.stderr.contains("SSL certificate verify ok."), "\(run)")
        XCTAssertTrue(run.stderr.contains("Re-using existing connection"), "\(run)")
        XCTAssertTrue(run.stdout.hasSuffix("\n200\n{\"error\":\"Not Found\",\"status\":404}\n404\n"), "\(run)")
        let seen = upstream.waitForSeen(9)
        XCTAssertEqual(seen.count, 9, "\(seen)")
        XCTAssertEqual(Set(seen.map(\.connection)).count, 5, "one connection per client run: \(seen)")
    }

    /// Truncate and abort over TLS: requests' IncompleteRead and "Remote end closed connection
    /// without response" (for how=rst too when OpenSSL met the RST as an EOF), httpx's
    /// RemoteProtocolError, curl's 18, 52 and 56.
    func testBodyFaultsOverTLS() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, Self.faults, tls: true)
        let lines = try python("requests", port: proxy.port, tls: true, paths: ["/bytes?size=40000", "/fin", "/rst"])
        XCTAssertEqual(lines.map { $0.error }, ["ChunkedEncodingError", "ConnectionError", "ConnectionError"], "\(lines)")
        XCTAssertEqual(lines[0].message, "('Connection broken: IncompleteRead(1024 bytes read, 38976 more expected)', "
                       + "IncompleteRead(1024 bytes read, 38976 more expected))")
        let closed = "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"
        XCTAssertEqual(lines[1].message, closed)
        XCTAssertTrue([closed, "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"].contains(lines[2].message ?? ""),
                      "\(lines[2])")
        let httpx = try python("httpx", port: proxy.port, tls: true, paths: ["/bytes?size=40000", "/fin"])
        XCTAssertEqual(httpx.map { $0.message }, [
            "peer closed connection without sending complete message body (received 1024 bytes, expected 40000)",
            "Server disconnected without sending a response.",
        ], "\(httpx)")
        for (path, code) in [("/bytes?size=40000", 18), ("/fin", 52), ("/rst", 56)] {
            let run = try curl(port: proxy.port, tls: true, [path], ["-o", "/dev/null"])
            XCTAssertEqual(run.exitCode, Int32(code), "\(path): \(run)")
        }
        XCTAssertEqual(upstream.waitForSeen(3).count, 3, "only the downloads reach the upstream: \(upstream.seen)")
        assertNoLibeventWarnings(proxy)
    }

    /// A 4 MB chunked download and a 4 MB upload through TLS, intact by sha256.
    func testLargeBodiesOverTLS() throws {
        let upstream = try pythonUpstream()
        let path = try upstream.download(size: 4 << 20, chunked: true)
        let expected = try directDigest(upstream, path)
        let proxy = try startProxy(upstream, [Self.faults[0]], tls: true)
        let download = try pythonOne("httpx", port: proxy.port, tls: true, path: path)
        XCTAssertEqual(download.string("sha256"), expected.sha256, "\(download)")
        let upload = try python("requests", port: proxy.port, tls: true, paths: ["/upload"],
                                ["--method", "POST", "--data-size", "\(4 << 20)", "--chunked"])
        let sent = try XCTUnwrap(upload.first?.string("sha256"))
        XCTAssertEqual(upload.last?.body, #"{"length": \#(4 << 20), "sha256": "\#(sent)"}"#, "\(upload)")
    }

    /// wss:// through the terminating proxy: echo, then http.ws_close's 1011 about 1 s after.
    func testWebSocketOverTLS() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, ["http.ws_close:after=1s,code=1011,path=/ws"], tls: true)
        let events = try python("websocket", port: proxy.port, tls: true, paths: ["/ws"], ["--messages", "2", "--wait", "5"])
        XCTAssertEqual(events.map { $0.string("event") }, ["open", "echo", "echo", "closed"], "\(events)")
        XCTAssertEqual(events.last?.int("code"), 1011)
        XCTAssertEqual(try XCTUnwrap(events.last?.seconds()), 1.0, accuracy: 0.6, "\(events)")
    }

    /// `openssl s_client -alpn http/1.1` is told `ALPN protocol: http/1.1`, and curl says
    /// "ALPN: server accepted http/1.1".
    func testALPNOffersHTTP11() throws {
        let upstream = try pythonUpstream()
        let proxy = try startProxy(upstream, tls: true)
        let openssl = try TLSTools.require("openssl", package: "openssl")
        let (ended, stdout, stderr) = try runCommand(openssl, ["s_client", "-connect", "127.0.0.1:\(proxy.port)", "-alpn", "http/1.1",
                                                               "-verify_return_error", "-verify_hostname", "localhost",
                                                               "-CAfile", try workspace.root], timeout: 15)
        XCTAssertEqual(ended, .exited(0), stdout + stderr)
        XCTAssertTrue(stdout.contains("ALPN protocol: http/1.1"), stdout)
        XCTAssertTrue(stdout.contains("Verify return code: 0 (ok)"), stdout)
        let run = try curl(port: proxy.port, tls: true, ["/api/v1/users"], ["-v"])
        XCTAssertTrue(run.stderr.contains("ALPN: server accepted http/1.1"), "\(run)")
        XCTAssertEqual(run.stdout, HTTPUpstream.usersV1)
    }

    /// A scenario's `tls: {profile: valid, host: localhost}` on a `protocol: http` proxy: the
    /// client verifies against the CA `faultline run` made in its directory, and the verdict
    /// counts its HTTP requests (4 on one connection), faultline's 404 included.
    func testScenarioWithTLSTermination() throws {
        let upstream = try pythonUpstream()
        let listen = try Sock.freePort()
        let directory = try workspace.directory
        let scenario = try httpScenario("tls", listen: listen, upstream: upstream, seed: 1, tls: true, """
            timeline:
              - phase: only
                for: 1s
                faults:
                  - http.respond: { status: 404, path: "/api/v2/*" }
            expect:
              - { proxy: api, max_requests: 3 }
              - { proxy: api, max_connection_attempts: 1 }
              - { proxy: api, no_request: "GET /api/v2/*" }
            """)
        let run = try run(scenario, command: [try TLSTools.python(), client("http_client.py"), "requests", "--base", "https://localhost:\(listen)",
                                              "--ca", "\(directory)/.faultline/ca/root.pem", "--path", "/api/v1/users", "--path", "/api/v2/users",
                                              "--path", "/api/v1/users", "--path", "/api/v1/users"], in: directory)
        XCTAssertEqual(run.stdout.components(separatedBy: #""status": 200"#).count - 1, 3, run.transcript)
        XCTAssertEqual(run.stdout.components(separatedBy: #""status": 404"#).count - 1, 1, run.transcript)
        assertVerdict(run, "FAIL", "max_requests: 3 (proxy: api)", figure: "max_requests 4 > 3")
        assertVerdict(run, "PASS", "max_connection_attempts: 1 (proxy: api)", figure: "max_connection_attempts 1 ≤ 1")
        assertVerdict(run, "FAIL", #"no_request: "GET /api/v2/*" (proxy: api)"#,
                      figure: #"no_request: 1 request matched "GET /api/v2/\*" \(first "GET /api/v2/users" at .*\)"#)
    }

    /// `--upstream-tls` to nginx serving HTTPS (its `faultline certs` bundle): faultline's 404
    /// and nginx's answers on one client connection, a 3 MB download intact.
    func testHTTPSUpstream() throws {
        let bundle = try workspace.certs(profile: "valid", hosts: ["localhost", "127.0.0.1"], out: "nginx-certs")
        let nginx = try nginxUpstream(tls: bundle)
        let download = try nginx.download(size: 3 << 20, chunked: false)
        let expected = try digestOfFile(try XCTUnwrap(nginx.served(download)))
        let proxy = try startProxy(nginx, ["http.respond:status=404,path=/api/v2/*"],
                                   extra: ["--upstream-tls", "--upstream-ca", bundle.ca, "--upstream-sni", "localhost"])
        let lines = try python("requests", port: proxy.port, paths: ["/api/v1/users", "/api/v2/users", download])
        XCTAssertEqual(lines.map { $0.status }, [200, 404, 200], "\(lines)")
        XCTAssertEqual(lines.first?.body, HTTPUpstream.usersV1)
        XCTAssertEqual(lines.last?.string("sha256"), expected.sha256)
        XCTAssertEqual(Set(nginx.waitForSeen(2).map(\.connection)).count, 1, "\(nginx.seen)")
    }
}
