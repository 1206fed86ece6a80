@testable import Faultline
import Glibc
import XCTest

/// `ControlAPITests` continued: toxics, /populate and /reset (the file was getting long).
extension ControlAPITests {
    func toxicText(_ name: String, type: String, stream: String = "downstream", toxicity: String = "1",
                   attributes: String) -> String {
        #"{"attributes":{\#(attributes)},"name":"\#(name)","type":"\#(type)","stream":"\#(stream)","toxicity":\#(toxicity)}"#
    }

    @discardableResult
    func addToxic(_ body: String, to proxy: String = "a") -> APIResponse {
        let response = send("POST", "/proxies/\(proxy)/toxics", body)
        XCTAssertEqual(response.status, 200, "\(body): \(text(response))")
        return response
    }

    // MARK: toxics

    /// Toxiproxy's bandwidth `rate` is KB/s of 1000 bytes (a millisecond per `rate` bytes); the
    /// same body must give the same rate here, and read back as sent.
    func testBandwidthRateIsToxiprosKilobytes() {
        create("a")
        let toxic = addToxic(#"{"type":"bandwidth","attributes":{"rate":100}}"#)
        XCTAssertEqual(text(toxic), toxicText("bandwidth_downstream", type: "bandwidth", attributes: #""rate":100"#))
        XCTAssertEqual(plane.proxies["a"]?.faults.first?.values["rate"], .count(100_000))
    }

    /// A number with a huge exponent is refused as written, at once (the JSON fuzzer found it
    /// expanded into gigabytes of zeros).
    func testHugeExponentIsRefusedAsWritten() {
        XCTAssertEqual(send("POST", "/proxies", #"{"name":"h","listen":"127.0.0.1:0","upstream":"127.0.0.1:9","protocol":"http"}"#).status, 201)
        let answer = send("POST", "/proxies/h/toxics", #"{"type":"http.respond","attributes":{"status":4e77777777777}}"#)
        XCTAssertEqual(answer.status, 400)
        XCTAssertTrue(text(answer).contains("4e77777777777"), text(answer))
    }

    /// Toxic names go into the same URLs, logs and labels as proxy names, under the same rules;
    /// `tcp.latency` is Toxiproxy's `latency` under faultline's name, and errors say so.
    func testToxicNamesAndTheTCPAliases() {
        create("a")
        for name in ["a/b", "..", ".", "line\nbreak"] {
            let body = JSONValue.object(JSONObject(["type": .string("latency"), "name": .string(name)])).text
            assertError(send("POST", "/proxies/a/toxics", body), 400,
                        "bad request body: name: '\(name)' cannot name a toxic: use printable characters without '/', at most 200 bytes, not . or ..")
        }
        XCTAssertEqual(plane.proxies["a"]?.faults.count, 0)
        assertError(send("POST", "/proxies/a/toxics", #"{"type":"tcp.latency","attributes":{"ms":100}}"#), 400,
                    "bad request body: attributes.ms: tcp.latency (tcp.latency is Toxiproxy's latency here: its attributes and units) has no such attribute; its attributes: latency, jitter")
        let alias = addToxic(#"{"type":"tcp.latency","attributes":{"latency":100}}"#)
        XCTAssertEqual(text(alias), toxicText("tcp.latency_downstream", type: "latency", attributes: #""latency":100,"jitter":0"#))
    }

    func testToxicDefaults() {
        create("a")
        let latency = addToxic(#"{"type":"latency"}"#)
        XCTAssertEqual(text(latency), toxicText("latency_downstream", type: "latency", attributes: #""latency":0,"jitter":0"#))
        XCTAssertEqual(header(latency, "Content-Type"), "application/json")
        XCTAssertNotNil(header(latency, "X-Toxiproxy-Request-Id"))
        XCTAssertEqual(text(send("GET", "/proxies/a/toxics/latency_downstream")), text(latency))
        XCTAssertEqual(text(send("GET", "/proxies/a")), proxyText("a", toxics: "[\(text(latency))]"))
    }

    /// Every Toxiproxy type shows all its attributes, in Toxiproxy's order, the ones not given as 0.
    func testEveryToxiproxyTypeShowsItsAttributes() {
        create("a")
        let cases: [(body: String, name: String, type: String, attributes: String)] = [
            (#"{"type":"latency","attributes":{"jitter":5}}"#, "latency_downstream", "latency", #""latency":0,"jitter":5"#),
            (#"{"type":"bandwidth","stream":"upstream","attributes":{"rate":100}}"#, "bandwidth_upstream", "bandwidth", #""rate":100"#),
            (#"{"type":"slow_close","attributes":{"delay":10}}"#, "slow_close_downstream", "slow_close", #""delay":10"#),
            (#"{"type":"timeout","name":"t"}"#, "t", "timeout", #""timeout":0"#),
            (#"{"type":"reset_peer","name":"r","attributes":{"timeout":100}}"#, "r", "reset_peer", #""timeout":100"#),
            (#"{"type":"slicer","attributes":{"average_size":10}}"#, "slicer_downstream", "slicer",
             #""average_size":10,"size_variation":0,"delay":0"#),
            (#"{"type":"limit_data","attributes":{"bytes":1000}}"#, "limit_data_downstream", "limit_data", #""bytes":1000"#),
        ]
        for (body, name, type, attributes) in cases {
            let stream = name.hasSuffix("_upstream") ? "upstream" : "downstream"
            XCTAssertEqual(text(addToxic(body)), toxicText(name, type: type, stream: stream, attributes: attributes), body)
        }
    }

    func testToxicFields() {
        create("a")
        XCTAssertEqual(text(addToxic(#"{"type":"latency","stream":"UpStream","toxicity":0.5,"attributes":{"latency":100}}"#)),
                       toxicText("latency_upstream", type: "latency", stream: "upstream", toxicity: "0.5",
                                 attributes: #""latency":100,"jitter":0"#))
        XCTAssertEqual(text(addToxic(#"{"name":"tenth","type":"latency","toxicity":0.1,"attributes":null}"#)),
                       toxicText("tenth", type: "latency", toxicity: "0.1", attributes: #""latency":0,"jitter":0"#))
        // A disabled proxy takes toxics too.
        send("PATCH", "/proxies/a", #"{"enabled":false}"#)
        addToxic(#"{"type":"timeout"}"#)
    }

    func testToxicListOrderIsUpstreamFirst() {
        create("a")
        XCTAssertEqual(text(send("GET", "/proxies/a/toxics")), "[]")
        addToxic(#"{"name":"d1","type":"latency"}"#)
        addToxic(#"{"name":"u1","type":"latency","stream":"upstream"}"#)
        addToxic(#"{"name":"d2","type":"timeout"}"#)
        addToxic(#"{"name":"u2","type":"timeout","stream":"upstream"}"#)
        let names = { (response: APIResponse) -> [String] in
            guard case .array(let items)? = try? JSONParser.parse(response.body) else { return [] }
            return items.compactMap { item in
                guard case .object(let object) = item, case .string(let name)? = object["name"] else { return nil }
                return name
            }
        }
        XCTAssertEqual(names(send("GET", "/proxies/a/toxics")), ["u1", "u2", "d1", "d2"])
        XCTAssertEqual(send("DELETE", "/proxies/a/toxics/u1").status, 204)
        XCTAssertEqual(names(send("GET", "/proxies/a/toxics")), ["u2", "d1", "d2"])
        assertError(send("DELETE", "/proxies/a/toxics/u1"), 404, "toxic not found")
        assertError(send("GET", "/proxies/a/toxics/u1"), 404, "toxic not found")
        assertError(send("POST", "/proxies/a/toxics/u1", "{}"), 404, "toxic not found")
    }

    func testToxicErrors() {
        create("a")
        addToxic(#"{"type":"latency"}"#)
        let stream = "stream was invalid, can be either upstream or downstream"
        let cases: [(String, Int, String)] = [
            ("", 400, "bad request body: EOF"),
            ("{bad}", 400, "bad request body: invalid JSON at line 1, column 2: a key in double quotes was expected"),
            ("[]", 400, "bad request body: a toxic must be a JSON object"),
            (#"{"type":"latency","stream":"sideways"}"#, 400, stream),
            (#"{"type":"latency","stream":""}"#, 400, stream),
            (#"{"type":"nope","stream":"sideways"}"#, 400, stream),
            (#"{"type":"nope"}"#, 400, "invalid toxic type"),
            ("{}", 400, "invalid toxic type"),
            (#"{"type":"noop"}"#, 400, "invalid toxic type"),
            (#"{"type":"nope","name":"latency_downstream"}"#, 400, "invalid toxic type"),
            (#"{"type":"latency"}"#, 409, "toxic already exists"),
            (#"{"type":"timeout","name":"latency_downstream","stream":"upstream"}"#, 409, "toxic already exists"),
            (#"{"type":"latency","name":7}"#, 400, "bad request body: name must be text, not a number"),
            (#"{"type":"latency","name":"x","toxicity":"x"}"#, 400, "bad request body: toxicity must be a number, not text"),
            (#"{"type":"latency","name":"x","attributes":[1]}"#, 400, "bad request body: attributes must be an object, not a list"),
            (#"{"type":"latency","name":"x","strem":"up"}"#, 400,
             "bad request body: unknown field 'strem' (did you mean 'stream'?); known fields: name, type, stream, toxicity, attributes"),
        ]
        for (body, status, message) in cases {
            assertError(send("POST", "/proxies/a/toxics", body), status, message)
        }
        assertError(send("POST", "/proxies/zz/toxics", #"{"type":"latency"}"#), 404, "proxy not found")
        XCTAssertEqual(plane.proxies["a"]?.faults.map(\.name), ["latency_downstream"])
    }

    func testToxicRangeErrorsNameTheField() {
        create("a")
        let cases: [(String, String)] = [
            (#"{"type":"latency","toxicity":2}"#, "toxicity: '2' is out of range: probabilities go from 0 to 1"),
            (#"{"type":"latency","toxicity":-1}"#, "toxicity: '-1' is out of range: probabilities go from 0 to 1"),
            (#"{"type":"latency","attributes":{"latency":-100}}"#,
             "attributes.latency: '-100' is out of range: durations go from 0 to 8760h (1 year)"),
            (#"{"type":"latency","attributes":{"latency":"x"}}"#, "attributes.latency must be a whole number, not text"),
            (#"{"type":"latency","attributes":{"latency":1.5}}"#, "attributes.latency must be a whole number, not 1.5"),
            (#"{"type":"latency","attributes":{"latnecy":1}}"#,
             "attributes.latnecy: latency has no such attribute (did you mean 'latency'?); its attributes: latency, jitter"),
            (#"{"type":"bandwidth","attributes":{"rate":0}}"#, "attributes.rate: '0' is out of range: rates go from 1B to 100GB per second"),
            (#"{"type":"bandwidth"}"#, "attributes.rate: '0' is out of range: rates go from 1B to 100GB per second"),
            (#"{"type":"slicer"}"#, "attributes.average_size: must be at least 1"),
        ]
        for (body, message) in cases {
            assertError(send("POST", "/proxies/a/toxics", body), 400, "bad request body: \(message)")
        }
        XCTAssertEqual(plane.proxies["a"]?.faults.count, 0)
    }

    /// Numbers reach the fault as written: any toxicity from 0 to 1 is taken (and shown as Go
    /// shows a float32); a byte count past 1e15 is judged by its value, not refused as text.
    func testNumbersReachTheFaultAsWritten() {
        create("a")
        XCTAssertEqual(text(addToxic(#"{"name":"tiny","type":"latency","toxicity":0.00001}"#)),
                       toxicText("tiny", type: "latency", toxicity: "0.00001", attributes: #""latency":0,"jitter":0"#))
        XCTAssertEqual(text(addToxic(#"{"name":"tinier","type":"latency","toxicity":1e-7}"#)),
                       toxicText("tinier", type: "latency", toxicity: "1e-7", attributes: #""latency":0,"jitter":0"#))
        for bytes in ["999999999999999", "1000000000000000", "9007199254740993"] {
            assertError(send("POST", "/proxies/a/toxics", #"{"type":"limit_data","attributes":{"bytes":\#(bytes)}}"#), 400,
                        "bad request body: attributes.bytes: '\(bytes)' is out of range: sizes go from 0 to 1TB")
        }
    }

    func testToxicUpdateMergesAndIsAllOrNothing() {
        create("a")
        addToxic(#"{"type":"latency","toxicity":0.5,"attributes":{"latency":100}}"#)
        let path = "/proxies/a/toxics/latency_downstream"
        XCTAssertEqual(text(send("POST", path, #"{"attributes":{"jitter":5}}"#)),
                       toxicText("latency_downstream", type: "latency", toxicity: "0.5", attributes: #""latency":100,"jitter":5"#))
        // name, type and stream in the body are not read; toxicity replaces.
        XCTAssertEqual(text(send("PATCH", path, #"{"name":"other","type":"timeout","stream":"upstream","toxicity":0.25}"#)),
                       toxicText("latency_downstream", type: "latency", toxicity: "0.25", attributes: #""latency":100,"jitter":5"#))
        let before = text(send("GET", path))
        XCTAssertEqual(text(send("POST", path, "{}")), before)
        assertError(send("POST", path, #"{"toxicity":0.3,"attributes":{"latency":"x","jitter":9}}"#), 400,
                    "bad request body: attributes.latency must be a whole number, not text")
        XCTAssertEqual(text(send("GET", path)), before, "a refused update changes nothing")
        assertError(send("POST", path, #"{"toxicity":7}"#), 400,
                    "bad request body: toxicity: '7' is out of range: probabilities go from 0 to 1")
        XCTAssertEqual(text(send("GET", path)), before)
        assertError(send("POST", "/proxies/zz/toxics/latency_downstream", "{}"), 404, "proxy not found")
    }

    func testFaultlineKinds() {
        let http = send("POST", "/proxies", #"{"name":"h","listen":"127.0.0.1:0","upstream":"127.0.0.1:9","protocol":"http"}"#)
        XCTAssertEqual(http.status, 201)
        let respond = addToxic(#"{"type":"http.respond","attributes":{"status":404,"match":{"path":"/api/v2/*"}}}"#, to: "h")
        XCTAssertEqual(text(respond), #"{"attributes":{"status":404,"path":"/api/v2/*"},"name":"http.respond","type":"http.respond","stream":"downstream","toxicity":1}"#)
        XCTAssertEqual(plane.proxies["h"]?.faults.map(\.kind.name), ["http.respond"])
        create("a")
        assertError(send("POST", "/proxies/a/toxics", #"{"type":"redis.error","attributes":{"error":"LOADING"}}"#), 400,
                    #"bad request body: redis.error acts on Redis commands, and proxy a speaks tcp: create the proxy with "protocol":"redis" (faultline ctl create … --protocol redis)"#)
        XCTAssertEqual(plane.proxies["a"]?.faults.count, 0)
    }

    // MARK: populate

    func testPopulate() {
        for body in ["[]", "null"] {
            let empty = send("POST", "/populate", body)
            XCTAssertEqual(empty.status, 201)
            XCTAssertEqual(text(empty), #"{"proxies":null}"#)
            XCTAssertEqual(header(empty, "Content-Type"), "application/json")
            XCTAssertNil(header(empty, "X-Content-Type-Options"))
        }
        let list = #"[{"name":"p1","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"},{"name":"p2","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}]"#
        let made = send("POST", "/populate", list)
        XCTAssertEqual(made.status, 201)
        XCTAssertEqual(text(made), #"{"proxies":[\#(proxyText("p1")),\#(proxyText("p2"))]}"#)
        create("other")
        addToxic(#"{"type":"latency"}"#, to: "p1")
        addToxic(#"{"type":"latency"}"#, to: "p2")
        let (p1, p2) = (plane.proxies["p1"], plane.proxies["p2"])
        // p1 unchanged: kept, toxic and all; p2's upstream differs: replaced, toxics gone.
        let again = send("POST", "/populate",
                         #"[{"name":"p1","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"},{"name":"p2","listen":"127.0.0.1:0","upstream":"127.0.0.1:10"}]"#)
        XCTAssertEqual(again.status, 201, text(again))
        XCTAssertTrue(plane.proxies["p1"] === p1)
        XCTAssertFalse(plane.proxies["p2"] === p2)
        XCTAssertEqual(plane.proxies["p1"]?.faults.count, 1)
        XCTAssertEqual(plane.proxies["p2"]?.faults.count, 0)
        XCTAssertEqual(plane.proxies["p2"]?.upstream.description, "127.0.0.1:10")
        XCTAssertEqual(plane.proxies.keys.sorted(), ["other", "p1", "p2"], "proxies not listed stay")
    }

    func testPopulateValidatesEverythingFirst() {
        let cases: [(String, String)] = [
            (#"[{"name":"n1","upstream":"127.0.0.1:9"},{"upstream":"127.0.0.1:9"}]"#, "missing required field: name at proxy 2"),
            (#"[{"name":"n1","upstream":"127.0.0.1:9"},{"name":"n2"}]"#, "missing required field: upstream at proxy 2"),
            (#"[{"name":"n1","upstream":"127.0.0.1:9"},"n2"]"#, "bad request body: proxy 2 must be an object, not text"),
            (#"{"name":"n1","upstream":"127.0.0.1:9"}"#, "bad request body: the body must be a JSON list of proxies, not an object"),
            ("", "bad request body: EOF"),
            (#"[{"name":"n1","upstream":"127.0.0.1:9"},{"name":"n1","upstream":"127.0.0.1:9"}]"#,
             "bad request body: proxy 2: the name n1 is given twice"),
        ]
        for (body, message) in cases {
            let response = send("POST", "/populate", body)
            XCTAssertEqual(response.status, 400, body)
            XCTAssertEqual(text(response), JSONValue.object(JSONObject([
                "error": .string(message), "status": .int(400), "proxies": .null])).text, body)
            XCTAssertEqual(header(response, "Content-Type"), "application/json")
        }
        XCTAssertTrue(plane.proxies.isEmpty, "nothing applied")
    }

    func testPopulateStopsAtABindFailure() throws {
        let (fd, taken) = try occupiedPort()
        defer { close(fd) }
        let response = send("POST", "/populate",
                            #"[{"name":"q1","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"},{"name":"q2","listen":"127.0.0.1:\#(taken)","upstream":"127.0.0.1:9"},{"name":"q3","upstream":"127.0.0.1:9"}]"#)
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(text(response),
                       #"{"error":"listen tcp 127.0.0.1:\#(taken): bind: address already in use","status":500,"proxies":[\#(proxyText("q1"))]}"#)
        XCTAssertEqual(plane.proxies.keys.sorted(), ["q1"])
    }

    // MARK: reset

    func testResetRemovesToxicsAndEnables() {
        create("a")
        create("b")
        addToxic(#"{"type":"latency"}"#)
        addToxic(#"{"type":"timeout","stream":"upstream"}"#, to: "b")
        XCTAssertEqual(send("POST", "/proxies/b", #"{"enabled":false}"#).status, 200)
        XCTAssertFalse(plane.proxies["b"]?.isEnabled ?? true)
        let reset = send("POST", "/reset", "garbage, ignored")
        XCTAssertEqual(reset.status, 204)
        XCTAssertTrue(reset.body.isEmpty)
        XCTAssertNil(header(reset, "Content-Type"))
        XCTAssertEqual(text(send("GET", "/proxies")), #"{"a":\#(proxyText("a")),"b":\#(proxyText("b"))}"#)
        XCTAssertTrue(plane.proxies.values.allSatisfy(\.isEnabled))
        XCTAssertEqual(plane.proxies.keys.sorted(), ["a", "b"], "reset deletes nothing")
    }
}
