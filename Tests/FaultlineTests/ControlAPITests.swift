@testable import Faultline
import Glibc
import Logging
import XCTest

/// `ControlAPI.handle` driven directly (handlers are synchronous, so the loop never runs):
/// routing, the security checks, and Toxiproxy's endpoints with their exact texts. Proxies bind
/// 127.0.0.1:0.
final class ControlAPITests: XCTestCase {
    static let log = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let token = "0123456789abcdef-token"
    var loop: EventLoop!
    var plane: ControlPlane!
    var api: ControlAPI!

    override func setUpWithError() throws {
        loop = try EventLoop()
        plane = ControlPlane(loop: loop, bus: EventBus(), seed: 1, log: Self.log)
        api = Self.api(plane, token: nil)
    }

    override func tearDown() {
        plane.shutdown(grace: .zero) {}
        api = nil
        plane = nil
        loop = nil
    }

    static func api(_ plane: ControlPlane, token: String?) -> ControlAPI {
        ControlAPI(plane: plane, scenarios: ScenarioControl(plane: plane, log: log), token: token, log: log)
    }

    // MARK: helpers

    @discardableResult
    func send(_ method: String, _ path: String, _ body: String? = nil,
              headers: [(name: String, value: String)] = [], to target: ControlAPI? = nil) -> APIResponse {
        let request = APIRequest(method: method, path: path, headers: headers, body: Array((body ?? "").utf8))
        guard case .response(let response) = (target ?? api).handle(request) else {
            XCTFail("\(method) \(path) answered a stream")
            return APIResponse(status: 0)
        }
        return response
    }

