@testable import Faultline
import Logging
import XCTest

/// `/scenarios` through `ControlAPI.handle`: bodies checked as `faultline check` checks them,
/// one scenario at a time, its state while it runs and after. The loop runs only where the
/// scenario's timer must fire.
final class ScenarioControlTests: XCTestCase {
    private var loop: EventLoop!
    private var plane: ControlPlane!
    private var api: ControlAPI!

    override func setUpWithError() throws {
        loop = try EventLoop()
        let log = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        plane = ControlPlane(loop: loop, bus: EventBus(), seed: 7, log: log)
        api = ControlAPI(plane: plane, scenarios: ScenarioControl(plane: plane, log: log), token: nil, log: log)
    }

    override func tearDown() {
        send("DELETE", "/scenarios/current")
        plane.shutdown(grace: .zero) {}
        runLoop(for: .milliseconds(20))
        api = nil
        plane = nil
        loop = nil
    }

    static func scenario(name: String = "t", phase: String = "500ms", expect: String = "") -> String {
        """
        name: \(name)
        proxies:
          p:
            listen: 127.0.0.1:0
            upstream: 127.0.0.1:9
        timeline:
          - phase: one
            for: \(phase)
            faults:
              - tcp.latency: { ms: 10 }
          - phase: two
            for: \(phase)
        \(expect)
        """
    }

    @discardableResult
    func send(_ method: String, _ path: String, _ body: String = "", contentType: String? = nil) -> APIResponse {
        let headers = contentType.map { [(name: "Content-Type", value: $0)] } ?? []
        guard case .response(let response) = api.handle(APIRequest(method: method, path: path, headers: headers,
                                                                   body: Array(body.utf8))) else {
            XCTFail("a stream")
            return APIResponse(status: 0)
        }
        return response
    }

