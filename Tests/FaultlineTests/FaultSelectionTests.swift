@testable import Faultline
import XCTest

final class FaultSelectionTests: XCTestCase {
    private func decisions(_ text: String, seed: UInt64, links: Int = 200) throws -> [Bool] {
        let fault = try Fault(parsing: FaultSpec(parsing: text))
        return (1...links).map { FaultSelection.applies(fault, ordinal: $0, linkID: UInt64($0), seed: seed) }
    }

    func testSameSeedSameDecisionsOtherSeedOthers() throws {
        let first = try decisions("tcp.reset_peer:probability=0.5", seed: 42)
        XCTAssertEqual(first, try decisions("tcp.reset_peer:probability=0.5", seed: 42))
        XCTAssertNotEqual(first, try decisions("tcp.reset_peer:probability=0.5", seed: 43))
        let hits = first.filter { $0 }.count
        XCTAssertTrue((70...130).contains(hits), "\(hits) of 200 at p=0.5")
    }

    func testProbabilityZeroAndOne() throws {
        XCTAssertFalse(try decisions("tcp.latency:probability=0", seed: 1).contains(true))
        XCTAssertFalse(try decisions("tcp.latency:probability=1", seed: 1).contains(false))
    }

    func testFirstAndEvery() throws {
        XCTAssertEqual(try decisions("tcp.latency:first=3", seed: 1, links: 6), [true, true, true, false, false, false])
        XCTAssertEqual(try decisions("tcp.latency:every=3", seed: 1, links: 7), [false, false, true, false, false, true, false])
        XCTAssertEqual(try decisions("tcp.latency:first=4,every=2", seed: 1, links: 6), [false, true, false, true, false, false])
    }

    func testFaultsWithDifferentNamesDecideIndependently() throws {
        let a = try decisions("tcp.reset_peer:probability=0.5,name=a", seed: 7)
        let b = try decisions("tcp.reset_peer:probability=0.5,name=b", seed: 7)
        XCTAssertNotEqual(a, b)
    }
}