    func header(_ response: APIResponse, _ name: String) -> String? {
        response.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    func text(_ response: APIResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    /// Toxiproxy's error answer: status, text/plain + nosniff, `{"error":…,"status":…}\n`.
    func assertError(_ response: APIResponse, _ status: Int, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, file: file, line: line)
        let expected = JSONValue.object(JSONObject(["error": .string(message), "status": .int(status)])).text + "\n"
        XCTAssertEqual(text(response), expected, file: file, line: line)
        XCTAssertEqual(header(response, "Content-Type"), "text/plain; charset=utf-8", file: file, line: line)
        XCTAssertEqual(header(response, "X-Content-Type-Options"), "nosniff", file: file, line: line)
    }

    func port(_ name: String) -> UInt16 { plane.proxies[name]?.listenAddress?.port ?? 0 }

    func proxyText(_ name: String, upstream: String = "127.0.0.1:9", enabled: Bool = true, toxics: String = "[]",
                   extra: String = "") -> String {
        #"{"name":"\#(name)","listen":"127.0.0.1:\#(port(name))","upstream":"\#(upstream)","enabled":\#(enabled),"toxics":\#(toxics)\#(extra)}"#
    }

    @discardableResult
    func create(_ name: String, _ more: String = "") -> APIResponse {
        let response = send("POST", "/proxies", #"{"name":"\#(name)","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"\#(more)}"#)
        XCTAssertEqual(response.status, 201, text(response))
        return response
    }

    /// A socket listening on 127.0.0.1 (so no proxy can bind its port), and the port.
    func occupiedPort() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 1) == 0
                && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound else { throw XCTSkip("cannot bind a test socket") }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    // MARK: routing

    func testUnknownPathIs404WithoutRequestID() {
        for path in ["/nope", "/proxies/", "/proxies/a/toxics/t/extra", "/", "/version/", "/scenarios/other"] {
            let response = send("GET", path)
            XCTAssertEqual(response.status, 404, path)
            XCTAssertEqual(text(response), "404 page not found\n", path)
            XCTAssertEqual(header(response, "Content-Type"), "text/plain; charset=utf-8")
            XCTAssertEqual(header(response, "X-Content-Type-Options"), "nosniff")
            XCTAssertNil(header(response, "X-Toxiproxy-Request-Id"), path)
        }
    }

    func testWrongMethodIs405Empty() {
        for (method, path) in [("PUT", "/proxies"), ("DELETE", "/proxies"), ("GET", "/reset"), ("GET", "/populate"),
                               ("POST", "/version"), ("HEAD", "/version"), ("HEAD", "/proxies"), ("OPTIONS", "/proxies/a"),
                               ("PUT", "/proxies/a/toxics/t"), ("POST", "/scenarios/current"), ("GET", "/scenarios")] {
            let response = send(method, path)
            XCTAssertEqual(response.status, 405, "\(method) \(path)")
            XCTAssertTrue(response.body.isEmpty)
            XCTAssertTrue(response.headers.isEmpty, "\(method) \(path): \(response.headers)")
        }
    }

    func testUncleanPathsRedirect() {
        for (path, clean) in [("//version", "/version"), ("/proxies//a", "/proxies/a"), ("/proxies/./a", "/proxies/a"),
                              ("/proxies/a/../b", "/proxies/b"), ("/x/..", "/"), ("//proxies/", "/proxies/")] {
            let response = send("GET", path)
            XCTAssertEqual(response.status, 301, path)
            XCTAssertEqual(header(response, "Location"), clean, path)
            XCTAssertTrue(response.body.isEmpty)
            XCTAssertNil(header(response, "Content-Type"))
        }
    }

    func testVersion() {
        let response = send("GET", "/version")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(text(response), "{\"version\": \"\(FaultlineVersion.current)\"}\n")
        XCTAssertEqual(header(response, "Content-Type"), "application/json;charset=utf-8")
    }

    func testRequestIDOnRoutedAnswers() {
        var seen: Set<String> = []
        for response in [send("GET", "/version"), send("GET", "/proxies"), send("GET", "/proxies/none"), send("POST", "/reset")] {
            guard let id = header(response, "X-Toxiproxy-Request-Id") else { return XCTFail("no request id: \(response.status)") }
            XCTAssertEqual(id.count, 20, id)
            XCTAssertTrue(id.allSatisfy { "0123456789abcdefghijklmnopqrstuv".contains($0) }, id)
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 4, "ids repeat: \(seen)")
    }

    // MARK: token

    func testBearerToken() {
        let guarded = Self.api(plane, token: Self.token)
        for headers in [[], [("Authorization", "Basic \(Self.token)")], [("Authorization", "Bearer wrong")],
                        [("Authorization", "Bearer")], [("Authorization", "Bearer \(Self.token)x")],
                        [("Authorization", "Bearer " + Self.token.dropLast())]] as [[(name: String, value: String)]] {
            let response = send("GET", "/version", headers: headers, to: guarded)
            assertError(response, 401, "missing or wrong bearer token: send Authorization: Bearer TOKEN")
            XCTAssertEqual(header(response, "WWW-Authenticate"), #"Bearer realm="faultline""#)
        }
        // Checked before routing: paths cannot be probed without it.
        XCTAssertEqual(send("GET", "/nope", to: guarded).status, 401)
        XCTAssertEqual(send("GET", "//version", to: guarded).status, 401)
        XCTAssertEqual(send("GET", "/version", headers: [("Authorization", "Bearer \(Self.token)")], to: guarded).status, 200)
        XCTAssertEqual(send("GET", "/version", headers: [("authorization", "bearer \(Self.token)")], to: guarded).status, 200)
        XCTAssertEqual(send("GET", "/version").status, 200, "no token configured: nothing asked")
    }

    func testAuthorizedComparesWholeTokens() {
        func check(_ header: String?, _ token: String) -> Bool {
            ControlAPI.authorized(APIRequest(method: "GET", path: "/", headers: header.map { [("Authorization", $0)] } ?? []), token: token)
        }
        XCTAssertTrue(check("Bearer abcdefgh", "abcdefgh"))
        XCTAssertFalse(check("Bearer abcdefgX", "abcdefgh"), "same length, last byte differs")
        XCTAssertFalse(check("Bearer Xbcdefgh", "abcdefgh"), "same length, first byte differs")
        XCTAssertFalse(check("Bearer abcdefg", "abcdefgh"), "a prefix")
        XCTAssertFalse(check("Bearer abcdefghi", "abcdefgh"), "longer, same start")
        XCTAssertFalse(check("Bearer ", "abcdefgh"))
        XCTAssertFalse(check("Token abcdefgh", "abcdefgh"))
        XCTAssertFalse(check(nil, "abcdefgh"))
    }

    // MARK: browser refusal

    func testBrowserRefusal() {
        let mozilla = send("GET", "/version", headers: [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")])
        assertRefusal(mozilla, "User agent not allowed\n")
        for agent in ["mozilla/5.0", "curl Mozilla/5.0", "Mozilla", "curl/8.5.0"] {
            XCTAssertEqual(send("GET", "/version", headers: [("User-Agent", agent)]).status, 200, agent)
        }
        assertRefusal(send("GET", "/proxies", headers: [("Sec-Fetch-Site", "cross-site")]),
                      "Browser requests not allowed (Sec-Fetch-Site: cross-site)\n")
        XCTAssertEqual(send("GET", "/proxies", headers: [("Sec-Fetch-Site", "none")]).status, 200)
        let host: (name: String, value: String) = ("Host", "127.0.0.1:8474")
        assertRefusal(send("POST", "/reset", headers: [host, ("Origin", "http://evil.example")]),
                      "Cross-origin requests not allowed (Origin: http://evil.example)\n")
        assertRefusal(send("POST", "/reset", headers: [host, ("Origin", "null")]), "Cross-origin requests not allowed (Origin: null)\n")
        assertRefusal(send("POST", "/reset", headers: [host, ("Origin", "http://127.0.0.1:8474.evil.example")]),
                      "Cross-origin requests not allowed (Origin: http://127.0.0.1:8474.evil.example)\n")
        XCTAssertEqual(send("POST", "/reset", headers: [host, ("Origin", "http://127.0.0.1:8474")]).status, 204)
        // Only routed requests are judged: the router answers first.
        XCTAssertEqual(send("GET", "/nope", headers: [("User-Agent", "Mozilla/5.0")]).status, 404)
        XCTAssertEqual(send("PUT", "/version", headers: [("User-Agent", "Mozilla/5.0")]).status, 405)
        XCTAssertNil(plane.proxies["x"])
        XCTAssertEqual(send("POST", "/proxies", #"{"name":"x","upstream":"127.0.0.1:9"}"#,
                            headers: [("User-Agent", "Mozilla/5.0")]).status, 403)
        XCTAssertNil(plane.proxies["x"], "a refused request changes nothing")
    }

    func assertRefusal(_ response: APIResponse, _ body: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, 403, file: file, line: line)
        XCTAssertEqual(text(response), body, file: file, line: line)
        XCTAssertEqual(header(response, "Content-Type"), "text/plain; charset=utf-8", file: file, line: line)
        XCTAssertEqual(header(response, "X-Content-Type-Options"), "nosniff", file: file, line: line)
        XCTAssertNotNil(header(response, "X-Toxiproxy-Request-Id"), file: file, line: line)
    }

    // MARK: proxies

    func testCreateAndReadProxies() {
        XCTAssertEqual(text(send("GET", "/proxies")), "{}")
        let created = create("b")
        XCTAssertEqual(text(created), proxyText("b"))
        XCTAssertEqual(header(created, "Content-Type"), "application/json")
        XCTAssertNotEqual(port("b"), 0)
        create("a")
        let http = send("POST", "/proxies", #"{"name":"h","upstream":"127.0.0.1:9","protocol":"http","enabled":false}"#)
        XCTAssertEqual(http.status, 201)
        XCTAssertEqual(text(http), #"{"name":"h","listen":"127.0.0.1:0","upstream":"127.0.0.1:9","enabled":false,"toxics":[],"protocol":"http"}"#)
        let one = send("GET", "/proxies/b")
        XCTAssertEqual(one.status, 200)
        XCTAssertEqual(text(one), proxyText("b"))
        XCTAssertEqual(text(send("GET", "/proxies")),
                       #"{"a":\#(proxyText("a")),"b":\#(proxyText("b")),"h":\#(text(http))}"#)
        // What a client got back can be sent back (toxics and Logger are read and ignored).
        let back = send("POST", "/proxies/b", #"{"name":"b","enabled":true,"Logger":{},"toxics":[]}"#)
        XCTAssertEqual(back.status, 200, text(back))
        let bound = port("b")
        let off = send("PATCH", "/proxies/b", #"{"enabled":false}"#)
        XCTAssertEqual(text(off), proxyText("b", enabled: false).replacingOccurrences(of: ":0\"", with: ":\(bound)\""),
                       "a disabled proxy shows the port it had")
        let deleted = send("DELETE", "/proxies/b")
        XCTAssertEqual(deleted.status, 204)
        XCTAssertTrue(deleted.body.isEmpty)
        XCTAssertNil(header(deleted, "Content-Type"))
        assertError(send("GET", "/proxies/b"), 404, "proxy not found")
        assertError(send("DELETE", "/proxies/b"), 404, "proxy not found")
        assertError(send("GET", "/proxies/b/toxics"), 404, "proxy not found")
    }

    func testProxyBodyErrors() {
        let known = "known fields: name, listen, upstream, enabled, toxics, Logger, protocol, tls, upstream_tls"
        let cases: [(String, String)] = [
            ("", "bad request body: EOF"),
            ("  \n", "bad request body: EOF"),
            ("{bad}", "bad request body: invalid JSON at line 1, column 2: a key in double quotes was expected"),
            ("null", "missing required field: name"),
            ("{}", "missing required field: name"),
            (#"{"name":""}"#, "missing required field: name"),
            (#"{"name":"a"}"#, "missing required field: upstream"),
            (#"{"name":"a","upstream":""}"#, "missing required field: upstream"),
            (#"{"nmae":"a","upstream":"127.0.0.1:9"}"#, "bad request body: unknown field 'nmae' (did you mean 'name'?); \(known)"),
            (#"{"name":"a","upstream":"127.0.0.1:9","colour":1}"#, "bad request body: unknown field 'colour'; \(known)"),
            ("[1]", "bad request body: a proxy must be a JSON object"),
            (#"{"name":5}"#, "bad request body: name must be text, not a number"),
            (#"{"name":"a","listen":5,"upstream":"127.0.0.1:9"}"#, "bad request body: listen must be text, not a number"),
            (#"{"name":"a","upstream":"127.0.0.1:9","enabled":"yes"}"#, "bad request body: enabled must be true or false, not text"),
            (#"{"name":"a","upstream":["x"]}"#, "bad request body: upstream must be text, not a list"),
            (#"{"name":"a","listen":"nonsense","upstream":"127.0.0.1:9"}"#,
             "bad request body: listen: invalid address 'nonsense': expected host:port (IPv6 as [::1]:port)"),
            (#"{"name":"a","listen":"127.0.0.1:99999","upstream":"127.0.0.1:9"}"#,
             "bad request body: listen: invalid address '127.0.0.1:99999': port '99999' is not a number from 0 to 65535"),
            (#"{"name":"a","upstream":"127.0.0.1:0"}"#,
             "bad request body: upstream: invalid address '127.0.0.1:0': port 0 cannot be connected to; an upstream port goes from 1 to 65535"),
            (#"{"name":"a/b","upstream":"127.0.0.1:9"}"#,
             "bad request body: name: 'a/b' cannot name a proxy: use printable characters without '/', at most 200 bytes, not . or .."),
            (#"{"name":"a","upstream":"127.0.0.1:9","protocol":"ftp"}"#,
             "bad request body: protocol: 'ftp' is not a protocol; expected tcp, redis or http"),
            (#"{"name":"a","upstream":"127.0.0.1:9"} x"#,
             "bad request body: invalid JSON at line 1, column 39: unexpected text after the JSON value"),
        ]
        for (body, message) in cases {
            assertError(send("POST", "/proxies", body), 400, message)
        }
        XCTAssertTrue(plane.proxies.isEmpty)
    }

    func testProxyUpdate() throws {
        create("a")
        let first = port("a")
        XCTAssertEqual(text(send("POST", "/proxies/a", #"{"upstream":"127.0.0.1:10"}"#)), proxyText("a", upstream: "127.0.0.1:10"))
        assertError(send("POST", "/proxies/a", #"{"listen":"bad"}"#), 400,
                    "bad request body: listen: invalid address 'bad': expected host:port (IPv6 as [::1]:port)")
        assertError(send("PATCH", "/proxies/a", #"{"enabled":"no"}"#), 400, "bad request body: enabled must be true or false, not text")
        assertError(send("PATCH", "/proxies/a", ""), 400, "bad request body: EOF")
        assertError(send("PATCH", "/proxies/a", #"{"protocol":"http"}"#), 400,
                    "bad request body: protocol: a proxy's protocol is set when it is created (this one speaks tcp); delete and create it again")
        XCTAssertEqual(port("a"), first, "refused updates change nothing")
        XCTAssertTrue(plane.proxies["a"]?.isEnabled ?? false)
        // A taken port: 500, and the proxy is left disabled on the new address (as Toxiproxy leaves it).
        let (fd, taken) = try occupiedPort()
        defer { close(fd) }
        assertError(send("POST", "/proxies/a", #"{"listen":"127.0.0.1:\#(taken)"}"#), 500,
                    "listen tcp 127.0.0.1:\(taken): bind: address already in use")
        XCTAssertEqual(text(send("GET", "/proxies/a")),
                       #"{"name":"a","listen":"127.0.0.1:\#(taken)","upstream":"127.0.0.1:10","enabled":false,"toxics":[]}"#)
        assertError(send("PATCH", "/proxies/zz", "{}"), 404, "proxy not found")
    }

    /// `.` and `..` would be cleaned out of every URL naming the proxy (`/proxies/..` → 301 `/`):
    /// such a proxy could never be read, changed or deleted again.
    func testDotNamesAreRefused() {
        for name in [".", ".."] {
            let response = send("POST", "/proxies", #"{"name":"\#(name)","upstream":"127.0.0.1:9"}"#)
            XCTAssertEqual(response.status, 400, name)
            XCTAssertTrue(text(response).hasPrefix(#"{"error":"bad request body: name: '\#(name)'"#), text(response))
        }
        XCTAssertTrue(plane.proxies.isEmpty)
        XCTAssertEqual(send("POST", "/proxies", #"{"name":"a.b..c","upstream":"127.0.0.1:9"}"#).status, 201, "dots inside a name are fine")
    }

    func testNameClashIs409BeforeBinding() throws {
        create("a")
        assertError(send("POST", "/proxies", #"{"name":"a","listen":"127.0.0.1:\#(port("a"))","upstream":"127.0.0.1:9"}"#),
                    409, "proxy already exists")
        // Body checks come first.
        assertError(send("POST", "/proxies", #"{"name":"a"}"#), 400, "missing required field: upstream")
    }

    func testPortClashIs500() throws {
        let (fd, taken) = try occupiedPort()
        defer { close(fd) }
        assertError(send("POST", "/proxies", #"{"name":"b","listen":"127.0.0.1:\#(taken)","upstream":"127.0.0.1:9"}"#),
                    500, "listen tcp 127.0.0.1:\(taken): bind: address already in use")
        XCTAssertNil(plane.proxies["b"])
        create("a")
        assertError(send("POST", "/proxies", #"{"name":"c","listen":"127.0.0.1:\#(port("a"))","upstream":"127.0.0.1:9"}"#),
                    500, "listen tcp 127.0.0.1:\(port("a")): bind: address already in use")
        XCTAssertEqual(plane.proxies.keys.sorted(), ["a"])
    }
}
