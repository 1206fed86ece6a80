import Faultline
import XCTest

final class FaultParsingTests: XCTestCase {
    private func fault(_ text: String) throws -> Fault {
        try Fault(parsing: FaultSpec(parsing: text))
    }

    private func message(_ text: String) -> String { InputCheck.faultMessage(text) }

    func testDefaultsNamesAndCommonParameters() throws {
        let latency = try fault("tcp.latency:ms=100,jitter=10")
        XCTAssertEqual(latency.name, "tcp.latency_downstream")
        XCTAssertEqual(latency.direction, .downstream)
        XCTAssertEqual(latency.probability, 1)
        XCTAssertEqual(latency.toxic.attributes?["latency"], .number(100))
        XCTAssertEqual(latency.toxic.attributes?["jitter"], .number(10))

        let cutoff = try fault("tcp.cutoff:after=2s,how=rst,first=3,every=2,probability=0.5,name=cut,direction=upstream")
        XCTAssertEqual(cutoff.name, "cut")
        XCTAssertEqual(cutoff.first, 3)
        XCTAssertEqual(cutoff.every, 2)
        XCTAssertEqual(cutoff.probability, 0.5)
        XCTAssertEqual(cutoff.direction, .upstream)
        XCTAssertEqual(try fault("tcp.timeout").direction, .both)
        XCTAssertEqual(try fault("tcp.timeout").name, "tcp.timeout_both")
        // A kind whose direction changes nothing is named by its kind alone.
        XCTAssertEqual(try fault("tcp.down:mode=reset").name, "tcp.down")
        XCTAssertEqual(try fault("tcp.cutoff:after=1s").name, "tcp.cutoff")
    }

    func testErrorsNameTheParameter() {
        XCTAssertEqual(message("tcp.latency:jiter=5"),
                       "invalid fault 'tcp.latency': parameter 'jiter': tcp.latency has no such parameter (did you mean 'jitter'?); it takes ms, jitter, name, direction, probability, first, every")
        XCTAssertEqual(message("tcp.latency:ms=fast"),
                       "invalid fault 'tcp.latency': parameter 'ms': 'fast' is not a duration such as 250ms or 2s")
        XCTAssertEqual(message("tcp.latency:probability=2"),
                       "invalid fault 'tcp.latency': parameter 'probability': '2' is out of range: probabilities go from 0 to 1")
        XCTAssertEqual(message("tcp.limit_data"), "invalid fault 'tcp.limit_data': parameter 'bytes': is required by tcp.limit_data")
        XCTAssertEqual(message("tcp.cutoff:how=fin"),
                       "invalid fault 'tcp.cutoff': parameter 'after': tcp.cutoff needs after or idle (or both) above 0")
        XCTAssertEqual(message("tcp.cutoff:after=1s,how=kill"),
                       "invalid fault 'tcp.cutoff': parameter 'how': 'kill' is not one of fin, rst, drop")
        XCTAssertEqual(message("tcp.down:first=2"),
                       "invalid fault 'tcp.down': parameter 'mode': refuse closes the whole port, so first, every and probability cannot pick connections; use mode=reset or mode=close")
        XCTAssertEqual(message("tcp.latency:first=0"), "invalid fault 'tcp.latency': parameter 'first': '0' is out of range: it goes from 1 to 2147483647")
        XCTAssertEqual(message("tcp.slicer:size=0"), "invalid fault 'tcp.slicer': parameter 'size': must be at least 1")
    }

    func testUnitsFollowToxiproxyForBareNumbers() throws {
        XCTAssertEqual(try fault("tcp.bandwidth:rate=100").toxic.attributes?["rate"], .number(100))
        XCTAssertEqual(try fault("tcp.bandwidth:rate=1MB").toxic.attributes?["rate"], .number(1024))
        XCTAssertEqual(try fault("tcp.slicer:size=64,delay=1ms").toxic.attributes?["delay"], .number(1000))
        XCTAssertEqual(try fault("tcp.slicer:size=64,delay=500").toxic.attributes?["delay"], .number(500))
        XCTAssertEqual(try fault("tcp.timeout:after=5s").toxic.attributes?["timeout"], .number(5000))
    }

    func testEveryKindsExampleParses() throws {
        for kind in FaultRegistry.kinds {
            XCTAssertEqual(try fault(kind.example).kind.name, kind.name)
        }
    }
}
