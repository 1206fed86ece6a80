@testable import Faultline
import XCTest

/// The live view's counters: connections and requests of the last second, at the time asked.
final class RunStatusTests: XCTestCase {
    private func event(_ seconds: Double, _ kind: Event.Kind, link: UInt64 = 1) -> Event {
        Event(time: EventScript.time(seconds), proxy: "redis", link: link, kind: kind)
    }

    func testRequestsPerSecondCountsExchangesOfTheLastSecond() {
        let status = RunStatus()
        status.observe(event(1.0, .connectionOpened))
        for second in [1.0, 1.2, 1.5] { status.observe(event(second, .exchangeStarted)) }
        XCTAssertEqual(status.requestsPerSecond("redis", at: EventScript.time(1.6)), 3)
        XCTAssertEqual(status.requestsPerSecond("redis", at: EventScript.time(2.3)), 1)
        XCTAssertEqual(status.requestsPerSecond("redis", at: EventScript.time(2.6)), 0)
        XCTAssertEqual(status.connectionsPerSecond("redis", at: EventScript.time(1.9)), 1)
        XCTAssertEqual(status.connectionsPerSecond("redis", at: EventScript.time(2.1)), 0)
        XCTAssertEqual(status.requestsPerSecond("other", at: EventScript.time(1.6)), 0)
    }

    func testOldTimesAreDroppedAsNewOnesArrive() {
        let status = RunStatus()
        // 20,000 requests over 10 s: only the last second's 2,000 count, the rest are trimmed.
        for index in 0..<20_000 { status.observe(event(Double(index) / 2_000, .exchangeStarted)) }
        XCTAssertEqual(status.requestsPerSecond("redis", at: EventScript.time(9.9995)), 2_001)
    }
}
