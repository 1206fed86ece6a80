import Faultline
import Foundation
import XCTest

final class ToxicTests: XCTestCase {
    private func decode(_ json: String) throws -> Toxic {
        try JSONDecoder().decode(Toxic.self, from: Data(json.utf8))
    }

    func testToxiproxyLatencyToxicBecomesTcpLatency() throws {
        let toxic = try decode(#"{"name":"slow","type":"latency","stream":"upstream","toxicity":0.5,"attributes":{"latency":100,"jitter":5}}"#)
        let fault = try Fault(toxic: toxic)
        XCTAssertEqual(fault.kind.name, "tcp.latency")
        XCTAssertEqual(fault.name, "slow")
        XCTAssertEqual(fault.direction, .upstream)
        XCTAssertEqual(fault.probability, 0.5)
        XCTAssertEqual(fault.toxic, toxic)
    }

    func testEveryToxiproxyTypeRoundTrips() throws {
        let toxics = [
            #"{"name":"a","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":1000,"jitter":0}}"#,
            #"{"name":"b","type":"bandwidth","stream":"downstream","toxicity":1,"attributes":{"rate":100}}"#,
            #"{"name":"c","type":"slow_close","stream":"downstream","toxicity":1,"attributes":{"delay":2000}}"#,
            #"{"name":"d","type":"timeout","stream":"downstream","toxicity":1,"attributes":{"timeout":0}}"#,
            #"{"name":"e","type":"reset_peer","stream":"downstream","toxicity":1,"attributes":{"timeout":500}}"#,
            #"{"name":"f","type":"slicer","stream":"downstream","toxicity":1,"attributes":{"average_size":64,"size_variation":32,"delay":10}}"#,
            #"{"name":"g","type":"limit_data","stream":"upstream","toxicity":1,"attributes":{"bytes":1024}}"#,
        ]
        for json in toxics {
            let toxic = try decode(json)
            XCTAssertEqual(try Fault(toxic: toxic).toxic, toxic, json)
        }
    }

    func testToxiproxyDefaultStreamIsDownstream() throws {
        XCTAssertEqual(try Fault(toxic: decode(#"{"type":"timeout","attributes":{"timeout":100}}"#)).direction, .downstream)
    }

    func testFaultlineKindsUseTheirNamesAsType() throws {
        let fault = try Fault(toxic: decode(#"{"type":"tcp.cutoff","attributes":{"after":"2s","how":"rst","first":3}}"#))
        XCTAssertEqual(fault.kind.name, "tcp.cutoff")
        XCTAssertEqual(fault.first, 3)
        XCTAssertEqual(fault.toxic.attributes?["after"], .number(2000))
        XCTAssertEqual(fault.toxic.attributes?["how"], .text("rst"))
    }

    func testErrorsNameTheJSONField() throws {
        let cases = [
            #"{"type":"lag"}"#: "parameter 'type': unknown toxic type 'lag'",
            #"{"type":"latency","stream":"sideways"}"#: "parameter 'stream': 'sideways' is not one of upstream, downstream, both",
            #"{"type":"latency","toxicity":3}"#: "parameter 'toxicity': '3' is out of range: probabilities go from 0 to 1",
            #"{"type":"latency","attributes":{"latency":"soon"}}"#: "parameter 'attributes.latency': 'soon' is not a duration such as 250ms or 2s",
        ]
        for (json, message) in cases {
            XCTAssertThrowsError(try Fault(toxic: decode(json)), json) { XCTAssertEqual("\($0)", message) }
        }
    }
}
