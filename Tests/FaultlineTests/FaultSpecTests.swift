import Faultline
import XCTest

final class FaultSpecTests: XCTestCase {
    func testKindAndParametersInOrder() throws {
        let spec = try FaultSpec(parsing: "tcp.latency:ms=100,jitter=10")
        XCTAssertEqual(spec.kind, "tcp.latency")
        XCTAssertEqual(spec.parameters.map(\.name), ["ms", "jitter"])
        XCTAssertEqual(spec.parameters.map(\.value), ["100", "10"])
        XCTAssertEqual(try FaultSpec(parsing: "tcp.down").parameters, [])
    }

    func testSyntaxErrorsNameThePart() {
        let cases = [
            "latency": "invalid fault 'latency': expected LAYER.KIND[:key=value,…], e.g. tcp.latency:ms=100",
            "tcp.latency:ms": "invalid fault 'tcp.latency:ms': parameter 'ms' is not key=value",
            "tcp.latency:ms=1,ms=2": "invalid fault 'tcp.latency:ms=1,ms=2': parameter 'ms' is given twice",
            "tcp.latency:=5": "invalid fault 'tcp.latency:=5': parameter '=5' is not key=value",
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try FaultSpec(parsing: text), text) { XCTAssertEqual("\($0)", message) }
        }
    }

    func testUnknownKindIsRejectedByTheRegistry() throws {
        let spec = try FaultSpec(parsing: "tcp.lattency:ms=1")
        XCTAssertThrowsError(try Fault(parsing: spec)) { error in
            XCTAssertTrue("\(error)".hasPrefix("invalid fault 'tcp.lattency': unknown fault kind (did you mean 'tcp.latency'?); known kinds: tcp.latency, "), "\(error)")
        }
    }
}