    func text(_ response: APIResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    func object(_ response: APIResponse) -> JSONObject {
        guard case .object(let object)? = try? JSONParser.parse(response.body) else {
            XCTFail("not a JSON object: \(text(response))")
            return JSONObject()
        }
        return object
    }

    func runLoop(for duration: Duration) {
        let stop = Timer(loop: loop) { [loop] in loop?.stop() }
        stop.schedule(after: duration)
        loop.run()
    }

    func assertError(_ response: APIResponse, _ status: Int, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, file: file, line: line)
        XCTAssertEqual(text(response), #"{"error":"\#(message)","status":\#(status)}"# + "\n", file: file, line: line)
    }

    // MARK: refusals

    /// POST /reset, which test suites send between tests, leaves a playing scenario's proxies
    /// and their timeline faults alone; the API's own proxies are reset.
    func testResetLeavesAPlayingScenarioAlone() {
        XCTAssertEqual(send("POST", "/scenarios", Self.scenario(phase: "30s")).status, 201)
        XCTAssertEqual(send("POST", "/proxies", #"{"name":"mine","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}"#).status, 201)
        XCTAssertEqual(send("POST", "/proxies/mine/toxics", #"{"type":"latency","attributes":{"latency":5}}"#).status, 200)
        XCTAssertEqual(send("POST", "/reset").status, 204)
        XCTAssertEqual(plane.proxies["p"]?.faults.map(\.kind.name), ["tcp.latency"], "the scenario's phase fault stays")
        XCTAssertEqual(plane.proxies["mine"]?.faults.count, 0)
        XCTAssertEqual(send("DELETE", "/scenarios/current").status, 200)
    }

    /// A toxic may not take the name of a fault a later phase places: that phase would fail to
    /// start (or its end would remove the user's toxic).
    func testToxicsCannotTakeTheTimelinesFaultNames() {
        let yaml = """
            name: later
            proxies:
              p: { listen: "127.0.0.1:0", upstream: "127.0.0.1:9" }
            timeline:
              - phase: one
                for: 30s
              - phase: two
                for: 1s
                faults:
                  - tcp.latency: { ms: 10, name: slow }
            """
        XCTAssertEqual(send("POST", "/scenarios", yaml).status, 201)
        let taken = send("POST", "/proxies/p/toxics", #"{"type":"latency","name":"slow"}"#)
        XCTAssertEqual(taken.status, 409)
        XCTAssertEqual(text(taken), #"{"error":"toxic name slow is used by the playing scenario's timeline on proxy p; give the toxic another name","status":409}"# + "\n")
        XCTAssertEqual(send("POST", "/proxies/p/toxics", #"{"type":"latency","name":"mine"}"#).status, 200)
        XCTAssertEqual(send("DELETE", "/scenarios/current").status, 200)
    }

    func testNothingStartedYet() {
        assertError(send("GET", "/scenarios/current"), 404, "no scenario has been started")
        assertError(send("DELETE", "/scenarios/current"), 404, "no scenario is running")
    }

    func testBrokenScenarioListsEveryError() {
        let response = send("POST", "/scenarios", "proxies: {}\ntimelin: []\n", contentType: "application/yaml")
        XCTAssertEqual(response.status, 400)
        let errors = [
            "scenario:1:1: proxies: expected at least one proxy",
            "scenario:1:1: missing key 'timeline' (the phases to play, in order)",
            "scenario:2:1: unknown key 'timelin' in the scenario (did you mean 'timeline'?)",
        ]
        let expected = JSONValue.object(JSONObject([
            "error": .string("the scenario has 3 errors: \(errors[0])"), "status": .int(400),
            "errors": .array(errors.map(JSONValue.string)),
        ]))
        XCTAssertEqual(text(response), expected.text + "\n")
        XCTAssertEqual(response.headers.first { $0.name == "Content-Type" }?.value, "text/plain; charset=utf-8")
        XCTAssertNotNil(response.headers.first { $0.name == "X-Toxiproxy-Request-Id" })

        let one = send("POST", "/scenarios", Self.scenario().replacingOccurrences(of: "for: 500ms\n    faults", with: "for: soon\n    faults"))
        XCTAssertEqual(one.status, 400)
        guard case .array(let list)? = object(one)["errors"], list.count == 1, case .string(let first) = list[0] else {
            return XCTFail(text(one))
        }
        XCTAssertTrue(first.hasPrefix("scenario:8:10: "), first)
        XCTAssertEqual(object(one)["error"], .string("the scenario has 1 error: \(first)"))

        let syntax = send("POST", "/scenarios", "proxies: [\n")
        XCTAssertEqual(syntax.status, 400)
        guard case .array(let syntaxErrors)? = object(syntax)["errors"], case .string(let message)? = syntaxErrors.first else {
            return XCTFail(text(syntax))
        }
        XCTAssertTrue(message.hasPrefix("scenario:"), message)
        XCTAssertTrue(plane.proxies.isEmpty)
    }

    func testBodyErrors() {
        assertError(send("POST", "/scenarios"), 400, "bad request body: EOF")
        // Blank is as empty as nothing (as /proxies reads it), not "not UTF-8".
        assertError(send("POST", "/scenarios", " \n"), 400, "bad request body: EOF")
        guard case .response(let response) = api.handle(APIRequest(method: "POST", path: "/scenarios", body: [0x6E, 0xFF])) else {
            return XCTFail("a stream")
        }
        assertError(response, 400, "bad request body: a scenario must be UTF-8 YAML or JSON text")
    }

    func testProxyNameTaken() {
        let made = send("POST", "/proxies", #"{"name":"p","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}"#)
        XCTAssertEqual(made.status, 201)
        assertError(send("POST", "/scenarios", Self.scenario()), 409, "proxy p already exists; delete it or rename the scenario's")
        assertError(send("GET", "/scenarios/current"), 404, "no scenario has been started")
    }

    // MARK: running

    func testJSONBodyStartsAndOneRunsAtATime() {
        let json = #"{"name":"j","seed":3,"proxies":{"p":{"listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}},"timeline":[{"phase":"one","for":"1s"}]}"#
        let started = send("POST", "/scenarios", json, contentType: "application/json")
        XCTAssertEqual(started.status, 201, text(started))
        let state = object(started)
        XCTAssertEqual(state.keys, ["name", "state", "seed", "elapsed", "duration", "phase", "phases", "proxies", "verdicts"])
        XCTAssertEqual(state["name"], .string("j"))
        XCTAssertEqual(state["state"], .string("running"))
        XCTAssertEqual(state["seed"], .number("3"))
        XCTAssertEqual(state["duration"], .number("1.000"))
        XCTAssertEqual(state["phase"], .string("one"))
        XCTAssertEqual(state["proxies"], .array([.string("p")]))
        XCTAssertEqual(state["phases"], .array([.object(JSONObject([
            "name": .string("one"), "start": .number("0.000"), "for": .number("1.000"), "state": .string("running")]))]))
        XCTAssertTrue(plane.proxies["p"]?.isEnabled ?? false, "the scenario's proxy listens")
        XCTAssertEqual(send("GET", "/proxies/p").status, 200)
        // A scenario's proxies stay while it runs.
        let delete = send("DELETE", "/proxies/p")
        XCTAssertEqual(delete.status, 409)
        XCTAssertTrue(text(delete).hasPrefix(#"{"error":"proxy p belongs to the running scenario"#), text(delete))

        assertError(send("POST", "/scenarios", Self.scenario(name: "second")), 409,
                    "scenario j is running; DELETE /scenarios/current stops it")
        XCTAssertEqual(object(send("GET", "/scenarios/current"))["state"], .string("running"))

        let stopped = send("DELETE", "/scenarios/current")
        XCTAssertEqual(stopped.status, 200, text(stopped))
        XCTAssertEqual(object(stopped)["state"], .string("stopped"))
        XCTAssertEqual(object(stopped)["phase"], .null)
        runLoop(for: .milliseconds(50))
        XCTAssertNil(plane.proxies["p"], "the scenario's proxies leave with it")
        XCTAssertEqual(object(send("GET", "/scenarios/current"))["state"], .string("stopped"), "the last state stays readable")
        assertError(send("DELETE", "/scenarios/current"), 404, "no scenario is running")
    }

    func testScenarioPlaysToItsEnd() {
        let started = send("POST", "/scenarios", Self.scenario(phase: "100ms", expect: "expect:\n  - during: one\n    max_connection_attempts: 5\n"))
        XCTAssertEqual(started.status, 201, text(started))
        XCTAssertEqual(plane.proxies["p"]?.faults.map(\.kind.name), ["tcp.latency"], "phase one's fault is on")
        guard case .array(let verdicts)? = object(started)["verdicts"], case .object(let verdict)? = verdicts.first else {
            return XCTFail(text(started))
        }
        XCTAssertEqual(verdict.keys, ["label", "kind", "status", "observed", "final"])
        XCTAssertEqual(verdict["final"], .bool(false))
        runLoop(for: .milliseconds(600))
        let ended = object(send("GET", "/scenarios/current"))
        XCTAssertEqual(ended["state"], .string("passed"), ended.keys.description)
        XCTAssertEqual(ended["phase"], .null)
        guard case .array(let phases)? = ended["phases"] else { return XCTFail("no phases") }
        let phaseStates = phases.map { phase -> JSONValue? in
            guard case .object(let fields) = phase else { return nil }
            return fields["state"]
        }
        XCTAssertEqual(phaseStates, [.string("done"), .string("done")])
        guard case .array(let finals)? = ended["verdicts"], case .object(let last)? = finals.first else { return XCTFail("no verdicts") }
        XCTAssertEqual(last["final"], .bool(true))
        XCTAssertEqual(last["status"], .string("pass"))
        XCTAssertNil(plane.proxies["p"])
        assertError(send("DELETE", "/scenarios/current"), 404, "no scenario is running")
        // The next may start now.
        XCTAssertEqual(send("POST", "/scenarios", Self.scenario(name: "again")).status, 201)
    }
}
